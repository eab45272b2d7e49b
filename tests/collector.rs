//! The collector end to end: exact collection of cycles and lists, survival of reachable data,
//! handles moved out of borrowed cells, threads sharing one heap while cycles run, finalizers,
//! weak references, concurrent `collect()`.
//!
//! Tests in this binary run in parallel and share the heap, so every test counts its own drops.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::Counter;
use tricolor_gc::{collect, run_finalizers, Finalize, Gc, GcCell, GcSlot, Trace};

/// Counts its drops in a per-test counter.
#[derive(Trace, Finalize)]
struct Tally {
    #[gc(ignore)]
    _drops: Arc<AtomicUsize>,
}
impl Tally {
    fn new(c: &Arc<AtomicUsize>) -> Tally {
        Tally { _drops: c.clone() }
    }
}

#[derive(Trace, Finalize)]
struct Node {
    id: u64,
    next: GcCell<Option<Gc<Node>>>,
    #[gc(ignore)]
    _c: Counter,
}

fn node(id: u64, c: &Arc<AtomicUsize>) -> Gc<Node> {
    Gc::new(Node {
        id,
        next: GcCell::new(None),
        _c: Counter(c.clone()),
    })
}

#[test]
fn a_cycle_is_collected_exactly_once_unreachable() {
    let c = Arc::new(AtomicUsize::new(0));
    let a = node(1, &c);
    let b = node(2, &c);
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 0, "reachable cycle was freed");
    assert_eq!(a.next.borrow().as_ref().unwrap().id, 2);
    drop(a);
    collect();
    assert_eq!(
        c.load(Ordering::SeqCst),
        0,
        "cycle still reachable through b"
    );
    drop(b);
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 2);
}

#[test]
fn a_long_list_survives_then_is_freed_without_recursion() {
    let c = Arc::new(AtomicUsize::new(0));
    const N: u64 = 200_000;
    let head = node(0, &c);
    let mut tail = head.clone();
    for i in 1..N {
        let n = node(i, &c);
        *tail.next.borrow_mut() = Some(n.clone());
        tail = n;
    }
    drop(tail);
    for _ in 0..3 {
        collect();
    }
    assert_eq!(c.load(Ordering::SeqCst), 0);
    // The list is live through the last cycle, whichever test asked for it.
    let s = tricolor_gc::stats();
    assert!(s.last_scanned >= N, "scanned {} < {N}", s.last_scanned);
    assert!(!s.last_mark.is_zero());
    let mut sum = 0;
    let mut cur = Some(head.clone());
    while let Some(n) = cur {
        sum += n.id;
        cur = n.next.borrow().clone();
    }
    assert_eq!(sum, N * (N - 1) / 2);
    drop(head);
    collect();
    assert_eq!(c.load(Ordering::SeqCst), N as usize);
}

#[test]
fn reachable_data_survives_many_cycles_intact() {
    #[derive(Trace, Finalize)]
    struct Tree {
        val: u64,
        kids: Vec<Gc<Tree>>,
    }
    fn build(d: u32, v: &mut u64) -> Gc<Tree> {
        *v += 1;
        let val = *v;
        let kids = if d == 0 {
            vec![]
        } else {
            (0..3).map(|_| build(d - 1, v)).collect()
        };
        Gc::new(Tree { val, kids })
    }
    fn sum(t: &Tree) -> u64 {
        t.val + t.kids.iter().map(|k| sum(k)).sum::<u64>()
    }
    let mut v = 0;
    let t = build(7, &mut v);
    let expect = v * (v + 1) / 2;
    for round in 0..10 {
        // garbage in between, so cycles have something to free
        for i in 0..10_000 {
            let _ = Gc::new((i as u64, round));
        }
        collect();
        assert_eq!(sum(&t), expect, "round {round}");
    }
}

#[test]
fn a_handle_popped_out_of_a_borrowed_cell_survives() {
    let c = Arc::new(AtomicUsize::new(0));
    let holder = Gc::new(GcCell::new(vec![node(7, &c), node(8, &c)]));
    let popped = holder.borrow_mut().pop().unwrap();
    assert!(Gc::is_root(&popped));
    assert_eq!(Gc::root_count(&popped), 1);
    collect();
    collect();
    assert_eq!(popped.id, 8);
    assert_eq!(c.load(Ordering::SeqCst), 0);
    drop(popped);
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 1);
    drop(holder);
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 2);
}

#[test]
fn a_handle_taken_while_the_cell_stays_borrowed_across_a_cycle_survives() {
    let c = Arc::new(AtomicUsize::new(0));
    let holder = Gc::new(GcCell::new(Some(node(1, &c))));
    let mut guard = holder.borrow_mut();
    collect(); // the cell is mutably borrowed: skipped by the marker, its contents rooted
    let taken = guard.take().unwrap();
    collect();
    drop(guard);
    collect();
    assert_eq!(taken.id, 1);
    assert_eq!(c.load(Ordering::SeqCst), 0);
}

#[test]
fn threads_share_one_heap_while_cycles_run() {
    let c = Arc::new(AtomicUsize::new(0));
    // One object shared by all threads; each thread appends to its own cell (a `GcCell` is a
    // `RefCell`: two threads mutably borrowing the same one would be a borrow error).
    let shared = Gc::new(
        (0..4)
            .map(|_| GcCell::new(Vec::<Gc<Node>>::new()))
            .collect::<Vec<_>>(),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let shared = shared.clone();
            let c = c.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..20_000u64 {
                    let n = node(t * 1_000_000 + i, &c);
                    if i % 10 == 0 {
                        shared[t as usize].borrow_mut().push(n.clone());
                    }
                    if i % 3 == 0 {
                        mine.push(n);
                    }
                    if i % 5_000 == 0 {
                        collect();
                    }
                }
                mine.iter().map(|n| n.id).sum::<u64>()
            })
        })
        .collect();
    let sums: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for (t, s) in sums.iter().enumerate() {
        let expect: u64 = (0..20_000u64)
            .filter(|i| i % 3 == 0)
            .map(|i| t as u64 * 1_000_000 + i)
            .sum();
        assert_eq!(*s, expect);
    }
    collect();
    let kept: usize = shared.iter().map(|c| c.borrow().len()).sum();
    assert_eq!(kept, 4 * 2_000);
    // Everything but the shared list was garbage once the threads ended.
    assert_eq!(c.load(Ordering::SeqCst), 4 * 20_000 - kept);
    let ids: u64 = shared
        .iter()
        .flat_map(|c| {
            c.borrow()
                .iter()
                .map(|n| n.id % 1_000_000)
                .collect::<Vec<_>>()
        })
        .sum();
    assert_eq!(ids, 4 * (0..20_000u64).filter(|i| i % 10 == 0).sum::<u64>());
}

#[test]
fn finalizers_run_once_with_referents_alive() {
    static FINALIZED: AtomicUsize = AtomicUsize::new(0);
    static SAW: AtomicUsize = AtomicUsize::new(0);
    #[derive(Trace)]
    struct Res {
        inner: Gc<String>,
    }
    impl Finalize for Res {
        fn finalize(&self) {
            FINALIZED.fetch_add(1, Ordering::SeqCst);
            SAW.fetch_add(self.inner.len(), Ordering::SeqCst);
        }
    }
    for _ in 0..100 {
        let _ = Gc::new(Res {
            inner: Gc::new("four".to_string()),
        });
    }
    collect();
    run_finalizers();
    assert_eq!(FINALIZED.load(Ordering::SeqCst), 100);
    assert_eq!(SAW.load(Ordering::SeqCst), 400);
    for _ in 0..3 {
        collect();
        run_finalizers();
    }
    assert_eq!(
        FINALIZED.load(Ordering::SeqCst),
        100,
        "a finalizer ran twice"
    );
}

#[test]
fn a_panicking_finalizer_is_contained() {
    static RAN: AtomicUsize = AtomicUsize::new(0);
    #[derive(Trace)]
    struct Bad(u8);
    impl Finalize for Bad {
        fn finalize(&self) {
            RAN.fetch_add(1, Ordering::SeqCst);
            if self.0.is_multiple_of(2) {
                panic!("finalizer panic (expected by the test)");
            }
        }
    }
    for i in 0..10u8 {
        let _ = Gc::new(Bad(i));
    }
    collect();
    run_finalizers();
    assert_eq!(RAN.load(Ordering::SeqCst), 10);
    let still = Gc::new(5u32);
    collect();
    assert_eq!(*still, 5);
}

#[test]
fn weak_references_clear_once_unreachable() {
    let c = Arc::new(AtomicUsize::new(0));
    let strong = node(3, &c);
    let w = Gc::downgrade(&strong);
    collect();
    assert_eq!(w.upgrade().unwrap().id, 3);
    drop(strong);
    collect();
    assert!(w.upgrade().is_none());
    assert!(w.upgrade().is_none(), "upgrade stays None forever");
    assert_eq!(c.load(Ordering::SeqCst), 1);
}

#[test]
fn collect_from_several_threads_at_once() {
    let before = tricolor_gc::stats().num_gc;
    let ts: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(|| {
                let keep = Gc::new(vec![1u8; 100]);
                for _ in 0..5 {
                    collect();
                }
                keep.len()
            })
        })
        .collect();
    for t in ts {
        assert_eq!(t.join().unwrap(), 100);
    }
    assert!(tricolor_gc::stats().num_gc > before);
}

#[test]
fn gc_slot_keeps_its_pointee() {
    let c = Arc::new(AtomicUsize::new(0));
    let holder = Gc::new(GcSlot::new(Some(node(1, &c))));
    collect();
    assert_eq!(holder.get().unwrap().id, 1);
    holder.set(Some(node(2, &c)));
    collect();
    assert_eq!(holder.get().unwrap().id, 2);
    assert_eq!(c.load(Ordering::SeqCst), 1);
    drop(holder);
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 2);
}

/// A slot's "owns a root" flag lives in its pointer's low bit: it must follow the slot in and
/// out of the heap through every method, with the pointee's root count exact at each step.
#[test]
fn gc_slot_roots_its_pointee_exactly_when_outside_the_heap() {
    let c = Arc::new(AtomicUsize::new(0));
    let a = node(1, &c);
    let b = node(2, &c);
    let loose = GcSlot::new(Some(a.clone()));
    assert_eq!(Gc::root_count(&a), 2, "a slot outside the heap owns a root");
    loose.set(Some(b.clone()));
    assert_eq!((Gc::root_count(&a), Gc::root_count(&b)), (1, 2));
    let taken = loose.take().unwrap();
    assert_eq!(
        Gc::root_count(&b),
        2,
        "the slot's root went with the handle"
    );
    drop(taken);
    assert!(loose.get().is_none());
    loose.set(Some(a.clone()));
    // Into the heap: the slot's root goes (the object holding it keeps the pointee).
    let inside = Gc::new(loose);
    assert_eq!(Gc::root_count(&a), 1);
    inside.set(Some(b.clone()));
    assert_eq!((Gc::root_count(&a), Gc::root_count(&b)), (1, 1));
    let got = inside.get().unwrap();
    assert_eq!((got.id, Gc::root_count(&b)), (2, 2));
    drop(got);
    let out = inside.take().unwrap();
    assert_eq!(Gc::root_count(&b), 2, "taken out of the heap: a new root");
    drop(out);
    // Out of the heap again, through a vector's `pop`: the slot roots its pointee again.
    let v = Gc::new(tricolor_gc::GcVec::new());
    v.push(GcSlot::new(Some(a.clone())));
    assert_eq!(Gc::root_count(&a), 1);
    collect();
    let back = v.pop().unwrap();
    assert_eq!(Gc::root_count(&a), 2);
    assert_eq!(back.get().unwrap().id, 1);
    drop(back);
    assert_eq!(Gc::root_count(&a), 1);
    drop((a, b, inside, v));
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 2, "both pointees freed once");
}

#[test]
fn tally_in_ignored_field_is_dropped_at_sweep() {
    let c = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let _ = Gc::new(Tally::new(&c));
    }
    collect();
    // Tally's Arc is dropped (strong count falls back to 1).
    assert_eq!(Arc::strong_count(&c), 1);
}

#[test]
fn a_blocked_thread_holding_roots_and_a_borrow_does_not_delay_cycles() {
    let c = Arc::new(AtomicUsize::new(0));
    let held = Gc::new(GcCell::new(vec![node(1, &c)]));
    let (to_thread, from_main) = std::sync::mpsc::channel::<()>();
    let (to_main, from_thread) = std::sync::mpsc::channel::<()>();
    let h2 = held.clone();
    let c2 = c.clone();
    let t = std::thread::spawn(move || {
        let mine = node(2, &c2);
        let mut guard = h2.borrow_mut(); // held across the cycles below
        guard.push(node(3, &c2));
        to_main.send(()).unwrap();
        from_main.recv().unwrap(); // blocked outside any tricolor operation
        guard.push(mine);
        drop(guard);
    });
    from_thread.recv().unwrap();
    let before = tricolor_gc::stats().num_gc;
    for _ in 0..3 {
        collect(); // completes although the other thread is blocked with roots and a borrow
    }
    assert!(tricolor_gc::stats().num_gc >= before + 3);
    to_thread.send(()).unwrap();
    t.join().unwrap();
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 0);
    let ids: Vec<u64> = held.borrow().iter().map(|n| n.id).collect();
    assert_eq!(ids, [1, 3, 2]);
}

#[test]
fn threads_that_exit_hand_back_their_spans_and_handles() {
    let c = Arc::new(AtomicUsize::new(0));
    let handles: Vec<Gc<Node>> = (0..8u64)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || {
                for j in 0..1000 {
                    let _ = node(j, &c); // garbage in this thread's cached spans
                }
                node(100 + i, &c)
            })
            .join()
            .unwrap()
        })
        .collect();
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 8 * 1000);
    assert_eq!(handles.iter().map(|n| n.id).sum::<u64>(), (100..108).sum());
}

#[test]
fn a_gc_in_a_thread_local_is_dropped_safely_at_thread_exit() {
    use std::cell::RefCell;
    type Kept = Option<Gc<GcCell<Vec<Gc<Node>>>>>;
    thread_local! {
        static KEEP: RefCell<Kept> = const { RefCell::new(None) };
    }
    let c = Arc::new(AtomicUsize::new(0));
    let c2 = c.clone();
    let weak = std::thread::spawn(move || {
        let g = Gc::new(GcCell::new(vec![node(1, &c2)]));
        let w = Gc::downgrade(&g);
        KEEP.with(|k| *k.borrow_mut() = Some(g));
        w // the thread-local is dropped during thread teardown
    })
    .join()
    .unwrap();
    collect();
    assert!(weak.upgrade().is_none());
    assert_eq!(c.load(Ordering::SeqCst), 1);
}

#[test]
fn thread_locals_dropped_after_the_runtime_state_still_use_the_heap() {
    use std::cell::RefCell;
    static RAN: AtomicUsize = AtomicUsize::new(0);
    struct Late(RefCell<Option<Gc<u64>>>);
    impl Drop for Late {
        fn drop(&mut self) {
            // The thread's runtime state was registered after this thread-local, so it is
            // gone by now (destructors run in reverse order): these operations take the path
            // of a thread without state (`operation::enter_orphan`), one thread at a time.
            let old = self.0.borrow_mut().take();
            assert_eq!(old.as_deref(), Some(&5));
            drop(old);
            for i in 0..100u64 {
                let g = Gc::new(i);
                let w = Gc::downgrade(&g);
                assert_eq!(w.upgrade().as_deref(), Some(&i));
            }
            RAN.fetch_add(1, Ordering::SeqCst);
        }
    }
    thread_local! {
        static LATE: Late = const { Late(RefCell::new(None)) };
    }
    // Four threads tear down at once: their operations share the one state for such threads.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                // First touch: registers this destructor before the runtime's own.
                LATE.with(|_| {});
                let g = Gc::new(5u64);
                LATE.with(|l| *l.0.borrow_mut() = Some(g));
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(RAN.load(Ordering::SeqCst), 4);
    collect();
}

#[test]
fn a_panicking_drop_during_sweep_is_contained() {
    struct Bomb(Arc<AtomicUsize>);
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("drop of an ignored field panicked (expected by the test)");
        }
    }
    #[derive(Trace, Finalize)]
    struct Holder {
        #[gc(ignore)]
        _b: Bomb,
        next: Option<Gc<u64>>,
    }
    let c = Arc::new(AtomicUsize::new(0));
    let kept = Gc::new(Holder {
        _b: Bomb(c.clone()),
        next: Some(Gc::new(7)),
    });
    for _ in 0..50 {
        let _ = Gc::new(Holder {
            _b: Bomb(c.clone()),
            next: Some(Gc::new(1)),
        });
    }
    collect();
    assert_eq!(
        c.load(Ordering::SeqCst),
        50,
        "every dead object's drop ran once"
    );
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 50);
    assert_eq!(**kept.next.as_ref().unwrap(), 7);
    std::mem::forget(kept); // its Bomb would panic at the end of the test process
}

/// `Debug` of `Stats` shows the scalars, the last stops and the used size classes, not two
/// 256-entry rings and 74 classes of zeros (it printed 5.5 KB before); `gc_cpu_fraction` is a
/// fraction of the available CPU time, as Go's.
#[test]
fn stats_debug_is_readable_and_the_cpu_fraction_is_a_fraction() {
    let _keep: Vec<Gc<u64>> = (0..1000).map(Gc::new).collect();
    tricolor_gc::collect();
    let s = tricolor_gc::stats();
    let d = format!("{s:?}");
    assert!(
        d.contains("num_gc") && d.contains("recent_pauses_ns"),
        "{d}"
    );
    assert!(!d.contains("0, 0, 0, 0"), "zeros left in: {d}");
    assert!(d.len() < 3000, "{} bytes: {d}", d.len());
    assert!(
        (0.0..=1.0).contains(&s.gc_cpu_fraction),
        "{}",
        s.gc_cpu_fraction
    );
}
