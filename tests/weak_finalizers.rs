//! Weak references and finalizers, now that the sweeper clears weak references and queues
//! finalizers span by span and the stop does neither: a weak reference to a live object never
//! clears, one to a dead object does, one to a finalizable object clears when its finalizer is
//! queued (Go's rule for types known to have a finalizer; Java's, which also clears what only
//! the object reaches, for types not known yet), finalizers may resurrect what they reach, and
//! `upgrade`/`downgrade` race cycles and sweeps from several threads. The racing scenarios run in
//! child processes with freed slots poisoned and every mark verified (`support`).
//!
//! Tests in this binary run in parallel and share the heap: each uses its own types and counters.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::{passes, Rng};
use tricolor_gc::{collect, run_finalizers, Finalize, Gc, Trace, Weak};

/// Counts this thread's allocations, for the test that `downgrade` allocates no more than a
/// span's table of counts.
struct Counting;
thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}
// SAFETY: forwards to the system allocator; the counter is a thread-local `Cell` without
// destructor, usable at any time.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Trace, Finalize)]
struct Payload {
    id: u64,
    check: u64,
}

fn payload(id: u64) -> Gc<Payload> {
    Gc::new(Payload {
        id,
        check: id.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    })
}

fn intact(p: &Payload) -> bool {
    p.check == p.id.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Runs cycles until `done` and every finalizer queued is run; bounded.
fn cycles_until(done: impl Fn() -> bool) {
    for _ in 0..20 {
        collect();
        run_finalizers();
        if done() {
            return;
        }
    }
    assert!(done(), "not done after 20 cycles");
}

#[test]
fn weak_to_a_dead_object_clears_in_every_size_class() {
    let small: Vec<Gc<Payload>> = (0..10_000).map(payload).collect();
    let mid = Gc::new([7u64; 100]);
    let large = Gc::new([9u64; 8192]);
    let mut weak: Vec<Weak<Payload>> = Vec::new();
    for s in &small {
        weak.push(Gc::downgrade(s));
        weak.push(Gc::downgrade(s));
        weak.push(weak.last().unwrap().clone());
    }
    let (wm, wl) = (Gc::downgrade(&mid), Gc::downgrade(&large));
    collect();
    assert!(weak.iter().all(|w| w.upgrade().is_some()));
    assert_eq!(wm.upgrade().unwrap()[99] + wl.upgrade().unwrap()[8191], 16);
    drop((small, mid, large));
    collect();
    assert!(weak.iter().all(|w| w.upgrade().is_none()));
    assert!(wm.upgrade().is_none() && wl.upgrade().is_none());
    collect();
    assert!(
        weak.iter().all(|w| w.upgrade().is_none()),
        "a cleared weak stays cleared"
    );
}

#[test]
fn downgrade_allocates_nothing_but_its_spans_table_of_counts() {
    // Fresh objects, allocated together: at most two spans of 24-byte objects (341 each).
    let objs: Vec<Gc<Payload>> = (0..200).map(payload).collect();
    let mut weak: Vec<Weak<Payload>> = Vec::with_capacity(200 * 12);
    let before = ALLOCS.get();
    weak.extend(objs.iter().map(Gc::downgrade));
    assert!(
        ALLOCS.get() - before <= 2,
        "first downgrades allocated more than one table per span"
    );
    let after_first = ALLOCS.get();
    for _ in 0..10 {
        weak.extend(objs.iter().map(Gc::downgrade));
    }
    weak.extend(weak[..200].to_vec());
    assert_eq!(
        ALLOCS.get(),
        after_first + 1,
        "a downgrade or clone allocated"
    );
    assert!(weak
        .iter()
        .enumerate()
        .all(|(i, w)| w.upgrade().is_some_and(|g| Gc::ptr_eq(&g, &objs[i % 200]))));
}

// ---- finalizable objects: Go's rule once the type is known, Java's until then ----

/// What a finalizer saw: its own weak reference, and its child's.
#[derive(Default, Debug, PartialEq)]
struct Saw {
    own_weak_alive: bool,
    child_weak_alive: bool,
    child_value: u64,
}

macro_rules! finalizable {
    ($name:ident, $weaks:ident, $saw:ident, $ran:ident) => {
        #[derive(Trace)]
        struct $name {
            child: Gc<Payload>,
        }
        static $weaks: Mutex<Option<(Weak<$name>, Weak<Payload>)>> = Mutex::new(None);
        static $saw: Mutex<Vec<Saw>> = Mutex::new(Vec::new());
        static $ran: AtomicUsize = AtomicUsize::new(0);
        impl Finalize for $name {
            fn finalize(&self) {
                $ran.fetch_add(1, Ordering::SeqCst);
                if let Some((own, child)) = &*$weaks.lock().unwrap() {
                    $saw.lock().unwrap().push(Saw {
                        own_weak_alive: own.upgrade().is_some(),
                        child_weak_alive: child.upgrade().is_some(),
                        child_value: self.child.id,
                    });
                }
            }
        }
    };
}

finalizable!(KnownFin, KNOWN_WEAKS, KNOWN_SAW, KNOWN_RAN);
finalizable!(FreshFin, FRESH_WEAKS, FRESH_SAW, FRESH_RAN);

#[test]
fn weak_to_a_finalizable_object_clears_when_its_finalizer_is_queued() {
    // One object first, so that the type is known to override `finalize`.
    drop(Gc::new(KnownFin { child: payload(0) }));
    cycles_until(|| KNOWN_RAN.load(Ordering::SeqCst) == 1);

    let obj = Gc::new(KnownFin { child: payload(42) });
    let (own, child) = (Gc::downgrade(&obj), Gc::downgrade(&obj.child));
    *KNOWN_WEAKS.lock().unwrap() = Some((own.clone(), child.clone()));
    collect();
    assert!(own.upgrade().is_some(), "a weak to a live object cleared");
    drop(obj);
    collect();
    run_finalizers();
    assert!(own.upgrade().is_none());
    // Go's rule: the object's weak clears as the finalizer is queued; what it reaches stays
    // alive and weakly reachable while it waits.
    assert_eq!(
        KNOWN_SAW.lock().unwrap().as_slice(),
        [Saw {
            own_weak_alive: false,
            child_weak_alive: true,
            child_value: 42
        }]
    );
    cycles_until(|| child.upgrade().is_none());
    assert_eq!(KNOWN_RAN.load(Ordering::SeqCst), 2, "a finalizer ran twice");
}

#[test]
fn a_type_not_known_yet_gets_javas_rule_for_weak_references() {
    let obj = Gc::new(FreshFin { child: payload(7) });
    let (own, child) = (Gc::downgrade(&obj), Gc::downgrade(&obj.child));
    *FRESH_WEAKS.lock().unwrap() = Some((own.clone(), child.clone()));
    drop(obj);
    cycles_until(|| FRESH_RAN.load(Ordering::SeqCst) == 1);
    // The object and its child were found unreachable together: both weaks cleared before the
    // finalizer ran, yet the child is alive for it.
    assert_eq!(
        FRESH_SAW.lock().unwrap().as_slice(),
        [Saw {
            own_weak_alive: false,
            child_weak_alive: false,
            child_value: 7
        }]
    );
    assert!(own.upgrade().is_none() && child.upgrade().is_none());
}

#[derive(Trace)]
struct Resurrector {
    child: Gc<Payload>,
}
static RESURRECTED: Mutex<Vec<Gc<Payload>>> = Mutex::new(Vec::new());
static RESURRECTOR_RAN: AtomicUsize = AtomicUsize::new(0);
impl Finalize for Resurrector {
    fn finalize(&self) {
        RESURRECTOR_RAN.fetch_add(1, Ordering::SeqCst);
        RESURRECTED.lock().unwrap().push(self.child.clone());
    }
}

#[test]
fn a_finalizer_may_resurrect_what_it_reaches() {
    // The first round teaches the collector the type; the second runs with Go's rule.
    for round in 0..2u64 {
        let objs: Vec<Gc<Resurrector>> = (0..1000)
            .map(|i| {
                Gc::new(Resurrector {
                    child: payload(round * 1000 + i),
                })
            })
            .collect();
        let own: Vec<Weak<Resurrector>> = objs.iter().map(Gc::downgrade).collect();
        let child: Vec<Weak<Payload>> = objs.iter().map(|o| Gc::downgrade(&o.child)).collect();
        drop(objs);
        let want = (round as usize + 1) * 1000;
        cycles_until(|| RESURRECTOR_RAN.load(Ordering::SeqCst) == want);
        for _ in 0..3 {
            collect();
            run_finalizers();
        }
        assert_eq!(RESURRECTOR_RAN.load(Ordering::SeqCst), want, "ran twice");
        assert!(own.iter().all(|w| w.upgrade().is_none()));
        // The children live on in the global list, intact.
        let kept = RESURRECTED.lock().unwrap();
        assert_eq!(kept.len(), want);
        assert!(kept.iter().all(|p| intact(p)));
        let alive = child.iter().filter(|w| w.upgrade().is_some()).count();
        if round == 0 {
            // Java's rule while the type was unknown: cleared though resurrected afterwards.
            assert_eq!(alive, 0);
        } else {
            assert_eq!(
                alive, 1000,
                "a weak to a resurrected child cleared under Go's rule"
            );
        }
        // The cleared bit is the object's: a `Weak` made now from a resurrected child agrees
        // with the ones made before (round 0's children stay cleared, round 1's live).
        let fresh = kept
            .iter()
            .filter(|p| Gc::downgrade(p).upgrade().is_some())
            .count();
        assert_eq!(fresh, round as usize * 1000);
    }
}

// ---- a million finalizers, registered from four threads ----

#[derive(Trace)]
struct Counted {
    id: u32,
}
static SEEN: [AtomicU64; 1 << 14] = [const { AtomicU64::new(0) }; 1 << 14];
static TWICE: AtomicUsize = AtomicUsize::new(0);
static COUNTED_RAN: AtomicUsize = AtomicUsize::new(0);
impl Finalize for Counted {
    fn finalize(&self) {
        let (w, b) = (self.id as usize / 64, self.id % 64);
        if SEEN[w].fetch_or(1 << b, Ordering::SeqCst) & (1 << b) != 0 {
            TWICE.fetch_add(1, Ordering::SeqCst);
        }
        COUNTED_RAN.fetch_add(1, Ordering::SeqCst);
    }
}

/// Half the objects die while their type is not known yet (the resurrection pass), half after
/// (the sweeper), all allocated by four threads at once.
fn finalizers_run_exactly_once_for_a_million_objects() {
    const N: u32 = 1 << 20;
    for half in 0..2u32 {
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                std::thread::spawn(move || {
                    let per = N / 8;
                    let base = half * (N / 2) + t * per;
                    for i in 0..per {
                        drop(Gc::new(Counted { id: base + i }));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let want = ((half + 1) * (N / 2)) as usize;
        cycles_until(|| COUNTED_RAN.load(Ordering::SeqCst) == want);
    }
    for _ in 0..2 {
        collect();
        run_finalizers();
    }
    assert_eq!(TWICE.load(Ordering::SeqCst), 0, "a finalizer ran twice");
    assert_eq!(COUNTED_RAN.load(Ordering::SeqCst), N as usize);
    assert!(SEEN[..(N as usize / 64)]
        .iter()
        .all(|w| w.load(Ordering::SeqCst) == !0));
    assert_eq!(tricolor_gc::__private::finalizers_registered(), 0);
}

#[test]
fn a_million_finalizers_run_exactly_once() {
    passes("finalizers_run_exactly_once_for_a_million_objects");
}

// ---- upgrade and downgrade racing cycles and sweeps ----

/// A thread that runs cycles back to back until stopped, counting them.
struct Cycler {
    stop: Arc<AtomicBool>,
    ran: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl Cycler {
    fn start() -> Cycler {
        let stop = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, ran) = (stop.clone(), ran.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    collect();
                    ran.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        Cycler { stop, ran, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
    }
}

/// Four threads each keep half of their objects and drop the rest, then upgrade and downgrade
/// all of them over and over while another thread runs cycles back to back (until 30 have run,
/// and at least 60 rounds: bounded by a round count) and the workers' garbage keeps spans being
/// swept lazily. A kept object's weak never fails; a dropped one's may
/// succeed (until the cycle that finds it) with the object intact, and once it fails it fails
/// forever. Poisoned frees would show a freed object handed out.
fn upgrade_races_cycles_from_several_threads() {
    const CYCLES: usize = 30;
    let cycles = Cycler::start();
    let ran = cycles.ran.clone();
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let ran = ran.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0x5EED + t);
                let objs: Vec<Gc<Payload>> = (0..2000).map(|i| payload(t << 32 | i)).collect();
                let weak: Vec<Weak<Payload>> = objs.iter().map(Gc::downgrade).collect();
                let kept: Vec<Gc<Payload>> = objs.into_iter().step_by(2).collect();
                let mut gone = vec![false; weak.len()];
                let mut junk: Vec<(Vec<Weak<Payload>>, Vec<bool>)> = Vec::new();
                let mut held = std::collections::VecDeque::new();
                for round in 0.. {
                    if round >= 60 && ran.load(Ordering::SeqCst) >= CYCLES {
                        break;
                    }
                    assert!(round < 100_000, "the cycles did not run");
                    for _ in 0..weak.len() {
                        let i = rng.below(weak.len());
                        match weak[i].upgrade() {
                            Some(p) => {
                                assert!(!gone[i], "a cleared weak upgraded again");
                                assert!(intact(&p) && p.id == (t << 32 | i as u64));
                                if i.is_multiple_of(2) {
                                    assert!(Gc::ptr_eq(&p, &kept[i / 2]));
                                    let again = Gc::downgrade(&p);
                                    assert!(again.upgrade().is_some_and(|q| Gc::ptr_eq(&q, &p)));
                                }
                            }
                            None => {
                                assert!(!i.is_multiple_of(2), "the weak of a kept object cleared");
                                gone[i] = true;
                            }
                        }
                    }
                    // Garbage with weaks of its own, for the sweepers to clear, upgraded for a few
                    // rounds: some upgrades land between the stop that finds them dead and the
                    // sweep of their span, where `upgrade` must read the mark bits.
                    let ws: Vec<Weak<Payload>> =
                        (0..500).map(|k| Gc::downgrade(&payload(k))).collect();
                    junk.push((ws, vec![false; 500]));
                    if junk.len() > 8 {
                        junk.remove(0);
                    }
                    for (ws, gone) in &mut junk {
                        for (k, w) in ws.iter().enumerate() {
                            match w.upgrade() {
                                Some(p) => {
                                    assert!(!gone[k], "a cleared weak upgraded again");
                                    assert!(intact(&p) && p.id == k as u64);
                                    // Held for a while: an object handed out after it was
                                    // found dead would be swept under the handle (the sweeper
                                    // aborts on a rooted dead object) or read back poisoned.
                                    held.push_back(p);
                                    if held.len() > 4000 {
                                        assert!(intact(&held.pop_front().unwrap()));
                                    }
                                }
                                None => gone[k] = true,
                            }
                        }
                    }
                }
                assert!(held.iter().all(|p| intact(p)));
                drop(kept);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    cycles.stop();
}

#[test]
fn upgrade_and_downgrade_race_cycles_from_several_threads() {
    passes("upgrade_races_cycles_from_several_threads");
}

/// Drop glue that holds the background sweeper until the test lets it go, so that the spans it
/// has not reached stay unswept for as long as the test needs.
struct StallOnDrop;
static STALLED: AtomicBool = AtomicBool::new(false);
static GO: AtomicBool = AtomicBool::new(false);
impl Drop for StallOnDrop {
    fn drop(&mut self) {
        STALLED.store(true, Ordering::SeqCst);
        while !GO.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    }
}
#[derive(Trace, Finalize)]
struct Staller {
    #[gc(ignore)]
    _s: StallOnDrop,
}

/// Deterministic: a cycle finds 5,000 objects with weak references dead, and its sweep stops in
/// the drop glue of an object whose size class the sweeper takes first, so the dead objects'
/// spans are still unswept (their weak references not cleared yet) when the test upgrades: every
/// upgrade must read the span's mark bits and say dead.
fn upgrade_between_the_stop_and_the_sweep() {
    use tricolor_gc::__private::size_class_of;
    let header = 2 * std::mem::size_of::<usize>();
    assert!(
        size_class_of(header + std::mem::size_of::<Staller>(), 8)
            < size_class_of(header + std::mem::size_of::<Payload>(), 8),
        "the staller must be swept before the payloads"
    );
    let objs: Vec<Gc<Payload>> = (0..5000).map(payload).collect();
    let weak: Vec<Weak<Payload>> = objs.iter().map(Gc::downgrade).collect();
    let keep: Vec<Gc<Payload>> = objs.iter().step_by(100).cloned().collect();
    drop(objs);
    drop(Gc::new(Staller { _s: StallOnDrop }));
    let cycle = std::thread::spawn(collect);
    while !STALLED.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    for (i, w) in weak.iter().enumerate() {
        let got = w.upgrade();
        if i.is_multiple_of(100) {
            assert!(
                got.is_some_and(|p| intact(&p)),
                "a live object's weak failed"
            );
        } else {
            assert!(
                got.is_none(),
                "an object found dead was handed out before its sweep"
            );
        }
    }
    GO.store(true, Ordering::SeqCst);
    cycle.join().unwrap();
    assert_eq!(
        weak.iter().filter(|w| w.upgrade().is_some()).count(),
        keep.len()
    );
}

#[test]
fn an_upgrade_between_the_stop_and_the_sweep_says_dead() {
    passes("upgrade_between_the_stop_and_the_sweep");
}

/// Values whose drops are counted, in a child process where nothing else drops them.
#[derive(Trace, Finalize)]
struct DropCounted {
    id: u64,
    #[gc(ignore)]
    _d: CountDrop,
}
struct CountDrop;
static DROP_COUNTED_DROPS: AtomicUsize = AtomicUsize::new(0);
impl Drop for CountDrop {
    fn drop(&mut self) {
        DROP_COUNTED_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}
fn drop_counted(id: u64) -> Gc<DropCounted> {
    Gc::new(DropCounted { id, _d: CountDrop })
}

/// A `Weak` points at its object and counts on it (module `weakhandle`): `downgrade` allocates
/// no object; a dead object's value is dropped by the sweep that finds it dead, as if it had no
/// `Weak`, but its memory stays (a `()`) until the first cycle after its last `Weak` is gone.
/// DropCounted exactly, in a child process where nothing else allocates.
fn dead_objects_keep_their_memory_until_their_last_weak() {
    let n = 10_000;
    let objects = || tricolor_gc::stats().heap_objects;
    collect();
    let base = objects();
    // `Weak::new` points outside the heap: it allocates nothing, ever.
    let never: Vec<Weak<DropCounted>> = (0..100).map(|_| Weak::new()).collect();
    assert!(never.iter().all(|w| w.upgrade().is_none()));
    assert!(Weak::ptr_eq(&never[0], &never[99].clone()));
    drop(never);
    assert_eq!(objects(), base, "Weak::new allocated");
    let objs: Vec<Gc<DropCounted>> = (0..n).map(drop_counted).collect();
    let weak: Vec<Weak<DropCounted>> = objs.iter().map(Gc::downgrade).collect();
    let again: Vec<Weak<DropCounted>> = objs.iter().map(Gc::downgrade).collect();
    collect();
    assert_eq!(objects(), base + n, "a downgrade allocated an object");
    drop(again);
    collect();
    assert_eq!(objects(), base + n);
    assert!(weak
        .iter()
        .enumerate()
        .all(|(i, w)| w.upgrade().is_some_and(|g| g.id == i as u64)));
    let kept = Gc::downgrade(&objs[0]);
    drop(objs);
    collect();
    assert_eq!(
        DROP_COUNTED_DROPS.load(Ordering::SeqCst),
        n as usize,
        "a dead object's value waited for its Weaks"
    );
    assert_eq!(
        objects(),
        base + n,
        "the Weaks keep the memory of dead objects"
    );
    assert!(weak.iter().all(|w| w.upgrade().is_none()));
    assert!(kept.upgrade().is_none());
    drop(weak);
    collect();
    assert_eq!(objects(), base + 1, "only `kept` keeps its object's memory");
    collect();
    assert_eq!(objects(), base + 1, "memory still counted on was freed");
    drop(kept);
    collect();
    assert_eq!(objects(), base, "memory outlived its last Weak");
    assert_eq!(
        DROP_COUNTED_DROPS.load(Ordering::SeqCst),
        n as usize,
        "a value was dropped twice"
    );
}

/// Downgrades of the same fresh objects from four threads at once, then clones and drops of
/// their `Weak`s from four threads at once after the objects died: the counts must come out
/// exact (a lost increment frees memory a `Weak` reads; a lost decrement keeps it forever).
/// DropCounted exactly, in a child process.
fn racing_downgrades_and_drops_count_exactly() {
    let objects = || tricolor_gc::stats().heap_objects;
    collect();
    let base = objects();
    let n = 2_000;
    let objs: Vec<Gc<Payload>> = (0..n).map(payload).collect();
    let go = std::sync::Barrier::new(4);
    let weaks: Vec<Vec<Weak<Payload>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    go.wait();
                    objs.iter().map(Gc::downgrade).collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for i in 0..n as usize {
        assert!((1..4).all(|t| Weak::ptr_eq(&weaks[0][i], &weaks[t][i])));
        assert!(Gc::ptr_eq(&weaks[3][i].upgrade().unwrap(), &objs[i]));
    }
    collect();
    assert_eq!(objects(), base + n, "a downgrade allocated an object");
    drop(objs);
    collect();
    assert_eq!(objects(), base + n, "memory with Weaks left was freed");
    std::thread::scope(|s| {
        for w in weaks {
            let go = &go;
            s.spawn(move || {
                go.wait();
                let more: Vec<Weak<Payload>> = w.iter().map(Weak::clone).collect();
                assert!(more.iter().all(|m| m.upgrade().is_none()));
                drop(w);
                drop(more);
            });
        }
    });
    collect();
    collect();
    assert_eq!(objects(), base, "memory outlived its last Weak");
}

/// Values counted when built and when dropped, for the lifecycle stress below.
struct Lifecycle;
static LIFE_BUILT: AtomicUsize = AtomicUsize::new(0);
static LIFE_DROPPED: AtomicUsize = AtomicUsize::new(0);
impl Lifecycle {
    fn new() -> Lifecycle {
        LIFE_BUILT.fetch_add(1, Ordering::SeqCst);
        Lifecycle
    }
}
impl Drop for Lifecycle {
    fn drop(&mut self) {
        LIFE_DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}
#[derive(Trace, Finalize)]
struct Plain {
    id: u64,
    check: u64,
    #[gc(ignore)]
    _l: Lifecycle,
}
#[derive(Trace, Finalize)]
struct SelfRef {
    me: Weak<SelfRef>,
    id: u64,
    #[gc(ignore)]
    _l: Lifecycle,
}

/// Four threads make objects (a quarter through `new_cyclic`, holding a `Weak` to themselves),
/// downgrade them, clone, upgrade and drop `Weak`s and drop the objects, in a seeded order,
/// while a fifth runs cycles back to back; rounds of 20,000 operations per thread, at least 5 and
/// until 40 cycles have run (bounded by a round count). Every upgrade hands out
/// the intact object its `Weak` was made from. Then everything is dropped: every value must have
/// been dropped exactly once (a lost `Weak` count would free memory under a reader, poisoned
/// here; a leaked one would keep memory forever) and the heap must be back where it started.
fn weak_lifecycles_under_cycles_count_exactly() {
    enum Obj {
        Plain(Gc<Plain>),
        Cyclic(Gc<SelfRef>),
    }
    enum W {
        Plain(Weak<Plain>, u64),
        Cyclic(Weak<SelfRef>, u64),
    }
    let objects = || tricolor_gc::stats().heap_objects;
    collect();
    collect();
    let base = objects();
    let cycler = Cycler::start();
    let ran = cycler.ran.clone();
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let ran = ran.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0xC0FFEE + t);
                let mut strong: Vec<Obj> = Vec::new();
                let mut weak: Vec<W> = Vec::new();
                let mut next = t << 40;
                for op in 0usize.. {
                    if op % 20_000 == 0 && op >= 100_000 && ran.load(Ordering::SeqCst) >= 40 {
                        break;
                    }
                    assert!(op < 100_000_000, "the cycles did not run");
                    match rng.below(8) {
                        0 | 1 => {
                            next += 1;
                            let id = next;
                            strong.push(if rng.below(4) == 0 {
                                Obj::Cyclic(Gc::new_cyclic(|me| SelfRef {
                                    me: me.clone(),
                                    id,
                                    _l: Lifecycle::new(),
                                }))
                            } else {
                                Obj::Plain(Gc::new(Plain {
                                    id,
                                    check: id.wrapping_mul(3),
                                    _l: Lifecycle::new(),
                                }))
                            });
                            if strong.len() > 300 {
                                strong.swap_remove(rng.below(strong.len()));
                            }
                        }
                        2 | 3 if !strong.is_empty() => {
                            weak.push(match &strong[rng.below(strong.len())] {
                                Obj::Plain(g) => W::Plain(Gc::downgrade(g), g.id),
                                Obj::Cyclic(g) => W::Cyclic(Gc::downgrade(g), g.id),
                            });
                        }
                        4 if !weak.is_empty() => {
                            let c = match &weak[rng.below(weak.len())] {
                                W::Plain(w, id) => W::Plain(w.clone(), *id),
                                W::Cyclic(w, id) => W::Cyclic(w.clone(), *id),
                            };
                            weak.push(c);
                        }
                        5 | 6 if !weak.is_empty() => match &weak[rng.below(weak.len())] {
                            W::Plain(w, id) => {
                                if let Some(p) = w.upgrade() {
                                    assert!(p.id == *id && p.check == id.wrapping_mul(3));
                                }
                            }
                            W::Cyclic(w, id) => {
                                if let Some(p) = w.upgrade() {
                                    assert_eq!(p.id, *id);
                                    let me = p.me.upgrade().expect("a live object's own Weak");
                                    assert!(Gc::ptr_eq(&me, &p));
                                }
                            }
                        },
                        _ if !weak.is_empty() => {
                            weak.swap_remove(rng.below(weak.len()));
                        }
                        _ => {}
                    }
                    if weak.len() > 2_000 {
                        weak.swap_remove(rng.below(weak.len()));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    cycler.stop();
    for _ in 0..3 {
        collect();
    }
    assert_eq!(
        LIFE_DROPPED.load(Ordering::SeqCst),
        LIFE_BUILT.load(Ordering::SeqCst),
        "a value was dropped twice or never"
    );
    assert_eq!(objects(), base, "memory outlived its last Weak");
}

#[test]
fn weak_lifecycles_under_cycles_count_exactly_in_a_child() {
    passes("weak_lifecycles_under_cycles_count_exactly");
}

#[test]
fn racing_downgrades_and_drops_count_exactly_in_a_child() {
    passes("racing_downgrades_and_drops_count_exactly");
}

#[test]
fn queued_objects_survive_cycles_while_the_finalizer_thread_waits_in_a_child() {
    passes("queued_objects_survive_cycles_while_the_finalizer_thread_waits");
}

#[test]
fn dead_objects_keep_their_memory_until_their_last_weak_in_a_child() {
    passes("dead_objects_keep_their_memory_until_their_last_weak");
}

/// The child side (see `support`).
#[test]
fn child() {
    let Some(name) = support::scenario_name() else {
        return;
    };
    match name.as_str() {
        "finalizers_run_exactly_once_for_a_million_objects" => {
            finalizers_run_exactly_once_for_a_million_objects()
        }
        "upgrade_races_cycles_from_several_threads" => upgrade_races_cycles_from_several_threads(),
        "upgrade_between_the_stop_and_the_sweep" => upgrade_between_the_stop_and_the_sweep(),
        "dead_objects_keep_their_memory_until_their_last_weak" => {
            dead_objects_keep_their_memory_until_their_last_weak()
        }
        "racing_downgrades_and_drops_count_exactly" => racing_downgrades_and_drops_count_exactly(),
        "weak_lifecycles_under_cycles_count_exactly" => {
            weak_lifecycles_under_cycles_count_exactly()
        }
        "queued_objects_survive_cycles_while_the_finalizer_thread_waits" => {
            queued_objects_survive_cycles_while_the_finalizer_thread_waits()
        }
        other => panic!("unknown scenario {other}"),
    }
    println!("scenario ok");
}

/// A finalizable object with drop glue; the finalizer of object 0 waits at [`GATE`].
#[derive(Trace)]
struct Gated {
    id: u64,
    check: Box<u64>,
}

impl Gated {
    fn new(id: u64) -> Gated {
        Gated {
            id,
            check: Box::new(id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        }
    }
}

/// (entered: object 0's finalizer is running, open: it may return).
static GATE: (Mutex<(bool, bool)>, std::sync::Condvar) =
    (Mutex::new((false, false)), std::sync::Condvar::new());
static GATED_RAN: AtomicUsize = AtomicUsize::new(0);
static GATED_BAD: AtomicUsize = AtomicUsize::new(0);

impl Finalize for Gated {
    fn finalize(&self) {
        if self.id == 0 {
            let mut g = GATE.0.lock().unwrap();
            g.0 = true;
            GATE.1.notify_all();
            while !g.1 {
                g = GATE.1.wait(g).unwrap();
            }
        }
        if *self.check != self.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) {
            GATED_BAD.fetch_add(1, Ordering::SeqCst);
        }
        GATED_RAN.fetch_add(1, Ordering::SeqCst);
    }
}

/// The finalizer thread waits inside the first finalizer, so the objects that die after it stay
/// queued, held only by the queue's root (a 0 → 1 taken by the sweeper or the resurrection
/// pass), through cycles that allocate nothing: their spans must stay flagged for the root scan
/// (`protocol::roots`). The values have drop glue, so a sweep of one the scan missed finds its
/// root count and aborts (and a freed one would fail its check, poisoned).
fn queued_objects_survive_cycles_while_the_finalizer_thread_waits() {
    const N: u64 = 20_000;
    drop(Gc::new(Gated::new(0)));
    for _ in 0..20 {
        collect();
        let g = GATE.0.lock().unwrap();
        let (g, _) = GATE
            .1
            .wait_timeout_while(g, std::time::Duration::from_millis(100), |g| !g.0)
            .unwrap();
        if g.0 {
            break;
        }
    }
    assert!(GATE.0.lock().unwrap().0, "the first finalizer never ran");
    for i in 1..=N {
        drop(Gc::new(Gated::new(i)));
    }
    // They die and are queued; then quiet cycles, with only the queue holding them.
    for _ in 0..5 {
        collect();
    }
    assert_eq!(GATED_RAN.load(Ordering::SeqCst), 0);
    {
        let mut g = GATE.0.lock().unwrap();
        g.1 = true;
        GATE.1.notify_all();
    }
    cycles_until(|| GATED_RAN.load(Ordering::SeqCst) == N as usize + 1);
    assert_eq!(
        GATED_BAD.load(Ordering::SeqCst),
        0,
        "a queued object was freed"
    );
}
