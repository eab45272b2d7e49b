//! The raw statistics (Go's `mstats.go`): heap counters updated where Go updates them (when an
//! mcache takes or returns a span, not per object; when a large object is allocated; when a span
//! is swept; at mark termination), and the record of each cycle. The public snapshot built from
//! them is `stats::Stats`; `GCTRACE` prints the same record (`gctrace`).

use crate::locks::Mutex;
use crate::sizeclasses::NUM_SIZE_CLASSES;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Go's `heapLive`: bytes in allocated slots, counting a cached span's free slots as allocated.
static HEAP_LIVE: AtomicI64 = AtomicI64::new(0);
/// Bytes marked by the last completed cycle.
static HEAP_MARKED: AtomicUsize = AtomicUsize::new(0);
/// Of those, the bytes it allocated black (`CycleStats::black`).
static HEAP_BLACK: AtomicUsize = AtomicUsize::new(0);
pub(crate) static MALLOCS: AtomicU64 = AtomicU64::new(0);
/// Allocations that waited for a cycle at the pacer's hard goal.
pub(crate) static HARD_GOAL_WAITS: AtomicU64 = AtomicU64::new(0);
/// Allocations past the goal that owed assist work, found none, and waited for the mark to end.
pub(crate) static ASSIST_WAITS: AtomicU64 = AtomicU64::new(0);
pub(crate) static FREES: AtomicU64 = AtomicU64::new(0);
pub(crate) static TOTAL_ALLOC: AtomicU64 = AtomicU64::new(0);
pub(crate) static CLASS_MALLOCS: [AtomicU64; NUM_SIZE_CLASSES] =
    [const { AtomicU64::new(0) }; NUM_SIZE_CLASSES];
pub(crate) static CLASS_FREES: [AtomicU64; NUM_SIZE_CLASSES] =
    [const { AtomicU64::new(0) }; NUM_SIZE_CLASSES];

/// An mcache took a span of `elemsize` objects with `free` free slots.
pub(crate) fn note_cached(elemsize: usize, free: usize) {
    HEAP_LIVE.fetch_add((free * elemsize) as i64, Ordering::Relaxed);
}

/// An mcache gave back a span with `free` free slots, after allocating `mallocs` objects in it.
pub(crate) fn note_uncached(elemsize: usize, sizeclass: usize, free: usize, mallocs: usize) {
    HEAP_LIVE.fetch_sub((free * elemsize) as i64, Ordering::Relaxed);
    MALLOCS.fetch_add(mallocs as u64, Ordering::Relaxed);
    TOTAL_ALLOC.fetch_add((mallocs * elemsize) as u64, Ordering::Relaxed);
    CLASS_MALLOCS[sizeclass].fetch_add(mallocs as u64, Ordering::Relaxed);
}

/// A large object (its own span of `bytes`) was allocated.
pub(crate) fn note_large(bytes: usize) {
    HEAP_LIVE.fetch_add(bytes as i64, Ordering::Relaxed);
    MALLOCS.fetch_add(1, Ordering::Relaxed);
    TOTAL_ALLOC.fetch_add(bytes as u64, Ordering::Relaxed);
    CLASS_MALLOCS[0].fetch_add(1, Ordering::Relaxed);
}

/// A span of `elemsize` objects of `sizeclass` was swept and `freed` objects freed.
pub(crate) fn note_sweep(elemsize: usize, sizeclass: usize, freed: usize) {
    HEAP_LIVE.fetch_sub((freed * elemsize) as i64, Ordering::Relaxed);
    FREES.fetch_add(freed as u64, Ordering::Relaxed);
    CLASS_FREES[sizeclass].fetch_add(freed as u64, Ordering::Relaxed);
}

/// Objects freed so far.
pub(crate) fn frees() -> u64 {
    FREES.load(Ordering::Relaxed)
}

/// Go's `heapLive`: the collector's heap, plus what `GcAllocator` counted outside it (zero when
/// it is not installed), as Go's counts every `[]byte`.
pub(crate) fn heap_live() -> usize {
    HEAP_LIVE.load(Ordering::Relaxed).max(0) as usize + external()
}

/// The collector's heap alone: bytes in allocated slots (and cached spans' free slots).
pub(crate) fn heap_in_spans() -> usize {
    HEAP_LIVE.load(Ordering::Relaxed).max(0) as usize
}

/// Bytes allocated through `GcAllocator` and not yet freed, as far as the threads have reported
/// (each reports in steps of `gcalloc::FLUSH`).
static EXTERNAL: AtomicI64 = AtomicI64::new(0);

/// Adds a thread's report of allocated (positive) or freed (negative) bytes outside the heap.
pub(crate) fn note_external(delta: i64) {
    EXTERNAL.fetch_add(delta, Ordering::Relaxed);
}

/// Reports what this thread counted through `GcAllocator` and had not reported yet: called when
/// a thread registered with the collector exits, so that the bytes one thread allocates and
/// another frees do not leave up to `gcalloc::FLUSH` behind per exited thread, a drift in the
/// count without bound on a program that starts threads one after another. What the thread
/// frees afterwards (its other thread-locals' destructors, a few KiB) and the remainder of a
/// thread that never touched the collector are still left behind.
pub(crate) fn report_thread_remainder() {
    let u = UNREPORTED.replace(0);
    if u != 0 {
        note_external(u);
    }
}

/// Bytes outside the heap that the drop glue of swept objects freed since the last stop: what
/// the pacer subtracts from the outside bytes at the stop to estimate what the live objects own.
static EXTERNAL_SWEPT: AtomicI64 = AtomicI64::new(0);

std::thread_local! {
    /// This thread's bytes allocated minus freed through `GcAllocator` (module `gcalloc`) and
    /// not reported to [`note_external`] yet. `const` with no destructor: usable at any point of
    /// a thread's life, teardown included, without allocating.
    pub(crate) static UNREPORTED: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
    /// Set while this thread runs the drop glue of a span's dead objects.
    static SWEEP_DROPPING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Bytes that drop glue freed on this thread, not yet added to `EXTERNAL_SWEPT`.
    static SWEEP_DROPPED: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// Counts, on this thread, what drop glue frees outside the heap until it is dropped (a guard,
/// so that a panicking drop glue does not leave the thread counting).
pub(crate) struct SweepDrops(());

impl SweepDrops {
    pub(crate) fn begin() -> SweepDrops {
        SWEEP_DROPPING.set(true);
        SweepDrops(())
    }
}

impl Drop for SweepDrops {
    fn drop(&mut self) {
        SWEEP_DROPPING.set(false);
        let d = SWEEP_DROPPED.replace(0);
        if d != 0 {
            EXTERNAL_SWEPT.fetch_add(d, Ordering::Relaxed);
        }
    }
}

/// `GcAllocator` freed `bytes`: counted as swept if drop glue of a swept object freed them.
#[inline]
pub(crate) fn note_external_free(bytes: i64) {
    if SWEEP_DROPPING.get() {
        SWEEP_DROPPED.set(SWEEP_DROPPED.get() + bytes);
    }
}

/// Outside bytes the sweeps freed since the last call (at the stop, when no sweep runs).
pub(crate) fn take_external_swept() -> usize {
    EXTERNAL_SWEPT.swap(0, Ordering::Relaxed).max(0) as usize
}

/// Bytes allocated through `GcAllocator` and not yet freed. A thread may report frees of memory
/// that another thread's unreported allocations hold, so the sum can dip below zero briefly.
pub(crate) fn external() -> usize {
    EXTERNAL.load(Ordering::Relaxed).max(0) as usize
}

/// Bytes marked by the last completed cycle.
pub(crate) fn heap_marked() -> usize {
    HEAP_MARKED.load(Ordering::Relaxed)
}

/// Of [`heap_marked`], the bytes the last completed cycle allocated black.
pub(crate) fn heap_black() -> usize {
    HEAP_BLACK.load(Ordering::Relaxed)
}

/// [`heap_marked`] and [`heap_black`] of the same cycle (the pacer's goal is their difference,
/// so a pair torn by a cycle's record in between would set a goal from neither).
pub(crate) fn marked_and_black() -> (usize, usize) {
    let _h = HISTORY.lock();
    (heap_marked(), heap_black())
}

/// Why a cycle ran (Go's `gcTrigger` kinds).
/// What started a cycle (exported as `CycleTrigger`).
///
/// # Example
/// ```
/// use tricolor_gc::CycleTrigger;
/// tricolor_gc::collect();
/// let last = tricolor_gc::cycle_history().pop().unwrap();
/// assert_eq!(last.trigger, CycleTrigger::Forced);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum Trigger {
    /// The heap reached the pacer's trigger (Go's `gcTriggerHeap`).
    Heap,
    /// `collect()` (Go's `gcTriggerCycle`, from `runtime.GC`).
    Forced,
    /// No cycle for two minutes (Go's `gcTriggerTime`).
    Timer,
}

/// Everything one cycle measured: what `stats()` keeps and what `GCTRACE` prints, recorded once
/// by the cycle (`mgc::run_cycle`).
#[derive(Clone, Debug)]
pub(crate) struct CycleStats {
    /// The cycle's number, from 1.
    pub n: u64,
    pub trigger: Trigger,
    /// When the cycle started.
    pub start: Instant,
    /// When its stop ended, by the wall clock.
    pub end: SystemTime,
    /// Clock time of sweep termination and of turning marking on (no stop in tricolor).
    pub sweep_term: Duration,
    /// Clock time of the concurrent mark, from marking on to the final stop.
    pub mark: Duration,
    /// The stop: mark termination (and any stop that resumed marking to resurrect objects).
    pub pause: Duration,
    /// CPU of the mark assists on allocating threads, during this cycle.
    pub assist_cpu: Duration,
    /// CPU of the background mark workers during the mark.
    pub background_cpu: Duration,
    /// All the collector's CPU in this cycle (collector thread, workers, assists).
    pub gc_cpu: Duration,
    /// Heap at the start (for a heap-triggered cycle, when the trigger was crossed), at mark
    /// termination, and marked live.
    pub heap0: usize,
    pub heap1: usize,
    pub marked: usize,
    /// Of `marked`, the bytes allocated black during the mark (born marked, not found by it).
    pub black: usize,
    /// The goal this cycle aimed at (set when it started), as Go's trace prints it: the heap
    /// at mark termination less this is the overshoot.
    pub goal: usize,
    /// The goal computed for the next cycle.
    pub next_goal: usize,
    /// Objects found with a root count above zero.
    pub roots: usize,
    /// Background mark workers.
    pub workers: usize,
    /// Wall time of the root scan.
    pub root_scan: Duration,
    /// Spans the root scan visited: those flagged as maybe holding a root, or holding objects
    /// registered for finalizers.
    pub root_spans: usize,
    /// Ragged termination rounds before the stop.
    pub rounds: usize,
    /// Termination attempts called off because a thread stayed inside an operation.
    pub stops_called_off: u32,
    /// Objects drained inside the stop.
    pub late: usize,
    /// Mark termination was completed by a mutator (`markdone`), not the collector thread.
    pub terminated_by_mutator: bool,
    /// Objects scanned by the background workers and by assists.
    pub scanned_bg: usize,
    pub scanned_assist: usize,
    /// Root-scan jobs (`markroot`) run by assists, and by threads waiting at the goal.
    pub root_jobs_assist: usize,
    pub root_jobs_waiting: usize,
    /// Spans in use when marking started.
    pub spans: usize,
    /// Spans the background sweeper swept after this cycle, and spans allocating threads swept
    /// since the previous cycle.
    pub swept: usize,
    pub swept_lazily: usize,
    /// Spans allocating threads swept for sweep credit, and threads waiting at the hard goal
    /// swept, after this cycle's mark (`sweep::pay_credit`, `mgc::help_sweep`).
    pub swept_credit: usize,
    pub swept_waiting: usize,
    /// Objects the background sweep freed.
    pub freed: u64,
    /// Weak references cleared and finalizers queued.
    pub weak_cleared: usize,
    pub finalizers: usize,
    /// Bytes outside the heap (`GcAllocator`) at the stop, and after the sweep (what the live
    /// objects' buffers hold, counted in `marked`).
    pub external_at_stop: usize,
    pub external: usize,
    /// Bytes the scavenger gave back to the system after the sweep.
    pub scavenged: usize,
}

impl CycleStats {
    /// Objects scanned in all (workers, assists, the stop).
    pub fn scanned(&self) -> u64 {
        (self.scanned_bg + self.scanned_assist + self.late) as u64
    }
}

/// The collector's history, as Go's `MemStats` keeps it.
pub(crate) struct GcHistory {
    pub num_gc: u64,
    pub num_forced_gc: u64,
    pub pause_total: Duration,
    /// Go's `PauseNs` ring: the most recent stop at `(num_gc + 255) % 256`.
    pub pause_ns: [u64; 256],
    pub pause_end: [u64; 256],
    pub last_gc: Option<SystemTime>,
    pub gc_cpu: Duration,
    pub last_mark: Duration,
    pub last_scanned: u64,
    /// The last `RECENT` cycles' records, oldest first (`cycle_history()`).
    pub recent: VecDeque<CycleStats>,
}

/// How many cycle records the history keeps (Go's `PauseNs` ring has 256 entries too).
pub(crate) const RECENT: usize = 256;

/// The observer thread's queue (`stats::set_cycle_hook`): finished cycles are offered to it
/// without blocking, so that a slow hook never holds up the collector. Bounded: when the hook
/// falls this far behind, records are dropped and counted (`OBSERVER_DROPPED`).
pub(crate) static OBSERVER: Mutex<Option<crossbeam_channel::Sender<CycleStats>>> = Mutex::new(None);
/// Records the hook never saw because its queue was full.
pub(crate) static OBSERVER_DROPPED: AtomicU64 = AtomicU64::new(0);

/// Lock order: a leaf.
pub(crate) static HISTORY: Mutex<GcHistory> = Mutex::new(GcHistory {
    num_gc: 0,
    num_forced_gc: 0,
    pause_total: Duration::ZERO,
    pause_ns: [0; 256],
    pause_end: [0; 256],
    last_gc: None,
    gc_cpu: Duration::ZERO,
    last_mark: Duration::ZERO,
    last_scanned: 0,
    recent: VecDeque::new(),
});

/// Cycles recorded so far (`HISTORY.num_gc`, readable without its lock): what a `GcWeakMap`
/// checks on each call to learn that a cycle ended and its dead entries may be dropped.
pub(crate) static CYCLES_RECORDED: AtomicU64 = AtomicU64::new(0);

/// Files a finished cycle's record.
pub(crate) fn record_cycle(c: &CycleStats) {
    let mut h = HISTORY.lock();
    // Under the lock, so that `marked_and_black` reads the two of one cycle.
    HEAP_MARKED.store(c.marked, Ordering::Relaxed);
    HEAP_BLACK.store(c.black, Ordering::Relaxed);
    CYCLES_RECORDED.fetch_add(1, Ordering::Relaxed);
    let i = (h.num_gc % 256) as usize;
    h.pause_ns[i] = c.pause.as_nanos() as u64;
    h.pause_end[i] = c
        .end
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    h.num_gc += 1;
    if c.trigger == Trigger::Forced {
        h.num_forced_gc += 1;
    }
    h.pause_total += c.pause;
    h.last_gc = Some(c.end);
    h.gc_cpu += c.gc_cpu;
    h.last_mark = c.mark;
    h.last_scanned = c.scanned();
    if h.recent.len() == RECENT {
        h.recent.pop_front();
    }
    h.recent.push_back(c.clone());
    drop(h);
    if let Some(tx) = OBSERVER.lock().as_ref() {
        if tx.try_send(c.clone()).is_err() {
            OBSERVER_DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The share of the CPU time available since the runtime started that the collector used.
pub(crate) fn gc_cpu_fraction() -> f64 {
    let cpu = crate::cputime::available_cpu_since_start();
    let gc = HISTORY.lock().gc_cpu;
    if cpu.is_zero() {
        0.0
    } else {
        gc.as_secs_f64() / cpu.as_secs_f64()
    }
}
