//! A small tour of the runtime for Miri (`cargo +nightly miri test -p tricolor-core --test miri`,
//! run by `.ci/run`): allocation, rooting and unrooting, a `GcCell` borrow and release, a
//! `GcSlot`, weak references, a finalizer and whole cycles, at sizes Miri can interpret in
//! seconds. Miri checks every access against Rust's aliasing and initialization rules, which the
//! native tests cannot.

use std::sync::atomic::{AtomicUsize, Ordering};
use tricolor_gc::{collect, run_finalizers, Finalize, Gc, GcCell, GcSlot, Trace};

static FINALIZED: AtomicUsize = AtomicUsize::new(0);

#[derive(Trace)]
struct Node {
    next: GcCell<Option<Gc<Node>>>,
    hot: GcSlot<u64>,
    name: String,
}
impl Finalize for Node {
    fn finalize(&self) {
        FINALIZED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_small_heap_through_whole_cycles() {
    let a = Gc::new(Node {
        next: GcCell::new(None),
        hot: GcSlot::new(Some(Gc::new(7))),
        name: "a".into(),
    });
    let b = Gc::new(Node {
        next: GcCell::new(Some(a.clone())),
        hot: GcSlot::new(None),
        name: "b".into(),
    });
    *a.next.borrow_mut() = Some(b.clone()); // a cycle
    b.hot.set(Some(Gc::new(8)));
    let w = Gc::downgrade(&b);
    // The shared slot outside the heap (its header is a static's).
    let never: tricolor_gc::Weak<Node> = tricolor_gc::Weak::new();
    assert!(never.clone().upgrade().is_none());
    let s: Gc<str> = Gc::from("str");
    let v: Gc<[Gc<u64>]> = Gc::from(vec![Gc::new(1), Gc::new(2)]);
    collect();
    assert_eq!(a.next.borrow().as_ref().unwrap().name, "b");
    assert_eq!(*b.hot.get().unwrap(), 8);
    assert_eq!((&*s, *v[1]), ("str", 2));
    drop((a, b));
    collect();
    run_finalizers();
    collect();
    assert!(w.upgrade().is_none());
    assert_eq!(FINALIZED.load(Ordering::SeqCst), 2);
}

#[derive(Trace, Finalize)]
struct SelfRef {
    me: tricolor_gc::Weak<SelfRef>,
    n: u32,
}

/// The paths #21 added that touch raw pointers: a `Weak` to an unsized object (its metadata
/// rebuilt on upgrade), `Gc::new_cyclic` (a slot published after the object is built), a
/// downcast, and a `GcWeakMap` whose value lives through its key and dies with it.
#[test]
fn weak_unsized_cyclic_downcast_and_ephemerons() {
    let s: Gc<str> = Gc::from("interned");
    let ws = Gc::downgrade(&s);
    assert_eq!(&*ws.upgrade().unwrap(), "interned");

    let c = Gc::new_cyclic(|me| SelfRef {
        me: me.clone(),
        n: 3,
    });
    assert_eq!(c.me.upgrade().unwrap().n, 3);

    let any: Gc<dyn std::any::Any + Send + Sync> = Gc::unsize(Gc::new(9u16), |x| x as _);
    assert_eq!(*any.downcast::<u16>().unwrap(), 9);

    let map: tricolor_gc::GcWeakMap<u8, String> = tricolor_gc::GcWeakMap::new();
    let key = Gc::new(1u8);
    let value = Gc::new(String::from("v"));
    let wv = Gc::downgrade(&value);
    map.insert(&key, value);
    collect();
    assert_eq!(*map.get(&key).unwrap(), "v");
    drop((key, s));
    collect();
    collect();
    assert!(wv.upgrade().is_none() && ws.upgrade().is_none());
    assert_eq!(map.len(), 0);
}

/// A vector grown by one thread (each push may move its buffer) while the main thread records
/// its edges and runs cycles whose markers scan it: stores made outside marking take no marker
/// word (`protocol::ScanGate`), and Miri's data-race check sees whether anything overlaps them.
#[test]
fn a_vec_grown_while_recorded_and_collected() {
    let v: Gc<tricolor_gc::GcVec<Gc<u64>>> = Gc::new(tricolor_gc::GcVec::new());
    let writer = {
        let v = v.clone();
        std::thread::spawn(move || {
            for i in 0..24u64 {
                v.push(Gc::new(i));
            }
        })
    };
    for k in 0..4 {
        let mut t = tricolor_gc::Tracer::recording();
        Trace::trace(&*v, &mut t);
        assert!(t.edges() <= 24);
        if k % 2 == 0 {
            collect();
        }
    }
    writer.join().unwrap();
    collect();
    assert_eq!(v.len(), 24);
    assert_eq!(v.view().iter().map(|g| **g).sum::<u64>(), (0..24).sum());
}

/// A vector that one thread has used alone long enough to own its lock (`biaslock`), filled
/// with `push_new`/`put_new`, then taken over by a second thread while the first keeps going:
/// Miri's race detector checks that the owner's plain-store sections are ordered with the
/// revoking thread's, and the sums that nothing was lost.
#[test]
fn a_vec_owned_by_one_thread_then_shared() {
    let v: Gc<tricolor_gc::GcVec<Gc<u64>>> = Gc::new(tricolor_gc::GcVec::new());
    for i in 0..300u64 {
        v.push_new(i);
    }
    v.put_new(0, 1000);
    let other = {
        let v = v.clone();
        std::thread::spawn(move || {
            for i in 0..8u64 {
                v.push_new(2000 + i);
            }
            v.put_new(1, 1001);
        })
    };
    for i in 0..8u64 {
        v.push_new(3000 + i);
    }
    other.join().unwrap();
    collect();
    assert_eq!(v.len(), 316);
    let sum: u64 = v.view().iter().map(|g| **g).sum();
    let expected =
        (2..300).sum::<u64>() + 1000 + 1001 + (2000..2008).sum::<u64>() + (3000..3008).sum::<u64>();
    assert_eq!(sum, expected);
}

/// Handles replaced without the containers' state word (`put_new`, `put` and `set` of a
/// `GcVec<Gc<_>>`, `put_new` and `insert` of a `GcMap<_, Gc<_>>` over a key already there) by
/// one thread while this one runs cycles whose markers scan the vector and the map: Miri's race
/// detector checks that only atomic accesses overlap (the replacements and the markers'
/// `trace_racy` loads), and Tree Borrows that no reference covers a handle being replaced.
#[test]
fn handles_replaced_while_cycles_mark_them() {
    use tricolor_gc::{GcMap, GcVec};
    const N: u64 = 96;
    let v: Gc<GcVec<Gc<u64>>> = Gc::new(GcVec::new());
    let m: Gc<GcMap<u64, Gc<u64>>> = Gc::new(GcMap::new());
    for i in 0..N {
        v.push_new(i);
        m.put_new(i, i);
    }
    let writer = {
        let (v, m) = (v.clone(), m.clone());
        std::thread::spawn(move || {
            for k in 0..2 * N {
                let i = k % N;
                let was = if k < N { i } else { 1000 + i };
                match k % 3 {
                    0 => v.put_new(i as usize, 1000 + k),
                    1 => v.put(i as usize, Gc::new(1000 + k)),
                    _ => assert_eq!(*v.set(i as usize, Gc::new(1000 + k)), was),
                }
                if k % 2 == 0 {
                    m.put_new(i, 1000 + k);
                } else {
                    assert_eq!(m.insert(i, Gc::new(1000 + k)).map(|g| *g), Some(was));
                }
            }
        })
    };
    while !writer.is_finished() {
        collect();
    }
    writer.join().unwrap();
    collect();
    let expected: u64 = (1000 + N..1000 + 2 * N).sum();
    assert_eq!(v.view().iter().map(|g| **g).sum::<u64>(), expected);
    assert_eq!(m.view().iter().map(|(_, g)| **g).sum::<u64>(), expected);
}

/// A vector outside the heap, shared through an `Arc` that sits in a vector inside the heap:
/// one thread grows the shared vector (its operations outside marking take no marker word)
/// while another pops and pushes back the `Arc`s (a pop while marking shades the `Arc`, whose
/// `Trace` leads to the shared vector) and this one runs cycles. Miri's race detector checks that
/// no shade reads the buffer being grown: marking tracers skip a store outside the heap, whose
/// elements are roots (`Elements::trace`; loom: `a_shade_never_reads_a_store_outside_the_heap`).
#[test]
fn a_shared_vec_behind_an_arc_grown_while_shades_reach_it() {
    use std::sync::Arc;
    use tricolor_gc::GcVec;
    const N: u64 = 48;
    let shared: Arc<GcVec<Gc<u64>>> = Arc::new(GcVec::new());
    let outer: Gc<GcVec<Arc<GcVec<Gc<u64>>>>> = Gc::new(GcVec::new());
    for _ in 0..4 {
        outer.push(shared.clone());
    }
    let writer = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            for i in 0..N {
                shared.push(Gc::new(i));
            }
        })
    };
    let shader = {
        let outer = outer.clone();
        std::thread::spawn(move || {
            for _ in 0..N {
                let a = outer.pop().expect("four arcs");
                outer.push(a);
            }
        })
    };
    while !writer.is_finished() || !shader.is_finished() {
        collect();
    }
    writer.join().unwrap();
    shader.join().unwrap();
    collect();
    assert_eq!(outer.len(), 4);
    assert_eq!(shared.view().iter().map(|g| **g).sum::<u64>(), (0..N).sum());
}
