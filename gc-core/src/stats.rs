//! The public snapshot of the collector's statistics, `stats()`, modeled on Go's
//! `runtime.ReadMemStats`: built from the raw counters and the cycle history of `mstats`.
//! Reading it takes one short lock for the pause ring and no stop.

use crate::mstats::{self, CLASS_FREES, CLASS_MALLOCS, FREES, HISTORY, MALLOCS, TOTAL_ALLOC};
use crate::sizeclasses::{CLASS_SIZE, NUM_SIZE_CLASSES};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// Per size class allocation counts (Go's `MemStats.BySize`).
///
/// # Example
/// ```
/// let _g = tricolor_gc::Gc::new([0u64; 3]);
/// let s = tricolor_gc::stats();
/// let used = s.by_size.iter().filter(|c| c.mallocs > 0).count();
/// println!("{used} size classes used; class 1 holds objects up to {} B", s.by_size[1].size);
/// ```
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
/// let before = tricolor_gc::stats().num_gc;
/// tricolor_gc::collect();
/// assert!(tricolor_gc::stats().num_gc > before);
/// ```
#[derive(Clone)]
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
    /// that threads hold in their caches (Go's `heapLive`), plus `external_alloc`.
    pub heap_alloc: u64,
    /// Of `heap_alloc`, the bytes allocated outside the collector's heap that
    /// [`GcAllocator`](crate::GcAllocator) counted (zero when it is not the global allocator):
    /// the buffers of `Vec`s, `String`s and maps, which the pacer counts as heap growth.
    pub external_alloc: u64,
    /// Bytes marked live by the last cycle (with `GcAllocator`, plus what the live objects' buffers
    /// held after its sweep).
    pub heap_live: u64,
    /// The heap size at which the next cycle aims to finish (Go's `NextGC`): what the last mark
    /// found reachable, grown by `GCPERCENT`. That can be less than `heap_live` grown by
    /// `GCPERCENT`, since `heap_live` also counts the objects allocated during the mark.
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
    /// Of `heap_sys`, bytes of free pages whose memory the scavenger gave back to the system
    /// (Go's `HeapReleased`): the heap's resident memory is about `heap_sys - heap_released`.
    pub heap_released: u64,
    /// Fraction of the CPU time available since the runtime started (wall time × cores) that
    /// the collector used, as Go's `GCCPUFraction` (which divides by wall time × `GOMAXPROCS`).
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
    /// Allocations that found the heap past the pacer's hard goal (twice the goal, or 5% over
    /// the memory limit) and waited for a cycle to end: how often the collector fell behind.
    pub hard_goal_waits: u64,
    /// Allocations that found the heap past the goal while marking, owed assist work, found no
    /// gray object left to scan (the rest was on the workers' stacks) and waited for the mark
    /// to end, as Go parks such an assist: how often marking fell behind the mutator.
    pub assist_waits: u64,
}

/// Readable: the scalars, the last few stops (most recent first) instead of two 256-entry rings,
/// and only the size classes that were used.
impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let recent: Vec<u64> = (0..self.num_gc.min(8))
            .map(|k| self.pause_ns[((self.num_gc + 255 - k) % 256) as usize])
            .collect();
        let used: Vec<&SizeClassStats> = self.by_size.iter().filter(|c| c.mallocs > 0).collect();
        f.debug_struct("Stats")
            .field("num_gc", &self.num_gc)
            .field("num_forced_gc", &self.num_forced_gc)
            .field("pause_total", &self.pause_total)
            .field("recent_pauses_ns", &recent)
            .field("heap_alloc", &self.heap_alloc)
            .field("external_alloc", &self.external_alloc)
            .field("heap_live", &self.heap_live)
            .field("next_gc", &self.next_gc)
            .field("heap_objects", &self.heap_objects)
            .field("total_alloc", &self.total_alloc)
            .field("mallocs", &self.mallocs)
            .field("frees", &self.frees)
            .field("heap_sys", &self.heap_sys)
            .field("heap_released", &self.heap_released)
            .field("gc_cpu_fraction", &self.gc_cpu_fraction)
            .field("last_gc", &self.last_gc)
            .field("last_mark", &self.last_mark)
            .field("last_scanned", &self.last_scanned)
            .field("hard_goal_waits", &self.hard_goal_waits)
            .field("assist_waits", &self.assist_waits)
            .field("by_size (used classes)", &used)
            .finish()
    }
}

/// Reads the statistics. Cheap: no stop and no system call.
///
/// # Example
/// ```
/// let s = tricolor_gc::stats();
/// assert!(s.mallocs >= s.frees);
/// ```
pub fn stats() -> Stats {
    let gc_cpu_fraction = mstats::gc_cpu_fraction();
    let h = HISTORY.lock();
    let mallocs = MALLOCS.load(Ordering::Relaxed);
    let frees = FREES.load(Ordering::Relaxed);
    Stats {
        num_gc: h.num_gc,
        num_forced_gc: h.num_forced_gc,
        pause_total: h.pause_total,
        pause_ns: h.pause_ns,
        pause_end: h.pause_end,
        heap_alloc: mstats::heap_live() as u64,
        external_alloc: mstats::external() as u64,
        heap_live: mstats::heap_marked() as u64,
        next_gc: crate::pacer::GOAL.load(Ordering::Relaxed) as u64,
        heap_objects: mallocs.saturating_sub(frees),
        total_alloc: TOTAL_ALLOC.load(Ordering::Relaxed),
        mallocs,
        frees,
        heap_sys: crate::mheap::HEAP_SYS.load(Ordering::Relaxed) as u64,
        heap_released: crate::mheap::HEAP_RELEASED.load(Ordering::Relaxed) as u64,
        gc_cpu_fraction,
        last_gc: h.last_gc,
        last_mark: h.last_mark,
        last_scanned: h.last_scanned,
        hard_goal_waits: mstats::HARD_GOAL_WAITS.load(Ordering::Relaxed),
        assist_waits: mstats::ASSIST_WAITS.load(Ordering::Relaxed),
        by_size: (0..NUM_SIZE_CLASSES)
            .map(|c| SizeClassStats {
                size: CLASS_SIZE[c],
                mallocs: CLASS_MALLOCS[c].load(Ordering::Relaxed),
                frees: CLASS_FREES[c].load(Ordering::Relaxed),
            })
            .collect(),
    }
}

/// One finished cycle, as `GCTRACE` prints it and more (Go's `runtime/metrics` and
/// `debug.ReadGCStats` in spirit): what [`cycle_history`] returns and what the hook of
/// [`set_cycle_hook`] receives. Sizes are bytes, times wall time unless they say CPU.
///
/// # Example
/// ```
/// tricolor_gc::collect();
/// let c = tricolor_gc::cycle_history().pop().unwrap();
/// assert!(c.heap_marked <= c.heap_start.max(c.heap_at_termination) + c.external_live);
/// println!("cycle {} stopped for {:?}", c.number, c.pause);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CycleRecord {
    /// The cycle's number, from 1 (`Stats::num_gc` once it ended).
    pub number: u64,
    /// What started it.
    pub trigger: crate::CycleTrigger,
    /// When it started, since the process started (`GCTRACE`'s `@`).
    pub started_at: Duration,
    /// When its stop ended, by the wall clock.
    pub end: SystemTime,
    /// Sweep termination and turning marking on (no stop in tricolor).
    pub sweep_termination: Duration,
    /// The concurrent mark, from marking on to the stop.
    pub mark: Duration,
    /// The stop: mark termination.
    pub pause: Duration,
    /// CPU the allocating threads spent assisting the mark.
    pub assist_cpu: Duration,
    /// CPU of the background mark workers.
    pub background_cpu: Duration,
    /// All the collector's CPU in the cycle (its thread, the workers, the assists).
    pub gc_cpu: Duration,
    /// The heap when the cycle started (`GCTRACE`'s first MB figure).
    pub heap_start: usize,
    /// The heap at mark termination (the second).
    pub heap_at_termination: usize,
    /// Marked live (the third), with what the live objects' buffers hold when
    /// [`GcAllocator`](crate::GcAllocator) is installed.
    pub heap_marked: usize,
    /// The goal this cycle aimed at: `heap_at_termination - goal` is the overshoot.
    pub goal: usize,
    /// The goal set for the next cycle.
    pub next_goal: usize,
    /// Objects found with a root count above zero by the root scan.
    pub roots: usize,
    /// Background mark workers.
    pub mark_workers: usize,
    /// Objects scanned (workers, assists and the stop).
    pub objects_scanned: u64,
    /// Objects the background sweep freed.
    pub objects_freed: u64,
    /// Weak references cleared and finalizers queued by the cycle's sweep.
    pub weak_cleared: usize,
    /// Finalizers queued.
    pub finalizers_queued: usize,
    /// Bytes outside the heap the live objects own after the sweep (with `GcAllocator`).
    pub external_live: usize,
    /// Bytes the scavenger returned to the system after the sweep.
    pub scavenged: usize,
}

impl From<&mstats::CycleStats> for CycleRecord {
    fn from(c: &mstats::CycleStats) -> Self {
        CycleRecord {
            number: c.n,
            trigger: c.trigger,
            started_at: c.start.saturating_duration_since(*crate::cputime::START),
            end: c.end,
            sweep_termination: c.sweep_term,
            mark: c.mark,
            pause: c.pause,
            assist_cpu: c.assist_cpu,
            background_cpu: c.background_cpu,
            gc_cpu: c.gc_cpu,
            heap_start: c.heap0,
            heap_at_termination: c.heap1,
            heap_marked: c.marked,
            goal: c.goal,
            next_goal: c.next_goal,
            roots: c.roots,
            mark_workers: c.workers,
            objects_scanned: c.scanned(),
            objects_freed: c.freed,
            weak_cleared: c.weak_cleared,
            finalizers_queued: c.finalizers,
            external_live: c.external,
            scavenged: c.scavenged,
        }
    }
}

/// The records of the last cycles (at most 256), oldest first. Takes one short lock; no stop.
///
/// # Example
/// ```
/// tricolor_gc::collect();
/// tricolor_gc::collect();
/// let h = tricolor_gc::cycle_history();
/// assert!(h.len() >= 2);
/// assert!(h.windows(2).all(|w| w[0].number + 1 == w[1].number));
/// ```
pub fn cycle_history() -> Vec<CycleRecord> {
    HISTORY
        .lock()
        .recent
        .iter()
        .map(CycleRecord::from)
        .collect()
}

/// A function called with each finished cycle's record ([`set_cycle_hook`]).
///
/// # Example
/// ```
/// let hook: tricolor_gc::CycleHook = Box::new(|c| eprintln!("cycle {} paused {:?}", c.number, c.pause));
/// tricolor_gc::set_cycle_hook(Some(hook));
/// tricolor_gc::set_cycle_hook(None);
/// ```
pub type CycleHook = Box<dyn Fn(&CycleRecord) + Send + Sync>;

/// Calls `hook` with the record of every cycle that ends from now on (`None` removes it),
/// on a thread of its own (`tricolor-observer`): the collector only offers the record to a
/// queue, so a slow hook never delays a cycle or a stop. If the hook falls 1024 cycles behind,
/// records are dropped rather than queued. A panicking hook is reported once on stderr and
/// stays installed (the first panic is reported, with its message). The hook may call anything in the crate, `collect()` included.
///
/// # Example
/// ```
/// use std::sync::mpsc;
/// let (tx, rx) = mpsc::channel();
/// let tx = std::sync::Mutex::new(tx);
/// tricolor_gc::set_cycle_hook(Some(Box::new(move |c| {
///     let _ = tx.lock().unwrap().send(c.number);
/// })));
/// tricolor_gc::collect();
/// let n = rx.recv().unwrap();
/// assert!(n >= 1);
/// tricolor_gc::set_cycle_hook(None);
/// ```
pub fn set_cycle_hook(hook: Option<CycleHook>) {
    let mut observer = mstats::OBSERVER.lock();
    // Dropping the old sender ends the old observer thread once it has drained its queue.
    *observer = hook.map(|hook| {
        let (tx, rx) = crossbeam_channel::bounded::<mstats::CycleStats>(1024);
        std::thread::Builder::new()
            .name("tricolor-observer".into())
            .spawn(move || {
                for c in rx {
                    let record = CycleRecord::from(&c);
                    let r =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&record)));
                    if let Err(e) = &r {
                        static REPORTED: AtomicBool = AtomicBool::new(false);
                        if !REPORTED.swap(true, Ordering::Relaxed) {
                            crate::throw::stderr_line(&format!(
                                "tricolor: the cycle hook panicked (reported once, the hook \
                                 stays installed): {}",
                                crate::throw::panic_message(&**e)
                            ));
                        }
                    }
                    crate::throw::forget_payload(r);
                }
            })
            .expect("tricolor: cannot start the observer thread");
        tx
    });
}
