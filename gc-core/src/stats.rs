//! Heap and collector statistics, modeled on Go's `runtime.MemStats`. Counters are updated
//! where Go updates them: when an mcache takes or returns a span (not per object), when a large
//! object is allocated, when a span is swept, and at mark termination. Reading them takes one
//! short lock for the pause ring and no stop.

use crate::mspan::MSpan;
use crate::sizeclasses::{CLASS_SIZE, NUM_SIZE_CLASSES};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

/// Go's `heapLive`: bytes in allocated slots, counting a cached span's free slots as allocated.
static HEAP_LIVE: AtomicI64 = AtomicI64::new(0);
static HEAP_MARKED: AtomicUsize = AtomicUsize::new(0);
static MALLOCS: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);
static TOTAL_ALLOC: AtomicU64 = AtomicU64::new(0);
static CLASS_MALLOCS: [AtomicU64; NUM_SIZE_CLASSES] = [const { AtomicU64::new(0) }; NUM_SIZE_CLASSES];
static CLASS_FREES: [AtomicU64; NUM_SIZE_CLASSES] = [const { AtomicU64::new(0) }; NUM_SIZE_CLASSES];

pub(crate) fn note_cached(s: &MSpan, free: usize) {
    HEAP_LIVE.fetch_add((free * s.elemsize) as i64, Ordering::Relaxed);
}

pub(crate) fn note_uncached(s: &MSpan, free: usize, mallocs: usize) {
    HEAP_LIVE.fetch_sub((free * s.elemsize) as i64, Ordering::Relaxed);
    MALLOCS.fetch_add(mallocs as u64, Ordering::Relaxed);
    TOTAL_ALLOC.fetch_add((mallocs * s.elemsize) as u64, Ordering::Relaxed);
    CLASS_MALLOCS[s.class.sizeclass()].fetch_add(mallocs as u64, Ordering::Relaxed);
}

pub(crate) fn note_large(s: &MSpan) {
    HEAP_LIVE.fetch_add(s.elemsize as i64, Ordering::Relaxed);
    MALLOCS.fetch_add(1, Ordering::Relaxed);
    TOTAL_ALLOC.fetch_add(s.elemsize as u64, Ordering::Relaxed);
    CLASS_MALLOCS[0].fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn note_sweep(s: &MSpan, freed: usize) {
    HEAP_LIVE.fetch_sub((freed * s.elemsize) as i64, Ordering::Relaxed);
    FREES.fetch_add(freed as u64, Ordering::Relaxed);
    CLASS_FREES[s.class.sizeclass()].fetch_add(freed as u64, Ordering::Relaxed);
    if s.class.sizeclass() == 0 {
        // A large object's slot is its span; its malloc was counted when allocated.
    }
}

/// Objects freed so far (for the per-cycle figures of `GCTRACE=2`).
pub(crate) fn frees() -> u64 {
    FREES.load(Ordering::Relaxed)
}

pub(crate) fn heap_live() -> usize {
    HEAP_LIVE.load(Ordering::Relaxed).max(0) as usize
}

pub(crate) fn heap_marked() -> usize {
    HEAP_MARKED.load(Ordering::Relaxed)
}

/// One record per cycle, kept by the collector.
pub(crate) struct CycleRecord {
    pub pause: Duration,
    pub end: SystemTime,
    pub forced: bool,
    pub mark: Duration,
    pub scanned: u64,
}

pub(crate) struct GcHistory {
    pub num_gc: u64,
    pub num_forced_gc: u64,
    pub pause_total: Duration,
    pub pause_ns: [u64; 256],
    pub pause_end: [u64; 256],
    pub last_gc: Option<SystemTime>,
    pub gc_cpu: Duration,
    pub last_mark: Duration,
    pub last_scanned: u64,
}

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
});

pub(crate) fn record_cycle(r: CycleRecord, marked: usize, gc_cpu: Duration) {
    HEAP_MARKED.store(marked, Ordering::Relaxed);
    let mut h = HISTORY.lock();
    let i = (h.num_gc % 256) as usize;
    h.pause_ns[i] = r.pause.as_nanos() as u64;
    h.pause_end[i] = r
        .end
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    h.num_gc += 1;
    if r.forced {
        h.num_forced_gc += 1;
    }
    h.pause_total += r.pause;
    h.last_gc = Some(r.end);
    h.gc_cpu += gc_cpu;
    h.last_mark = r.mark;
    h.last_scanned = r.scanned;
}

/// Per size class allocation counts (Go's `MemStats.BySize`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SizeClassStats {
    /// Largest object size of the class in bytes (0 for the class of large objects).
    pub size: u32,
    /// Objects allocated in the class, counted when a thread returns a span.
    pub mallocs: u64,
    /// Objects freed in the class.
    pub frees: u64,
}

/// A snapshot of the collector's statistics, like Go's `runtime.MemStats`.
///
/// # Example
/// ```
/// let before = tricolor::stats().num_gc;
/// tricolor::collect();
/// assert!(tricolor::stats().num_gc > before);
/// ```
#[derive(Debug, Clone)]
pub struct Stats {
    /// Completed cycles.
    pub num_gc: u64,
    /// Cycles started by `collect()`.
    pub num_forced_gc: u64,
    /// Sum of all mark-termination stops.
    pub pause_total: Duration,
    /// The last 256 stops in nanoseconds; the most recent is at `(num_gc + 255) % 256` (Go's
    /// `PauseNs`).
    pub pause_ns: [u64; 256],
    /// When each of those stops ended, in nanoseconds since the Unix epoch (Go's `PauseEnd`).
    pub pause_end: [u64; 256],
    /// Bytes of allocated objects, including dead ones not yet swept and the free slots of spans
    /// that threads hold in their caches (Go's `heapLive`).
    pub heap_alloc: u64,
    /// Bytes marked live by the last cycle.
    pub heap_live: u64,
    /// The heap size at which the next cycle aims to finish (Go's `NextGC`).
    pub next_gc: u64,
    /// Objects allocated and not yet freed, as far as the span-level counters know.
    pub heap_objects: u64,
    /// Cumulative bytes allocated.
    pub total_alloc: u64,
    /// Cumulative objects allocated (counted when a thread returns a span, as in Go).
    pub mallocs: u64,
    /// Cumulative objects freed.
    pub frees: u64,
    /// Bytes obtained from the system and not returned.
    pub heap_sys: u64,
    /// Fraction of the process's CPU time spent in the collector since it started.
    pub gc_cpu_fraction: f64,
    /// When the last cycle ended.
    pub last_gc: Option<SystemTime>,
    /// Allocation and free counts per size class.
    pub by_size: Vec<SizeClassStats>,
    /// Wall time of the last cycle's concurrent mark phase, from the start of the root scan to
    /// the mark-termination stop (the mutators run meanwhile). With `last_scanned` it gives the
    /// mark rate; `GCMARKPROCS` sets how many workers share it.
    pub last_mark: Duration,
    /// Objects the last cycle scanned (background workers, assists and mark termination).
    pub last_scanned: u64,
}

/// Reads the statistics. Cheap: no stop.
///
/// # Example
/// ```
/// let s = tricolor::stats();
/// assert!(s.mallocs >= s.frees);
/// ```
pub fn stats() -> Stats {
    let h = HISTORY.lock();
    let mallocs = MALLOCS.load(Ordering::Relaxed);
    let frees = FREES.load(Ordering::Relaxed);
    let cpu = crate::mgc::process_cpu_since_start();
    Stats {
        num_gc: h.num_gc,
        num_forced_gc: h.num_forced_gc,
        pause_total: h.pause_total,
        pause_ns: h.pause_ns,
        pause_end: h.pause_end,
        heap_alloc: heap_live() as u64,
        heap_live: heap_marked() as u64,
        next_gc: crate::pacer::GOAL.load(Ordering::Relaxed) as u64,
        heap_objects: mallocs.saturating_sub(frees),
        total_alloc: TOTAL_ALLOC.load(Ordering::Relaxed),
        mallocs,
        frees,
        heap_sys: crate::mheap::HEAP_SYS.load(Ordering::Relaxed) as u64,
        gc_cpu_fraction: if cpu.is_zero() { 0.0 } else { h.gc_cpu.as_secs_f64() / cpu.as_secs_f64() },
        last_gc: h.last_gc,
        last_mark: h.last_mark,
        last_scanned: h.last_scanned,
        by_size: (0..NUM_SIZE_CLASSES)
            .map(|c| SizeClassStats {
                size: CLASS_SIZE[c],
                mallocs: CLASS_MALLOCS[c].load(Ordering::Relaxed),
                frees: CLASS_FREES[c].load(Ordering::Relaxed),
            })
            .collect(),
    }
}
