//! Regression tests for the ways safe code (or a contract-violating `unsafe impl Trace`) could
//! make the collector free a live object, deadlock, or die silently (issue 15; the original
//! reproductions are in `../shared/repros`).
//!
//! Each scenario runs in a fresh process: this test binary re-executed with
//! `TRICOLOR_SCENARIO=<name>` and `--exact child`. A scenario that corrupts the heap, overflows
//! a stack, aborts or hangs then fails only its own test, and the scenarios that learn
//! per-process state (which types have a finalizer) start from nothing. Freed slots are
//! poisoned (`GCPOISON=1`) and every mark termination is verified (`GCCHECKMARK=1`), so a
//! freed object read again shows up as garbage rather than as a plausible old value.

mod support;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::{passes, run, Counter};
use tricolor_gc::{collect, run_finalizers, Finalize, Gc, GcCell, Trace, Tracer};

/// The child side: runs the scenario named by `TRICOLOR_SCENARIO` (nothing when unset, so that
/// a plain `cargo test` run passes this test trivially).
#[test]
fn child() {
    let Some(name) = support::scenario_name() else {
        return;
    };
    // Deep structures are built and unrooted on the mutator's side, which needs the stack a
    // plain Rust program would need for them; the collector's own threads are what is tested.
    let t = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || match name.as_str() {
            "forgotten_guard" => forgotten_guard(),
            "forgotten_guard_nested" => forgotten_guard_nested(),
            "hash_panics_while_a_guard_drops" => hash_panics_while_a_guard_drops(),
            "panic_inside_gc_new" => panic_inside_gc_new(),
            "allocation_inside_gc_new" => allocation_inside_gc_new(),
            "collect_from_user_hash" => collect_from_user_hash(),
            "collect_inside_an_operation" => collect_inside_an_operation(),
            "finalizer_calls_run_finalizers" => finalizer_calls_run_finalizers(),
            "deep_box_dropped_by_the_sweeper" => deep_box_dropped_by_the_sweeper(),
            "deep_box_traced_by_the_marker" => deep_box_traced_by_the_marker(),
            "trace_panics_on_a_marker" => trace_panics_on_a_marker(),
            "empty_finalize_is_no_finalizer" => empty_finalize_is_no_finalizer(),
            "overridden_finalize_runs" => overridden_finalize_runs(),
            "empty_aligned_values" => empty_aligned_values(),
            "arrays_without_a_header" => arrays_without_a_header(),
            other => panic!("unknown scenario {other}"),
        })
        .unwrap();
    t.join().unwrap();
    println!("scenario ok");
}

/// Fills recently freed slots of common classes with other data.
fn churn() -> Vec<Gc<String>> {
    (0..100_000).map(|i| Gc::new(format!("junk {i}"))).collect()
}

// --- 1. A leaked `GcCellRefMut`, then the cell moved into the heap -------------------------

#[test]
fn a_forgotten_guard_leaks_instead_of_freeing_the_cells_contents() {
    passes("forgotten_guard");
}

fn forgotten_guard() {
    let inner = GcCell::new(Some(Gc::new(String::from("still referenced"))));
    let w = Gc::downgrade(inner.borrow().as_ref().unwrap());
    std::mem::forget(inner.borrow_mut());
    let outer = Gc::new(GcCell::new(inner));
    for _ in 0..3 {
        collect();
    }
    assert!(w.upgrade().is_some(), "the cell's contents were freed");
    let junk = churn();
    let mut og = outer.borrow_mut();
    let s = og.get_mut().as_ref().unwrap();
    assert_eq!(s.as_str(), "still referenced");
    drop(og);
    drop(junk);
}

#[test]
fn a_forgotten_guard_of_a_cell_already_in_the_heap_leaks_too() {
    passes("forgotten_guard_nested");
}

/// The cell is inside the heap when its guard is forgotten, and moves between heap objects
/// afterwards (an outer cell's release unroots it again).
fn forgotten_guard_nested() {
    let outer = Gc::new(GcCell::new(GcCell::new(vec![Gc::new(String::from(
        "kept",
    ))])));
    let w = Gc::downgrade(&outer.borrow().borrow()[0]);
    std::mem::forget(outer.borrow().borrow_mut());
    for _ in 0..3 {
        drop(outer.borrow_mut()); // roots and unroots the locked inner cell
        collect();
    }
    assert!(
        w.upgrade().is_some(),
        "the locked cell's contents were freed"
    );
    let junk = churn();
    let mut og = outer.borrow_mut();
    assert_eq!(og.get_mut()[0].as_str(), "kept");
    drop(og);
    drop(junk);
}

// --- 2. A user `Hash` that panics while a guard drops -------------------------------------

static PANIC_IN_HASH: AtomicBool = AtomicBool::new(false);

#[derive(Trace, Finalize, PartialEq, Eq)]
struct Key {
    id: u64,
}
impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        if PANIC_IN_HASH.load(Ordering::SeqCst) && self.id == 50 {
            panic!("user Hash panicked");
        }
        self.id.hash(h)
    }
}

#[test]
fn a_panicking_hash_cannot_leave_a_cell_locked_with_its_entries_unrooted() {
    passes("hash_panics_while_a_guard_drops");
}

fn hash_panics_while_a_guard_drops() {
    type Map = HashMap<Gc<Key>, Gc<u64>>;
    let outer: Gc<GcCell<GcCell<Map>>> = Gc::new(GcCell::new(GcCell::new(HashMap::new())));
    {
        let o = outer.borrow();
        let mut m = o.borrow_mut();
        for id in 0..100 {
            m.insert(Gc::new(Key { id }), Gc::new(0x1000 + id));
        }
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let o = outer.borrow();
        let m = o.borrow_mut();
        PANIC_IN_HASH.store(true, Ordering::SeqCst);
        drop(m);
    }));
    PANIC_IN_HASH.store(false, Ordering::SeqCst);
    assert!(
        outer.borrow().try_borrow().is_ok(),
        "the cell stayed locked after the panic"
    );
    for _ in 0..3 {
        collect();
    }
    let junk = churn();
    let o = outer.borrow();
    let m = o.borrow();
    assert_eq!(m.len(), 100);
    for (k, v) in m.iter() {
        assert_eq!(**v, 0x1000 + k.id, "an entry was freed and reused");
    }
    drop(m);
    drop(o);
    drop(junk);
}

// --- 3. A panic inside `Gc::new` ---------------------------------------------------------

#[derive(Trace, Finalize)]
struct Holder {
    map: HashMap<Gc<Key>, Vec<u8>>,
    #[gc(ignore)]
    _c: Counter,
}

fn holder(keys: impl Iterator<Item = u64>, drops: &Arc<AtomicUsize>) -> Holder {
    Holder {
        map: keys
            .map(|i| (Gc::new(Key { id: i }), vec![7u8; 100]))
            .collect(),
        _c: Counter(drops.clone()),
    }
}

/// A hand-written `unroot` that panics when armed: a contract violation, but one that must not
/// corrupt the heap.
#[derive(Finalize)]
struct PanicsOnUnroot {
    child: Gc<u64>,
    armed: bool,
    _c: Counter,
}
// SAFETY: visits the one handle (and breaks the no-panic contract on purpose).
unsafe impl Trace for PanicsOnUnroot {
    fn trace(&self, t: &mut Tracer) {
        self.child.trace(t)
    }
    unsafe fn root(&mut self) {
        // SAFETY: forwarded.
        unsafe { self.child.root() }
    }
    unsafe fn unroot(&mut self) {
        // SAFETY: forwarded.
        unsafe { self.child.unroot() };
        if self.armed {
            panic!("unroot panicked");
        }
    }
}

#[test]
fn a_panic_inside_gc_new_leaves_no_half_allocated_slot() {
    passes("panic_inside_gc_new");
}

/// Each part first fills slots of the class with objects that have drop glue and lets the
/// sweeper free them, then panics inside `Gc::new`, then allocates more of the class (which
/// must not publish a slot the panicking allocation abandoned), then counts drops exactly.
fn panic_inside_gc_new() {
    let drops = Arc::new(AtomicUsize::new(0));
    let count = || drops.load(Ordering::SeqCst);
    // A user `Hash` (a key with id 50) that panics while the map moves into the heap.
    let v: Vec<Gc<Holder>> = (0..64).map(|_| Gc::new(holder(0..2, &drops))).collect();
    drop(v);
    collect();
    collect();
    assert_eq!(count(), 64);
    let h = holder(50..51, &drops);
    PANIC_IN_HASH.store(true, Ordering::SeqCst);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || Gc::new(h)));
    PANIC_IN_HASH.store(false, Ordering::SeqCst);
    drop(r);
    let keep: Vec<Gc<Holder>> = (0..4).map(|_| Gc::new(holder(0..1, &drops))).collect();
    collect();
    collect();
    assert_eq!(count(), 65, "each holder is dropped exactly once");
    drop(keep);
    collect();
    collect();
    assert_eq!(count(), 69);

    // A hand-written `unroot` that panics: the value is dropped by the unwinding, once.
    let child = Gc::new(5u64);
    let w = Gc::downgrade(&child);
    let object = |armed| PanicsOnUnroot {
        child: child.clone(),
        armed,
        _c: Counter(drops.clone()),
    };
    let v: Vec<Gc<PanicsOnUnroot>> = (0..64).map(|_| Gc::new(object(false))).collect();
    drop(v);
    collect();
    collect();
    assert_eq!(count(), 69 + 64);
    let value = object(true);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || Gc::new(value)));
    assert!(r.is_err());
    assert_eq!(count(), 69 + 65);
    assert_eq!(Gc::root_count(&child), 1, "only `child` roots it now");
    let more: Vec<Gc<PanicsOnUnroot>> = (0..4).map(|_| Gc::new(object(false))).collect();
    collect();
    collect();
    assert_eq!(count(), 69 + 65, "a dead slot was dropped again");
    assert_eq!(*w.upgrade().unwrap(), 5);
    drop(more);
    collect();
    collect();
    assert_eq!(count(), 69 + 69);
    drop(child);
}

// --- 4. An allocation inside `Gc::new` ----------------------------------------------------

static ALLOC_IN_HASH: AtomicBool = AtomicBool::new(false);

#[derive(Trace, Finalize, PartialEq, Eq)]
struct AllocKey {
    id: u64,
}
type AllocMap = HashMap<Gc<AllocKey>, u64>;
static STASH: Mutex<Vec<Gc<AllocMap>>> = Mutex::new(Vec::new());

impl Hash for AllocKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        if ALLOC_IN_HASH.swap(false, Ordering::SeqCst) {
            let mut m = AllocMap::new();
            m.insert(Gc::new(AllocKey { id: 777 }), 777);
            STASH.lock().unwrap().push(Gc::new(m));
        }
        self.id.hash(h)
    }
}

/// A hand-written `unroot` that allocates an object of its own size (a contract violation that
/// must still not hand one slot to two objects).
#[derive(Finalize)]
struct AllocatesOnUnroot {
    child: Gc<u64>,
    pad: [u64; 2],
}
static NESTED: Mutex<Vec<Gc<AllocatesOnUnroot>>> = Mutex::new(Vec::new());
// SAFETY: visits the one handle (and allocates in unroot on purpose).
unsafe impl Trace for AllocatesOnUnroot {
    fn trace(&self, t: &mut Tracer) {
        self.child.trace(t)
    }
    unsafe fn root(&mut self) {
        // SAFETY: forwarded.
        unsafe { self.child.root() }
    }
    unsafe fn unroot(&mut self) {
        // SAFETY: forwarded.
        unsafe { self.child.unroot() };
        if self.pad[0] == 1 {
            NESTED.lock().unwrap().push(Gc::new(AllocatesOnUnroot {
                child: Gc::new(2),
                pad: [2, 2],
            }));
        }
    }
}

#[test]
fn an_allocation_inside_gc_new_never_shares_a_slot() {
    passes("allocation_inside_gc_new");
}

fn allocation_inside_gc_new() {
    let mut m = AllocMap::new();
    m.insert(Gc::new(AllocKey { id: 1 }), 1);
    ALLOC_IN_HASH.store(true, Ordering::SeqCst);
    let outer = Gc::new(m);
    ALLOC_IN_HASH.store(false, Ordering::SeqCst);
    let nested = Gc::new(AllocatesOnUnroot {
        child: Gc::new(1),
        pad: [1, 1],
    });
    collect();
    collect();
    let others: Vec<Gc<AllocMap>> = (0..1000)
        .map(|_| {
            let mut m = AllocMap::new();
            m.insert(Gc::new(AllocKey { id: 555 }), 555);
            Gc::new(m)
        })
        .collect();
    let twins: Vec<Gc<AllocatesOnUnroot>> = (0..1000)
        .map(|_| {
            Gc::new(AllocatesOnUnroot {
                child: Gc::new(3),
                pad: [3, 3],
            })
        })
        .collect();
    assert_eq!(outer.keys().next().unwrap().id, 1);
    for s in STASH.lock().unwrap().iter() {
        assert_eq!(
            s.keys().next().unwrap().id,
            777,
            "a stashed map was overwritten"
        );
        assert!(
            !others.iter().any(|o| Gc::ptr_eq(o, s)),
            "a live slot was reused"
        );
    }
    assert_eq!((nested.pad, *nested.child), ([1, 1], 1));
    for n in NESTED.lock().unwrap().iter() {
        assert_eq!(
            (n.pad, *n.child),
            ([2, 2], 2),
            "a nested object was overwritten"
        );
        assert!(
            !twins.iter().any(|t| Gc::ptr_eq(t, n)),
            "a live slot was reused"
        );
    }
    assert!(twins.iter().all(|t| t.pad == [3, 3] && *t.child == 3));
}

// --- 6. Blocking calls from user code -----------------------------------------------------

static COLLECT_IN_HASH: AtomicBool = AtomicBool::new(false);

#[derive(Trace, Finalize, PartialEq, Eq)]
struct CollectingKey(u64);
impl Hash for CollectingKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        if COLLECT_IN_HASH.swap(false, Ordering::SeqCst) {
            collect(); // e.g. a cache that trims itself under memory pressure
        }
        self.0.hash(h)
    }
}

#[test]
fn collect_from_a_user_hash_does_not_deadlock() {
    passes("collect_from_user_hash");
}

fn collect_from_user_hash() {
    let m: Gc<GcCell<HashMap<Gc<CollectingKey>, u64>>> = Gc::new(GcCell::new(HashMap::new()));
    m.borrow_mut().insert(Gc::new(CollectingKey(1)), 1);
    COLLECT_IN_HASH.store(true, Ordering::SeqCst);
    drop(m.borrow_mut());
    COLLECT_IN_HASH.store(true, Ordering::SeqCst);
    m.borrow_mut().insert(Gc::new(CollectingKey(2)), 2);
    assert_eq!(m.borrow().len(), 2);
}

/// A hand-written `unroot` (which runs inside `Gc::new`'s operation) that calls `collect()`.
#[derive(Finalize)]
struct CollectsOnUnroot(Gc<u64>);
// SAFETY: visits the one handle (and blocks in unroot on purpose).
unsafe impl Trace for CollectsOnUnroot {
    fn trace(&self, t: &mut Tracer) {
        self.0.trace(t)
    }
    unsafe fn root(&mut self) {
        // SAFETY: forwarded.
        unsafe { self.0.root() }
    }
    unsafe fn unroot(&mut self) {
        collect();
        // SAFETY: forwarded.
        unsafe { self.0.unroot() }
    }
}

#[test]
fn collect_inside_an_operation_panics_instead_of_deadlocking() {
    passes("collect_inside_an_operation");
}

fn collect_inside_an_operation() {
    let r = std::panic::catch_unwind(|| Gc::new(CollectsOnUnroot(Gc::new(1))));
    let msg = r.err().expect("collect() inside an operation must panic");
    let msg = msg
        .downcast_ref::<String>()
        .map(String::as_str)
        .or(msg.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(
        msg.contains("collect()") && msg.contains("operation"),
        "{msg}"
    );
    // The heap goes on working.
    let g = Gc::new(GcCell::new(vec![Gc::new(1u64)]));
    collect();
    assert_eq!(*g.borrow()[0], 1);
}

static FINALIZED: AtomicUsize = AtomicUsize::new(0);

#[derive(Trace)]
struct WaitsForFinalizers(u64);
impl Finalize for WaitsForFinalizers {
    fn finalize(&self) {
        run_finalizers();
        FINALIZED.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_finalizer_may_call_run_finalizers() {
    passes("finalizer_calls_run_finalizers");
}

fn finalizer_calls_run_finalizers() {
    for i in 0..10 {
        drop(Gc::new(WaitsForFinalizers(i)));
    }
    collect();
    run_finalizers();
    assert_eq!(FINALIZED.load(Ordering::SeqCst), 10);
    drop(Gc::new(WaitsForFinalizers(10)));
    collect();
    run_finalizers();
    assert_eq!(FINALIZED.load(Ordering::SeqCst), 11);
}

// --- 7. Deep structures on the collector's threads ----------------------------------------

const DEEP: u64 = 1_000_000;

#[derive(Trace, Finalize)]
enum Deep {
    Cons(u64, Box<Deep>),
    Nil,
}

#[derive(Trace, Finalize)]
enum DeepScan {
    Cons(Gc<u64>, Box<DeepScan>),
    Nil,
}

#[test]
fn the_sweeper_drops_a_million_deep_box_list() {
    passes("deep_box_dropped_by_the_sweeper");
}

fn deep_box_dropped_by_the_sweeper() {
    let mut l = Deep::Nil;
    for i in 0..DEEP {
        l = Deep::Cons(i, Box::new(l));
    }
    let g = Gc::new(l);
    let w = Gc::downgrade(&g);
    drop(g);
    collect();
    collect();
    assert!(w.upgrade().is_none());
}

#[test]
fn the_marker_traces_and_the_sweeper_drops_a_million_deep_box_list_of_handles() {
    passes("deep_box_traced_by_the_marker");
}

fn deep_box_traced_by_the_marker() {
    let mut l = DeepScan::Nil;
    let first = Gc::new(0u64);
    let w = Gc::downgrade(&first);
    l = DeepScan::Cons(first, Box::new(l));
    for i in 1..DEEP {
        l = DeepScan::Cons(Gc::new(i), Box::new(l));
    }
    let g = Gc::new(l);
    collect(); // the marker traces it; checkmark traces it again
    collect();
    assert_eq!(*w.upgrade().unwrap(), 0, "the deepest handle was lost");
    drop(g);
    collect();
    collect();
    assert!(w.upgrade().is_none());
}

// --- 8. A panic on a collector thread -----------------------------------------------------

static ARMED: AtomicBool = AtomicBool::new(false);

/// A contract-violating `Trace` that panics once, on whichever thread traces it.
#[derive(Finalize)]
struct PanicsInTrace(#[allow(dead_code)] u64);
// SAFETY: holds no handle (and panics in trace on purpose).
unsafe impl Trace for PanicsInTrace {
    fn trace(&self, _: &mut Tracer) {
        if ARMED.swap(false, Ordering::SeqCst) {
            panic!("trace panicked");
        }
    }
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
}

#[test]
fn a_panic_in_trace_on_a_mark_worker_aborts_with_a_message() {
    let out = run("trace_panics_on_a_marker", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the process went on after its collector died:\n{stderr}"
    );
    assert!(
        stderr.contains("tricolor: fatal") && stderr.contains("PanicsInTrace"),
        "no clear message:\n{stderr}"
    );
}

fn trace_panics_on_a_marker() {
    let b = Gc::new(PanicsInTrace(1));
    ARMED.store(true, Ordering::SeqCst);
    collect();
    // Not reached when the collector is loud; bounded churn when it is not.
    for round in 0..3 {
        for i in 0..200_000u64 {
            drop(Gc::new(i));
        }
        collect();
        println!("round {round}: num_gc={}", tricolor_gc::stats().num_gc);
    }
    drop(b);
}

// --- 9. An empty hand-written `Finalize` is no finalizer ----------------------------------

#[derive(Trace)]
struct Plain {
    next: GcCell<Option<Gc<Plain>>>,
    #[gc(ignore)]
    _c: Counter,
}
impl Finalize for Plain {}

#[test]
fn an_empty_hand_written_finalize_does_not_keep_cycles_alive() {
    passes("empty_finalize_is_no_finalizer");
}

fn empty_finalize_is_no_finalizer() {
    let drops = Arc::new(AtomicUsize::new(0));
    let plain = |d: &Arc<AtomicUsize>| {
        Gc::new(Plain {
            next: GcCell::new(None),
            _c: Counter(d.clone()),
        })
    };
    let (a, b, c) = (plain(&drops), plain(&drops), plain(&drops));
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop((a, b, c));
    collect();
    run_finalizers();
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 3, "objects were kept alive");
    // Once known, the type costs nothing: a new cycle goes in one cycle.
    let (a, b) = (plain(&drops), plain(&drops));
    *a.next.borrow_mut() = Some(b.clone());
    *b.next.borrow_mut() = Some(a.clone());
    drop((a, b));
    collect();
    assert_eq!(drops.load(Ordering::SeqCst), 5);
}

static REAL_FINALIZER: AtomicUsize = AtomicUsize::new(0);

#[derive(Trace)]
struct Inner {
    n: u64,
}
impl Finalize for Inner {}

/// Overrides `finalize` and calls a field's default `finalize` from it: still a finalizer.
#[derive(Trace)]
struct Outer {
    inner: Inner,
}
impl Finalize for Outer {
    fn finalize(&self) {
        self.inner.finalize();
        REAL_FINALIZER.fetch_add(self.inner.n as usize, Ordering::SeqCst);
    }
}

#[test]
fn an_overridden_finalize_runs_once_for_every_object() {
    passes("overridden_finalize_runs");
}

fn overridden_finalize_runs() {
    for round in 0..3 {
        for _ in 0..100 {
            drop(Gc::new(Outer {
                inner: Inner { n: 1 },
            }));
        }
        collect();
        run_finalizers();
        collect();
        run_finalizers();
        assert_eq!(REAL_FINALIZER.load(Ordering::SeqCst), 100 * (round + 1));
    }
}

// --- 10. Empty values aligned to 16 (review finding, 2026-12-07) --------------------------

/// An empty value aligned to 16 filled its 16-byte slot exactly (the header's 16-byte offset,
/// no bytes of value), so the value's address, which names the object, was the next slot's
/// first byte, and for the last slot of a span the next page's: an object there shared its
/// address and its root count.
#[derive(Trace, Finalize)]
#[repr(align(16))]
struct Empty16;

#[test]
fn an_empty_value_aligned_to_16_lies_inside_its_slot() {
    passes("empty_aligned_values");
}

fn empty_aligned_values() {
    // In turns, so that the two classes' spans take neighbouring pages (a fresh process).
    let (mut empties, mut words) = (Vec::new(), Vec::new());
    for i in 0..4096u64 {
        empties.push(Gc::new(Empty16));
        words.push(Gc::new(i));
    }
    let mut at = std::collections::HashSet::new();
    for p in empties.iter().map(|e| Gc::as_ptr(e) as usize) {
        assert!(at.insert(p), "two objects named by one address");
    }
    for p in words.iter().map(|w| Gc::as_ptr(w) as usize) {
        assert!(at.insert(p), "two objects named by one address");
    }
    collect();
    for e in &empties {
        assert_eq!(Gc::root_count(e), 1);
    }
    for (i, w) in words.iter().enumerate() {
        assert_eq!((**w, Gc::root_count(w)), (i as u64, 1));
    }
}

// --- 11. Arrays in objects without a header ------------------------------------------------

/// 112 bytes of plain data: no handle, so no header.
#[derive(Trace, Finalize)]
struct Part {
    bytes: [u8; 112],
}

/// Eight handles in 64 bytes, as the latency ring's messages of pointers.
#[derive(Trace, Finalize)]
struct Parts {
    parts: [Gc<Part>; 8],
}

#[derive(Trace, Finalize)]
#[repr(C)]
struct Pair {
    a: Gc<u64>,
    n: u64,
}

#[derive(Trace, Finalize)]
#[repr(C)]
struct Pairs {
    ps: [Pair; 3],
    tail: Option<Gc<u64>>,
}

#[test]
fn arrays_of_handles_and_of_plain_data_have_pointer_maps() {
    assert_eq!(<[Gc<u64>; 3] as Trace>::ptr_map(), Some(0b111));
    assert_eq!(<[Option<Gc<u64>>; 64] as Trace>::ptr_map(), Some(u64::MAX));
    assert_eq!(<[[Gc<u64>; 2]; 3] as Trace>::ptr_map(), Some(0b11_1111));
    assert_eq!(<[Pair; 3] as Trace>::ptr_map(), Some(0b01_0101));
    assert_eq!(<Pairs as Trace>::ptr_map(), Some(0b101_0101));
    assert_eq!(<[u8; 112] as Trace>::ptr_map(), Some(0));
    assert_eq!(<[u64; 4096] as Trace>::ptr_map(), Some(0));
    assert_eq!(<[Gc<u64>; 0] as Trace>::ptr_map(), Some(0));
    assert_eq!(<Part as Trace>::ptr_map(), Some(0));
    assert_eq!(<Parts as Trace>::ptr_map(), Some(0xFF));
    // Past 64 words, or elements the marker cannot read by the word: no map, a header.
    assert_eq!(<[Gc<u64>; 65] as Trace>::ptr_map(), None);
    assert_eq!(<[Vec<Gc<u64>>; 2] as Trace>::ptr_map(), None);
    assert_eq!(<[Gc<str>; 2] as Trace>::ptr_map(), None);
    // No handle in a `String`, but drop glue: a map, and a header all the same (`bare_map`).
    assert_eq!(<[String; 2] as Trace>::ptr_map(), Some(0));
    // Tuples: each field's map at its offset, whatever order the compiler chose.
    type T3 = (u8, Gc<u64>, Option<Gc<u64>>);
    let word = |at: usize| 1u64 << (at / 8);
    assert_eq!(
        <T3 as Trace>::ptr_map(),
        Some(word(std::mem::offset_of!(T3, 1)) | word(std::mem::offset_of!(T3, 2)))
    );
    assert_eq!(
        <(Gc<u64>, [Gc<u64>; 2]) as Trace>::ptr_map().map(u64::count_ones),
        Some(3)
    );
    assert_eq!(<(u32, [u8; 100]) as Trace>::ptr_map(), Some(0));
    assert_eq!(<(Gc<u64>, [u64; 64]) as Trace>::ptr_map(), None);
    assert_eq!(<(Gc<u64>, Vec<Gc<u64>>) as Trace>::ptr_map(), None);
}

#[test]
fn arrays_of_handles_in_objects_without_a_header_keep_their_elements() {
    passes("arrays_without_a_header");
}

/// The most frequent distance between consecutive addresses: the slot size of objects
/// allocated one after another from one span.
fn slot_step(addrs: &[usize]) -> usize {
    let mut n = std::collections::HashMap::new();
    for w in addrs.windows(2) {
        *n.entry(w[1].wrapping_sub(w[0])).or_insert(0) += 1;
    }
    n.into_iter().max_by_key(|&(_, c)| c).unwrap().0
}

/// A ring of messages of eight handles, the elements reachable only through the array: the
/// marker finds them by the span's pointer bits alone, with every mark verified and freed
/// slots poisoned.
fn arrays_without_a_header() {
    const WINDOW: usize = 500;
    let make = |i: usize| Parts {
        parts: std::array::from_fn(|k| {
            Gc::new(Part {
                bytes: [(i + k) as u8; 112],
            })
        }),
    };
    let mut ring: Vec<Option<Gc<Parts>>> = (0..WINDOW).map(|_| None).collect();
    for i in 0..20_000 {
        ring[i % WINDOW] = Some(Gc::new(make(i)));
        if i % 2_500 == 0 {
            collect();
            let _ = churn();
        }
    }
    collect();
    let _ = churn();
    collect();
    for (j, p) in ring.iter().enumerate() {
        let i = 20_000 - WINDOW + j;
        for (k, part) in p.as_ref().unwrap().parts.iter().enumerate() {
            assert!(
                part.bytes.iter().all(|&b| b == (i + k) as u8),
                "message {i}, part {k}"
            );
            assert_eq!(Gc::root_count(part), 0, "an element held a root");
        }
    }
    // Both went without a header: 64- and 112-byte slots, Go's classes for them (with an
    // 8-byte header they took 72 and 120).
    let msgs: Vec<Gc<Parts>> = (0..64).map(|i| Gc::new(make(i))).collect();
    let addrs: Vec<usize> = msgs.iter().map(|m| Gc::as_ptr(m) as usize).collect();
    assert_eq!(slot_step(&addrs), 64);
    let parts: Vec<usize> = msgs[0]
        .parts
        .iter()
        .map(|p| Gc::as_ptr(p) as usize)
        .collect();
    assert_eq!(slot_step(&parts), 112);

    // Tuples of handles, the same way: reachable only through the tuple's words.
    type PartPair = (Gc<Part>, u32, Option<Gc<Part>>);
    let pairs: Vec<Gc<PartPair>> = (0..5_000)
        .map(|i| {
            let part = |k: usize| {
                Gc::new(Part {
                    bytes: [(i + k) as u8; 112],
                })
            };
            Gc::new((part(0), i as u32, (i % 2 == 0).then(|| part(1))))
        })
        .collect();
    let addrs: Vec<usize> = pairs.iter().map(|p| Gc::as_ptr(p) as usize).collect();
    assert_eq!(
        slot_step(&addrs),
        24,
        "a tuple of three words went with a header"
    );
    collect();
    let _ = churn();
    collect();
    for (i, p) in pairs.iter().enumerate() {
        assert_eq!(p.1 as usize, i);
        assert!(p.0.bytes.iter().all(|&b| b == i as u8));
        match &p.2 {
            Some(q) => assert!(i % 2 == 0 && q.bytes.iter().all(|&b| b == (i + 1) as u8)),
            None => assert!(i % 2 == 1),
        }
    }
}
