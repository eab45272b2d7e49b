//! `GcWeakMap`: entries are ephemerons. Each scenario runs in its own process with every freed
//! slot poisoned and every mark termination verified (tests/support), so a value freed while its
//! key lived, or a key kept alive by its own value, fails loudly.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tricolor_gc::{self as gc, Finalize, Gc, GcCell, GcWeakMap, Trace, Weak};

#[test]
fn child() {
    support::child(&[
        ("value_lives_with_its_key", value_lives_with_its_key),
        ("value_pointing_at_its_key", value_pointing_at_its_key),
        ("chains", chains),
        ("remove_and_drop", remove_and_drop),
        ("finalizable_keys", finalizable_keys),
        ("resurrected_keys", resurrected_keys),
        ("threads", threads),
        ("map_in_the_heap", map_in_the_heap),
        (
            "dead_entries_go_without_inserts",
            dead_entries_go_without_inserts,
        ),
    ]);
}

fn cycles(n: usize) {
    for _ in 0..n {
        gc::collect();
    }
}

fn value_lives_with_its_key() {
    let map: GcWeakMap<u64, String> = GcWeakMap::new();
    let keys: Vec<Gc<u64>> = (0..1000).map(Gc::new).collect();
    let mut values = Vec::new();
    for k in &keys {
        let v = Gc::new(format!("value {}", **k));
        values.push(Gc::downgrade(&v));
        map.insert(k, v); // the map's entry is the value's only strong path
    }
    cycles(3);
    for (k, w) in keys.iter().zip(&values) {
        assert_eq!(*map.get(k).unwrap(), format!("value {}", **k));
        assert!(w.upgrade().is_some());
    }
    assert_eq!(map.len(), 1000);
    // Half the keys die: their values with them, the others stay.
    let (dead, live): (Vec<_>, Vec<_>) =
        keys.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    drop(dead);
    cycles(3);
    for (i, w) in values.iter().enumerate() {
        assert_eq!(w.upgrade().is_some(), i % 2 == 1, "value {i}");
    }
    for (_, k) in &live {
        assert_eq!(*map.get(k).unwrap(), format!("value {}", **k));
    }
    assert_eq!(map.len(), 500);
}

#[derive(Trace, Finalize)]
struct Back {
    key: Gc<GcCell<u32>>,
    pad: [u64; 4],
}

/// A value that refers to its own key does not keep the key alive (the point of ephemerons:
/// a strong map would leak both).
fn value_pointing_at_its_key() {
    let map: GcWeakMap<GcCell<u32>, Back> = GcWeakMap::new();
    let mut weak_keys = Vec::new();
    for i in 0..1000 {
        let k = Gc::new(GcCell::new(i));
        weak_keys.push(Gc::downgrade(&k));
        map.insert(
            &k,
            Gc::new(Back {
                key: k.clone(),
                pad: [i as u64; 4],
            }),
        );
    }
    cycles(3);
    assert!(
        weak_keys.iter().all(|w| w.upgrade().is_none()),
        "keys leaked through their values"
    );
    assert_eq!(map.len(), 0);
    // The table forgets dead keys at the next insert after a cycle.
    let k = Gc::new(GcCell::new(7));
    map.insert(
        &k,
        Gc::new(Back {
            key: k.clone(),
            pad: [0; 4],
        }),
    );
    assert_eq!(map.len(), 1);
    assert_eq!(*map.get(&k).unwrap().key.borrow(), 7);
}

#[derive(Trace, Finalize)]
struct Link {
    next: Option<Gc<Link>>,
    n: u32,
}

/// Key → value → (value is the next key) → ...: one root keeps the whole chain, in one cycle.
fn chains() {
    let map: GcWeakMap<Link, Link> = GcWeakMap::new();
    let first = Gc::new(Link { next: None, n: 0 });
    let mut k = first.clone();
    let mut weak: Vec<Weak<Link>> = Vec::new();
    for n in 1..=2000 {
        let v = Gc::new(Link { next: None, n });
        weak.push(Gc::downgrade(&v));
        map.insert(&k, v.clone());
        k = v;
    }
    drop(k);
    cycles(2);
    let mut cur = first.clone();
    for n in 1..=2000 {
        let v = map.get(&cur).expect("a chained value");
        assert_eq!(v.n, n);
        cur = v;
    }
    drop((cur, first));
    cycles(3);
    assert!(weak.iter().all(|w| w.upgrade().is_none()));
}

fn remove_and_drop() {
    let k = Gc::new(1u8);
    let v = Gc::downgrade(&{
        let map: GcWeakMap<u8, Vec<u8>> = GcWeakMap::new();
        map.insert(&k, Gc::new(vec![1, 2, 3]));
        let old = map.insert(&k, Gc::new(vec![4])).unwrap();
        assert_eq!(*old, [1, 2, 3]);
        let w_old = Gc::downgrade(&old);
        drop(old);
        cycles(2);
        assert!(
            w_old.upgrade().is_none(),
            "a replaced value is no longer kept"
        );
        let removed = map.remove(&k).unwrap();
        assert_eq!(*removed, [4]);
        assert!(map.get(&k).is_none() && !map.contains_key(&k));
        map.insert(&k, Gc::new(vec![9]));
        let v = map.get(&k).unwrap();
        drop(removed);
        v
        // the map is dropped here, the key lives on
    });
    cycles(3);
    assert!(
        v.upgrade().is_none(),
        "a dropped map's values are not kept by live keys"
    );
    assert_eq!(*k, 1);

    // A clear and a drop of maps larger than one batch of unfiling (`UNFILE_BATCH`, 256 keys
    // per hold of the global lock): every pair goes, whichever batch it was in.
    let keys: Vec<Gc<u8>> = (0..1000).map(|i| Gc::new(i as u8)).collect();
    let (cleared, dropped) = {
        let (a, b): (GcWeakMap<u8, Vec<u8>>, GcWeakMap<u8, Vec<u8>>) =
            (GcWeakMap::new(), GcWeakMap::new());
        let mut ws = (Vec::new(), Vec::new());
        for k in &keys {
            let (va, vb) = (Gc::new(vec![1]), Gc::new(vec![2]));
            ws.0.push(Gc::downgrade(&va));
            ws.1.push(Gc::downgrade(&vb));
            a.insert(k, va);
            b.insert(k, vb);
        }
        a.clear();
        assert!(a.is_empty());
        ws
        // `b` is dropped here
    };
    cycles(3);
    assert!(
        cleared.iter().all(|w| w.upgrade().is_none()),
        "a cleared map's value kept"
    );
    assert!(
        dropped.iter().all(|w| w.upgrade().is_none()),
        "a dropped map's value kept"
    );
    assert_eq!(keys.len(), 1000);
}

/// The entries of dead keys hold `Weak`s, which keep the memory (not the values) of their keys
/// and values; any call on the map after a cycle drops them, so that memory goes back with the
/// next cycle even if nothing is inserted again. Counted exactly, in the child process.
fn dead_entries_go_without_inserts() {
    let objects = || gc::stats().heap_objects;
    cycles(2);
    let base = objects();
    let map: GcWeakMap<u64, u64> = GcWeakMap::new();
    let other = Gc::new(0u64);
    let n = 1000;
    let keys: Vec<Gc<u64>> = (0..n).map(Gc::new).collect();
    for k in &keys {
        map.insert(k, Gc::new(**k + 1));
    }
    gc::collect();
    assert_eq!(objects(), base + 1 + 2 * n);
    drop(keys);
    gc::collect();
    assert_eq!(
        objects(),
        base + 1 + 2 * n,
        "the entries' Weaks keep the memory until the map looks"
    );
    assert!(!map.contains_key(&other));
    gc::collect();
    assert_eq!(
        objects(),
        base + 1,
        "a lookup after a cycle dropped no dead entry"
    );
    assert!(map.is_empty());
}

static FINALIZED: AtomicUsize = AtomicUsize::new(0);

#[derive(Trace)]
struct Fin(u32);

impl Finalize for Fin {
    fn finalize(&self) {
        FINALIZED.fetch_add(1, Ordering::Relaxed);
    }
}

/// A key kept only for its finalizer loses its entries (as its weak references clear); the next
/// cycles' verification finds nothing reachable left white and nothing freed in use.
fn finalizable_keys() {
    let map: GcWeakMap<Fin, [u64; 8]> = GcWeakMap::new();
    let mut weak_values = Vec::new();
    for i in 0..500 {
        let k = Gc::new(Fin(i));
        let v = Gc::new([i as u64; 8]);
        weak_values.push(Gc::downgrade(&v));
        map.insert(&k, v);
    }
    cycles(2);
    gc::run_finalizers();
    cycles(2);
    assert_eq!(FINALIZED.load(Ordering::Relaxed), 500);
    assert!(weak_values.iter().all(|w| w.upgrade().is_none()));
    assert_eq!(map.len(), 0);
}

/// Keeps its child alive from its finalizer. The type's `Finalize` is hand-written, so the
/// collector does not know it yet in this process: its first dead object gets Java's rule, and
/// the child it alone reaches has its weak references cleared before the finalizer keeps it.
#[derive(Trace)]
struct Keeper {
    child: Gc<u64>,
}
static KEPT: std::sync::Mutex<Vec<Gc<u64>>> = std::sync::Mutex::new(Vec::new());
impl Finalize for Keeper {
    fn finalize(&self) {
        KEPT.lock().unwrap().push(self.child.clone());
    }
}

/// A key whose weak references were cleared and which a finalizer then kept alive has no
/// entries: its old entry is gone, and an `insert` under it files nothing (review finding,
/// 2026-12-07: the pair was filed and kept the value for the key's whole life while `get`,
/// `contains_key` and `remove` could not see it).
fn resurrected_keys() {
    let map: GcWeakMap<u64, String> = GcWeakMap::new();
    let child = Gc::new(7u64);
    let before = Gc::new(String::from("before"));
    let w_before = Gc::downgrade(&before);
    map.insert(&child, before);
    drop(Gc::new(Keeper { child }));
    for _ in 0..10 {
        if !KEPT.lock().unwrap().is_empty() {
            break;
        }
        gc::collect();
        gc::run_finalizers();
    }
    let k = KEPT.lock().unwrap().pop().expect("the finalizer ran");
    assert!(Gc::downgrade(&k).upgrade().is_none(), "premise: cleared");
    assert!(map.get(&k).is_none() && !map.contains_key(&k));

    let after = Gc::new(String::from("after"));
    let w_after = Gc::downgrade(&after);
    assert!(map.insert(&k, after).is_none());
    assert!(map.get(&k).is_none(), "an entry get cannot see");
    assert!(!map.contains_key(&k));
    assert_eq!(map.len(), 0);
    assert!(map.remove(&k).is_none());
    cycles(3);
    assert!(w_before.upgrade().is_none());
    assert!(
        w_after.upgrade().is_none(),
        "a value filed under a cleared key lives as long as the key"
    );
    assert_eq!(*k, 7);
}

/// Four threads insert, read, replace and remove on one shared map while cycles run; each
/// thread's live keys always find their values intact.
fn threads() {
    let map: Arc<GcWeakMap<u64, [u64; 4]>> = Arc::new(GcWeakMap::new());
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let map = map.clone();
            std::thread::spawn(move || {
                let mut rng = support::Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1));
                let mut live: Vec<Gc<u64>> = Vec::new();
                for i in 0..20_000u64 {
                    match rng.below(10) as u64 {
                        0..=3 => {
                            let k = Gc::new(t << 32 | i);
                            map.insert(&k, Gc::new([*k; 4]));
                            live.push(k);
                        }
                        4..=6 if !live.is_empty() => {
                            let k = &live[rng.below(live.len())];
                            let v = map.get(k).expect("a live key's value");
                            assert_eq!(*v, [**k; 4]);
                        }
                        7 if !live.is_empty() => {
                            let j = rng.below(live.len());
                            let k = live.swap_remove(j); // dies, or is removed first
                            if i % 2 == 0 {
                                assert_eq!(*map.remove(&k).unwrap(), [*k; 4]);
                            }
                        }
                        8 if !live.is_empty() => {
                            let k = &live[rng.below(live.len())];
                            map.insert(k, Gc::new([**k; 4]));
                        }
                        _ => {
                            if i % 2000 == 0 {
                                gc::collect();
                            }
                        }
                    }
                }
                for k in &live {
                    assert_eq!(*map.get(k).unwrap(), [**k; 4]);
                }
                live.len()
            })
        })
        .collect();
    let live: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    cycles(2);
    assert_eq!(
        map.len(),
        0,
        "every thread's keys died with it ({live} were live at its end)"
    );
}

#[derive(Trace, Finalize)]
struct Interp {
    props: GcWeakMap<String, String>,
    objects: GcCell<Vec<Gc<String>>>,
}

/// A map inside a heap object (a JavaScript engine's `WeakMap` object): freed with it.
fn map_in_the_heap() {
    let w = {
        let it = Gc::new(Interp {
            props: GcWeakMap::new(),
            objects: GcCell::new(Vec::new()),
        });
        let mut ws = Vec::new();
        for i in 0..100 {
            let o = Gc::new(format!("o{i}"));
            let p = Gc::new(format!("p{i}"));
            ws.push(Gc::downgrade(&p));
            it.props.insert(&o, p);
            it.objects.borrow_mut().push(o);
        }
        cycles(2);
        for o in it.objects.borrow().iter() {
            assert_eq!(*it.props.get(o).unwrap(), format!("p{}", &o[1..]));
        }
        ws
    };
    cycles(3);
    assert!(w.iter().all(|w| w.upgrade().is_none()));
}

#[test]
fn a_value_lives_exactly_as_long_as_its_key() {
    support::passes("value_lives_with_its_key");
}

#[test]
fn a_value_that_refers_to_its_key_does_not_keep_it() {
    support::passes("value_pointing_at_its_key");
}

#[test]
fn chains_of_ephemerons_are_kept_from_one_root() {
    support::passes("chains");
}

#[test]
fn removed_replaced_and_dropped_maps_keep_nothing() {
    support::passes("remove_and_drop");
}

#[test]
fn finalizable_keys_lose_their_entries() {
    support::passes("finalizable_keys");
}

#[test]
fn a_key_kept_by_a_finalizer_after_its_weak_references_cleared_has_no_entries() {
    support::passes("resurrected_keys");
}

#[test]
fn threads_share_a_map_while_cycles_run() {
    support::passes("threads");
}

#[test]
fn a_map_inside_an_object() {
    support::passes("map_in_the_heap");
}

#[test]
fn dead_entries_go_with_any_call_after_a_cycle() {
    support::passes("dead_entries_go_without_inserts");
}
