//! `GcVec`, `GcMap`, `GcMutex` and `GcRwLock`: every method with root counts and drop counts
//! checked exactly; elements surviving cycles that start anywhere in the methods (a child
//! process with cycles forced back to back, `GCCHECKMARK=1` and `GCPOISON=1`); threads sharing
//! one vector and one mutex while cycles run; a mutex held across a whole cycle.
//!
//! Tests in this binary run in parallel and share the heap, so each counts its own drops.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use support::{passes, Counter};
use tricolor_gc::{collect, Finalize, Gc, GcMap, GcMutex, GcRwLock, GcVec, Trace, Weak};

#[derive(Trace, Finalize)]
struct Item {
    id: u64,
    #[gc(ignore)]
    _c: Counter,
}

fn item(id: u64, drops: &Arc<AtomicUsize>) -> Gc<Item> {
    Gc::new(Item {
        id,
        _c: Counter(drops.clone()),
    })
}

fn new_item(id: u64, drops: &Arc<AtomicUsize>) -> Item {
    Item {
        id,
        _c: Counter(drops.clone()),
    }
}

fn ids(v: &GcVec<Gc<Item>>) -> Vec<u64> {
    v.view().iter().map(|g| g.id).collect()
}

#[test]
fn gc_vec_methods_root_unroot_and_drop_exactly() {
    let drops = Arc::new(AtomicUsize::new(0));
    let v: Gc<GcVec<Gc<Item>>> = Gc::new(GcVec::with_capacity(2));
    assert!(v.is_empty());
    let a = item(1, &drops);
    v.push(a.clone());
    assert_eq!(Gc::root_count(&a), 1, "the stored copy is not a root");
    assert!(!Gc::is_root(&v.view()[0]));
    v.extend([item(2, &drops), item(3, &drops)]);
    v.insert(0, item(0, &drops));
    assert_eq!(ids(&v), [0, 1, 2, 3]);
    assert_eq!(v.len(), 4);

    let got = v.get(1).unwrap();
    assert!(Gc::ptr_eq(&got, &a) && Gc::is_root(&got));
    assert_eq!(Gc::root_count(&a), 2, "`a` and the clone from `get`");
    drop(got);
    assert!(v.get(4).is_none());

    v.put(0, item(5, &drops));
    assert_eq!(ids(&v), [5, 1, 2, 3]);
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "`put` dropped the old 0");
    v.put(0, item(0, &drops));
    let old = v.set(1, item(10, &drops));
    assert!(Gc::ptr_eq(&old, &a) && Gc::is_root(&old));
    assert_eq!(Gc::root_count(&a), 2, "`a` and the handed-out old element");
    drop(old);
    assert_eq!(ids(&v), [0, 10, 2, 3]);

    v.swap(0, 3);
    assert_eq!(ids(&v), [3, 10, 2, 0]);
    let removed = v.remove(1);
    assert_eq!((removed.id, Gc::root_count(&removed)), (10, 1));
    assert_eq!(ids(&v), [3, 2, 0]);
    let sr = v.swap_remove(0);
    assert_eq!(sr.id, 3);
    assert_eq!(ids(&v), [0, 2]);
    let popped = v.pop().unwrap();
    assert_eq!((popped.id, Gc::root_count(&popped)), (2, 1));
    drop((removed, sr, popped));
    collect();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1 + 3 + 1,
        "5 (put over), 10, 3 and 2 are gone"
    );
    assert_eq!(ids(&v), [0]);

    v.extend((20..30).map(|i| item(i, &drops)));
    v.truncate(5);
    assert_eq!(ids(&v), [0, 20, 21, 22, 23]);
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 5 + 6);
    v.clear();
    assert!(v.is_empty() && v.pop().is_none());
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 5 + 6 + 5);
    assert_eq!(Gc::root_count(&a), 1);
    drop(a);
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 17);
}

/// `put_new`, `push_new` and `GcMap::put_new` make objects whose handles hold no root in a
/// container in the heap (and one in a container outside it), and drop what they replace.
#[test]
fn new_objects_go_into_containers_without_a_root() {
    let drops = Arc::new(AtomicUsize::new(0));
    let it = |id| Item {
        id,
        _c: Counter(drops.clone()),
    };
    let v: Gc<GcVec<Gc<Item>>> = Gc::new(GcVec::new());
    v.push_new(it(1));
    v.push_new(it(2));
    assert_eq!(ids(&v), [1, 2]);
    assert!(!Gc::is_root(&v.view()[0]));
    assert_eq!(Gc::root_count(&v.view()[0]), 0);
    v.put_new(0, it(3));
    assert_eq!(ids(&v), [3, 2]);
    assert_eq!(Gc::root_count(&v.view()[0]), 0);
    let got = v.get(0).unwrap();
    assert_eq!(Gc::root_count(&got), 1, "only the clone `get` handed out");
    drop(got);
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "`put_new` dropped 1");
    assert_eq!(ids(&v), [3, 2]);

    let m: Gc<GcMap<u64, Gc<Item>>> = Gc::new(GcMap::new());
    m.put_new(7, it(70));
    m.put_new(8, it(80));
    m.put_new(7, it(71));
    assert_eq!(m.len(), 2);
    assert_eq!(m.get(&7).unwrap().id, 71);
    assert!(m.view().iter().all(|(_, g)| Gc::root_count(g) == 0));
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 2, "and the map dropped 70");

    // Outside the heap a container's elements are roots, new ones included, until it moves in.
    let local: GcVec<Gc<Item>> = GcVec::new();
    local.push_new(it(4));
    local.put_new(0, it(5));
    assert!(Gc::is_root(&local.view()[0]));
    assert_eq!(Gc::root_count(&local.view()[0]), 1);
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 3, "4 is gone, 5 is rooted");
    let moved = Gc::new(local);
    assert_eq!(Gc::root_count(&moved.view()[0]), 0);
    collect();
    assert_eq!(moved.get(0).unwrap().id, 5);
    drop((v, m, moved));
    collect();
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 3 + 2 + 2 + 1);
}

/// A thread that has used a vector alone long enough owns its lock (`biaslock`); calling a
/// method that moves elements while it holds a view is then a panic, not a deadlock.
#[test]
#[should_panic(expected = "holds a view")]
fn a_method_under_the_owners_own_view_panics() {
    let v: GcVec<u64> = GcVec::new();
    for i in 0..1000 {
        v.push(i);
    }
    let view = v.view();
    v.push(view[0]);
}

/// Views can be shared with other threads (scoped), as `RwLock` read guards can; they stay on
/// their own thread (the owner's guard writes its thread's word when it ends).
#[test]
fn views_are_sync() {
    fn sync<T: Sync>(_: &T) {}
    let v: GcVec<u64> = (0..1000).collect();
    for i in 0..1000 {
        v.put(i, i as u64);
    }
    let m: GcMap<u64, u64> = GcMap::new();
    let (vv, mv) = (v.view(), m.view());
    sync(&vv);
    sync(&mv);
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(vv.len(), 1000));
    });
}

/// One thread uses a vector alone (so that it owns its lock), then others take it over while it
/// keeps going: nothing is lost, and the owner's own later calls take the shared path.
#[test]
fn a_vec_owned_by_one_thread_is_shared_with_others_later() {
    const PER: u64 = 2_000;
    let v: Gc<GcVec<u64>> = Gc::new(GcVec::new());
    for i in 0..PER {
        v.push(i);
    }
    let others: Vec<_> = (1..3u64)
        .map(|t| {
            let v = v.clone();
            std::thread::spawn(move || {
                for i in 0..PER {
                    v.push(t * PER + i);
                    assert!(v.get(0).is_some());
                }
            })
        })
        .collect();
    for i in 0..PER {
        v.push(3 * PER + i);
    }
    for t in others {
        t.join().unwrap();
    }
    let mut seen: Vec<u64> = v.view().to_vec();
    seen.sort_unstable();
    assert_eq!(seen, (0..4 * PER).collect::<Vec<_>>());
}

#[test]
fn gc_vec_outside_the_heap_holds_roots_and_unroots_them_when_it_moves_in() {
    let drops = Arc::new(AtomicUsize::new(0));
    let local: GcVec<Gc<Item>> = (0..3).map(|i| item(i, &drops)).collect();
    assert!(Gc::is_root(&local.view()[0]));
    assert_eq!(Gc::root_count(&local.view()[0]), 1);
    let w: Weak<Item> = Gc::downgrade(&local.view()[2]);
    let v = Gc::new(local);
    assert!(!Gc::is_root(&v.view()[0]));
    assert_eq!(Gc::root_count(&v.view()[0]), 0);
    collect();
    assert_eq!(w.upgrade().unwrap().id, 2);
    drop(v);
    collect();
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    assert!(w.upgrade().is_none());
}

#[test]
#[should_panic(expected = "index 3 out of bounds (len 2)")]
fn gc_vec_set_out_of_bounds_panics_like_vec() {
    let v = GcVec::from_iter([1, 2]);
    v.set(3, 0);
}

#[test]
fn gc_map_methods_root_unroot_and_drop_exactly() {
    let drops = Arc::new(AtomicUsize::new(0));
    let m: Gc<GcMap<Gc<str>, Gc<Item>>> = Gc::new(GcMap::new());
    let k = Gc::<str>::from("one");
    assert!(m.insert(k.clone(), item(1, &drops)).is_none());
    assert_eq!(Gc::root_count(&k), 1, "the key in the map is not a root");
    let v = m.get("one").unwrap();
    assert!(Gc::is_root(&v) && v.id == 1);
    drop(v);
    let old = m.insert(Gc::from("one"), item(11, &drops)).unwrap();
    assert_eq!((old.id, Gc::root_count(&old)), (1, 1));
    drop(old);
    for i in 0..100 {
        m.insert(Gc::from(format!("k{i}").as_str()), item(100 + i, &drops));
    }
    assert_eq!(m.len(), 101);
    assert!(m.contains_key("k50") && !m.contains_key("k100"));
    for i in (0..100).step_by(2) {
        let v = m.remove(format!("k{i}").as_str()).unwrap();
        assert_eq!(v.id, 100 + i);
    }
    assert_eq!(m.len(), 51);
    for i in 0..100 {
        assert_eq!(
            m.get(format!("k{i}").as_str()).map(|v| v.id),
            (i % 2 == 1).then_some(100 + i)
        );
    }
    assert_eq!(m.view().len(), 51);
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 1 + 50);
    m.clear();
    assert!(m.is_empty() && m.get("one").is_none());
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 1 + 50 + 51);
    assert_eq!(Gc::root_count(&k), 1);
}

/// Replacing a value keeps the key already stored and drops the one given (as
/// `HashMap::insert`), whether the value is one handle (replaced without the state word) or not.
#[test]
fn gc_map_keeps_the_stored_key_when_it_replaces_a_value() {
    #[derive(Trace, Finalize)]
    struct Key {
        k: u32,
        tag: u32,
    }
    impl PartialEq for Key {
        fn eq(&self, other: &Key) -> bool {
            self.k == other.k
        }
    }
    impl Eq for Key {}
    impl std::hash::Hash for Key {
        fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
            self.k.hash(h)
        }
    }
    let handles: Gc<GcMap<Key, Gc<u64>>> = Gc::new(GcMap::new());
    let numbers: Gc<GcMap<Key, u64>> = Gc::new(GcMap::new());
    handles.insert(Key { k: 1, tag: 0 }, Gc::new(0));
    numbers.insert(Key { k: 1, tag: 0 }, 0);
    let key = |tag| Key { k: 1, tag };
    assert_eq!(handles.insert(key(1), Gc::new(1)).map(|g| *g), Some(0));
    assert_eq!(numbers.insert(key(1), 1), Some(0));
    handles.put(key(2), Gc::new(2));
    numbers.put(key(2), 2);
    handles.put_new(key(3), 3);
    let seen: Vec<(u32, u64)> = handles.view().iter().map(|(k, v)| (k.tag, **v)).collect();
    assert_eq!(seen, vec![(0, 3)]);
    let seen: Vec<(u32, u64)> = numbers.view().iter().map(|(k, v)| (k.tag, *v)).collect();
    assert_eq!(seen, vec![(0, 2)]);
}

/// A map against std's `HashMap`, through a seeded mix of inserts, puts, removals and lookups
/// over keys that collide often (a small key range and a weak hasher): the index's probing and
/// backward-shift deletion keep every entry findable.
#[test]
fn gc_map_agrees_with_hash_map() {
    use std::collections::HashMap;
    use std::hash::BuildHasherDefault;
    #[derive(Default)]
    struct Weak8(u64);
    impl std::hash::Hasher for Weak8 {
        fn finish(&self) -> u64 {
            // Few distinct low bits: long probe runs.
            (self.0 % 37).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (self.0 << 32)
        }
        fn write(&mut self, b: &[u8]) {
            for x in b {
                self.0 = self.0.wrapping_mul(31).wrapping_add(*x as u64);
            }
        }
    }
    let m: GcMap<u64, Gc<u64>, BuildHasherDefault<Weak8>> = GcMap::with_hasher(Default::default());
    let mut model: HashMap<u64, u64> = HashMap::new();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for step in 0..40_000u64 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let k = rng % 700;
        match (rng >> 20) % 5 {
            0 => assert_eq!(
                m.insert(k, Gc::new(step)).map(|g| *g),
                model.insert(k, step)
            ),
            1 => {
                m.put(k, Gc::new(step));
                model.insert(k, step);
            }
            2 | 3 => assert_eq!(m.remove(&k).map(|g| *g), model.remove(&k)),
            _ => assert_eq!(m.get(&k).map(|g| *g), model.get(&k).copied()),
        }
        assert_eq!(m.len(), model.len());
    }
    for (k, v) in &model {
        assert_eq!(m.get(k).map(|g| *g), Some(*v));
    }
    let mut entries: Vec<(u64, u64)> = m.view().iter().map(|(k, v)| (*k, **v)).collect();
    entries.sort_unstable();
    let mut expected: Vec<(u64, u64)> = model.into_iter().collect();
    expected.sort_unstable();
    assert_eq!(entries, expected);
}

/// A key whose `Hash` and `Eq` count their calls: a map in the heap runs them in lookups only,
/// never to root or unroot its keys.
#[test]
fn gc_map_never_rehashes_to_root_or_unroot_its_keys() {
    use std::hash::{Hash, Hasher};
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[derive(Trace, Finalize, PartialEq, Eq)]
    struct K(Gc<u64>);
    impl Hash for K {
        fn hash<H: Hasher>(&self, h: &mut H) {
            CALLS.fetch_add(1, Ordering::SeqCst);
            (*self.0).hash(h)
        }
    }
    let local: GcMap<K, u8> = (0..50).map(|i| (K(Gc::new(i)), 0)).collect();
    let first = local.view()[0].0 .0.clone();
    let before = CALLS.load(Ordering::SeqCst);
    let m = Gc::new(local);
    assert_eq!(
        Gc::root_count(&first),
        1,
        "the key's handle was unrooted in place"
    );
    collect();
    assert_eq!(CALLS.load(Ordering::SeqCst), before);
    assert_eq!(m.get(&K(first.clone())), Some(0));
}

#[test]
fn gc_mutex_and_rwlock_root_while_held_and_unroot_after() {
    let drops = Arc::new(AtomicUsize::new(0));
    let a = item(1, &drops);
    let m = Gc::new(GcMutex::new(vec![a.clone()]));
    assert_eq!(Gc::root_count(&a), 1);
    {
        let mut g = m.lock();
        assert_eq!(Gc::root_count(&a), 2, "locked contents are roots");
        assert!(m.try_lock().is_none());
        g.push(item(2, &drops));
    }
    assert_eq!(Gc::root_count(&a), 1);
    assert!(m.try_lock().is_some());
    let l = Gc::new(GcRwLock::new(vec![a.clone()]));
    {
        let (r1, r2) = (l.read(), l.read());
        assert_eq!(Gc::root_count(&a), 1, "readers do not root");
        assert!(l.try_write().is_none());
        assert_eq!(r1[0].id + r2[0].id, 2);
    }
    {
        let mut w = l.write();
        assert_eq!(Gc::root_count(&a), 2);
        assert!(l.try_read().is_none());
        w.clear();
    }
    assert_eq!(Gc::root_count(&a), 1);
    drop((m, l, a));
    collect();
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// A thread holds the mutex across a whole cycle: the cycle completes (the holder is not in an
/// operation), and what the locked value holds survives it.
#[test]
fn a_gc_mutex_held_across_a_whole_cycle() {
    let drops = Arc::new(AtomicUsize::new(0));
    let m = Gc::new(GcMutex::new(Vec::new()));
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let m = m.clone();
        let drops = drops.clone();
        std::thread::spawn(move || {
            let mut g = m.lock();
            g.push(item(7, &drops));
            locked_tx.send(()).unwrap();
            done_rx.recv().unwrap(); // hold it until the main thread's cycles are over
            g.push(item(8, &drops));
        })
    };
    locked_rx.recv().unwrap();
    let before = tricolor_gc::stats().num_gc;
    collect();
    collect();
    assert!(tricolor_gc::stats().num_gc >= before + 2);
    done_tx.send(()).unwrap();
    holder.join().unwrap();
    collect();
    let g = m.lock();
    assert_eq!(g.iter().map(|i| i.id).collect::<Vec<_>>(), [7, 8]);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
}

/// Four threads push to one vector and add to one mutex-guarded counter while another thread
/// forces cycles: every element and every count is there at the end.
/// A thread that runs cycles back to back until `stop` is set (at most 10,000).
fn cycles_until(stop: &Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let stop = stop.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) && n < 10_000 {
            collect();
            n += 1;
        }
    })
}

#[test]
fn four_threads_share_a_vec_and_a_mutex_while_cycles_run() {
    const PER: u64 = 5_000;
    let drops = Arc::new(AtomicUsize::new(0));
    let v: Gc<GcVec<Gc<Item>>> = Gc::new(GcVec::new());
    let m = Gc::new(GcMutex::new((0u64, Vec::<Gc<Item>>::new())));
    let stop = Arc::new(AtomicBool::new(false));
    let cycles = cycles_until(&stop);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (v, m, drops) = (v.clone(), m.clone(), drops.clone());
            std::thread::spawn(move || {
                for i in 0..PER {
                    let id = t * PER + i;
                    v.push(item(id, &drops));
                    let mut g = m.lock();
                    g.0 += 1;
                    if i % 100 == 0 {
                        g.1.push(item(id, &drops));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    cycles.join().unwrap();
    collect();
    let mut seen: Vec<u64> = ids(&v);
    seen.sort_unstable();
    assert_eq!(seen, (0..4 * PER).collect::<Vec<_>>());
    let g = m.lock();
    assert_eq!(g.0, 4 * PER);
    assert_eq!(g.1.len(), 4 * PER as usize / 100);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
}

/// A vector outside the heap shared through an `Arc` that sits in a vector inside the heap
/// (review finding, 2026-12-07): one thread grows the shared vector, whose stores outside
/// marking take no marker word, while another pops and pushes back the `Arc`s (a pop while
/// marking shades the `Arc`, whose `Trace` leads to the shared vector) and a third runs cycles.
/// A shade that read the shared buffer could meet it being reallocated; marking tracers skip a
/// store outside the heap, whose elements are roots. Every element survives, none is dropped.
#[test]
fn a_vec_behind_an_arc_in_the_heap_grows_while_cycles_shade_it() {
    const PER: u64 = 100_000;
    let drops = Arc::new(AtomicUsize::new(0));
    let shared: Arc<GcVec<Gc<Item>>> = Arc::new(GcVec::new());
    let outer: Gc<GcVec<Arc<GcVec<Gc<Item>>>>> = Gc::new(GcVec::new());
    for _ in 0..8 {
        outer.push(shared.clone());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let cycles = cycles_until(&stop);
    let writer = {
        let (shared, drops) = (shared.clone(), drops.clone());
        std::thread::spawn(move || {
            for i in 0..PER {
                shared.push(item(i, &drops));
            }
        })
    };
    let shader = {
        let outer = outer.clone();
        std::thread::spawn(move || {
            for _ in 0..PER {
                let a = outer.pop().expect("eight arcs");
                outer.push(a);
            }
        })
    };
    writer.join().unwrap();
    shader.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    cycles.join().unwrap();
    collect();
    assert_eq!(outer.len(), 8);
    assert_eq!(ids(&shared), (0..PER).collect::<Vec<_>>());
    assert_eq!(drops.load(Ordering::SeqCst), 0);
}

/// `Tracer::recording` on a vector that another thread keeps growing (each push may move the
/// buffer): a store made outside marking takes no marker word, so the recording excludes
/// writers with the vector's own lock, and each recording sees a whole vector, never fewer
/// elements than the one before. (Miri's data-race check runs the same race in
/// `gc-core/tests/miri.rs`.)
#[test]
fn recording_a_vec_while_another_thread_grows_it() {
    const START: usize = 64;
    const PUSHES: u64 = 20_000;
    let v: Gc<GcVec<Gc<u64>>> = Gc::new((0..START as u64).map(Gc::new).collect());
    let writer = {
        let v = v.clone();
        std::thread::spawn(move || {
            for i in 0..PUSHES {
                v.put(i as usize % START, Gc::new(i));
                v.push(Gc::new(i));
            }
        })
    };
    let mut last = START;
    for _ in 0..2_000 {
        let mut t = tricolor_gc::Tracer::recording();
        tricolor_gc::Trace::trace(&*v, &mut t);
        let n = t.edges();
        assert!(
            (last..=START + PUSHES as usize).contains(&n),
            "{n} after {last}"
        );
        last = n;
    }
    writer.join().unwrap();
}

#[test]
fn elements_survive_cycles_started_anywhere_in_the_methods() {
    passes("methods_under_back_to_back_cycles");
}

/// The child: a thread runs cycles back to back while this one moves elements through every
/// method, checking the whole vector and map against a model after each step. Checkmark
/// verifies every cycle; poisoning turns a freed element into a wrong id.
fn methods_under_back_to_back_cycles() {
    let drops = Arc::new(AtomicUsize::new(0));
    let v: Gc<GcVec<Gc<Item>>> = Gc::new(GcVec::new());
    let m: Gc<GcMap<u64, Gc<Item>>> = Gc::new(GcMap::new());
    let mut model: Vec<u64> = Vec::new();
    // Elements handed out by the methods, kept a while (a removed element the barrier failed to
    // shade would be freed while held here) with the ids they must still have.
    let mut held: Vec<(Gc<Item>, u64)> = Vec::new();
    fn hold(held: &mut Vec<(Gc<Item>, u64)>, g: Gc<Item>, id: u64) {
        assert_eq!(g.id, id);
        if held.len() == 4096 {
            held.swap_remove(id as usize % 4096);
        }
        held.push((g, id));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let cycles = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                collect();
            }
        })
    };
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let before = tricolor_gc::stats().num_gc;
    // Bounded by steps; long enough for dozens of cycles to start at arbitrary points.
    for step in 0..1_000_000u64 {
        if step >= 20_000 && tricolor_gc::stats().num_gc - before >= 50 {
            break;
        }
        let r = next();
        let len = model.len() as u64;
        match r % 8 {
            0 | 1 => {
                if next() % 2 == 0 {
                    v.push(item(step, &drops));
                } else {
                    v.push_new(new_item(step, &drops));
                }
                model.push(step);
            }
            2 if len > 0 => {
                let i = (next() % len) as usize;
                if next() % 2 == 0 {
                    // A clone taken with no barrier and kept while its slot is overwritten: if
                    // the scan has not read the slot, the overwrite's shade keeps it alive.
                    hold(&mut held, v.get(i).unwrap(), model[i]);
                }
                match next() % 3 {
                    0 => hold(&mut held, v.set(i, item(step, &drops)), model[i]),
                    1 => v.put(i, item(step, &drops)),
                    _ => v.put_new(i, new_item(step, &drops)),
                }
                model[i] = step;
            }
            3 if len > 0 => {
                let i = (next() % (len + 1)) as usize;
                v.insert(i, item(step, &drops));
                model.insert(i, step);
            }
            4 if len > 0 => {
                let i = (next() % len) as usize;
                hold(&mut held, v.remove(i), model.remove(i));
            }
            5 if len > 1 => {
                let (i, j) = ((next() % len) as usize, (next() % len) as usize);
                v.swap(i, j);
                model.swap(i, j);
            }
            6 => {
                let k = next() % 512;
                if let Some(g) = m.get(&k).filter(|_| next() % 2 == 0) {
                    let id = g.id;
                    hold(&mut held, g, id);
                }
                match next() % 3 {
                    0 => m.put(k, item(step, &drops)),
                    1 => m.put_new(k, new_item(step, &drops)),
                    _ => {
                        if let Some(old) = m.insert(k, item(step, &drops)) {
                            let id = old.id;
                            hold(&mut held, old, id);
                        }
                    }
                }
                if next() % 3 == 0 {
                    if let Some(old) = m.remove(&(next() % 512)) {
                        let id = old.id;
                        hold(&mut held, old, id);
                    }
                }
            }
            _ => {
                if let Some(x) = v.pop() {
                    hold(&mut held, x, model.pop().unwrap());
                }
            }
        }
        if step % 64 == 0 {
            assert_eq!(ids(&v), model, "step {step}");
            for (g, id) in &held {
                assert_eq!(g.id, *id, "a handed-out element was freed (step {step})");
            }
            for (k, val) in m.view().iter() {
                assert!(val.id <= step && *k < 512);
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    cycles.join().unwrap();
    assert_eq!(ids(&v), model);
    let cycles_run = tricolor_gc::stats().num_gc - before;
    assert!(cycles_run >= 10, "only {cycles_run} cycles ran");
}

/// The child side (see `support`).
#[test]
fn child() {
    let Some(name) = support::scenario_name() else {
        return;
    };
    match name.as_str() {
        "methods_under_back_to_back_cycles" => methods_under_back_to_back_cycles(),
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario ok");
}
