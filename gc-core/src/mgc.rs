//! The cycle (Go's `mgc.go`). One collector thread runs cycles: it takes requests from
//! `collect()` and from the pacer's trigger over a channel, and starts a cycle on its own if none
//! ran for two minutes (Go's `forcegcperiod`).
//!
//! # Phases
//! Each phase is a function below, named after its counterpart in Go's `mgc.go`:
//! 1. [`gc_start`]: sweep termination (finish the previous cycle's sweep, so that no span is
//!    unswept when mark bits start being set), then marking on: the `OFF → MARK` handshake
//!    after which every operation shades and allocates black.
//! 2. [`gc_mark_roots`]: the concurrent root scan (Go's `markroot` and `markrootSpans`): objects
//!    whose root count is above zero, and the referents of objects waiting for their finalizer.
//! 3. `markdone::gc_mark_done`: concurrent marking and its ragged end (Go's background mark
//!    workers and `gcMarkDone`): drain with the workers, let operations in flight finish, look
//!    again, then try the stop, which is called off if a thread stays inside an operation, or
//!    if late shades left more gray objects than the stop may scan. A mutator that finds the
//!    mark done (waiting at the goal, or in `safepoint`) may make the attempt instead of the
//!    collector thread. If the root scan saw objects of types not yet known to have a
//!    finalizer, the first stop that holds resumes marking for the concurrent resurrection pass
//!    (module `finalizer`) and a second stop follows.
//! 4. `markdone::gc_mark_termination`: the rest of the stop (Go's `gcMarkTermination`): the
//!    checkmark verification, the mcaches flushed, the sweep generation flipped, the next goal,
//!    and `OFF`.
//! 5. [`gc_sweep`]: the background sweep (Go's `gcSweep` and `bgsweep`); allocating threads sweep
//!    spans lazily meanwhile. Sweeping clears the weak references of dead objects and queues the
//!    finalizers of dead objects (module `mspecial`), span by span.
//!
//! The cycle then files one record ([`CycleStats`]) that both `stats()` and `GCTRACE` read.
//!
//! # What the stop costs
//! Mark termination's stop does work proportional to the threads, and to nothing else:
//! - the handshake reads one flag per thread;
//! - the flush of each thread's mcache (74 size classes × 4 span classes, one load each, and a
//!   lock per cached span returned), and the sum of each thread's black-allocation counter;
//! - at most `markdone::LATE_LIMIT` gray objects pushed by operations that ended just before
//!   the stop: more, and the stop is called off and marking resumes;
//! - constant work: the resurrection check (a count the root scan made), the sweep-generation
//!   flip, the pacer's next goal, the phase.
//!
//! Weak references, finalizers, spans and objects cost the stop nothing: the root scan, the
//! resurrection pass and the sweeper handle them concurrently. The one exception is
//! `GCCHECKMARK`, the verification mode, which re-marks the whole heap inside the stop.

use crate::cputime::{self, thread_cpu};
use crate::markdone::{self, DONE, DONE_CHANGED, EXTERNAL_LIVE};
use crate::markroot::{self, RootScan};
use crate::mgcwork::WORK;
use crate::mheap::{SpanRef, HEAP};
use crate::mstats::{self, CycleStats, Trigger};
use crate::operation::{
    handshake, in_operation, with_op, Role, COLLECTOR_STACK_SIZE, MARK, OFF, PHASE,
};
use crate::trace::Tracer;
use crate::{finalizer, gctrace, mark, mspecial, pacer, sweep};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant, SystemTime};

/// Go's `forcegcperiod`. `GCFORCEPERIOD_MS` (undocumented, for tests) shortens it.
fn force_period() -> Duration {
    std::env::var("GCFORCEPERIOD_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(120), Duration::from_millis)
}

/// A request to the collector thread: a cycle, and whom to tell when it is over.
struct Request(Trigger, Option<Sender<()>>);

/// Requests to the collector thread. Bounded, so that a request sent from inside the global
/// allocator (`gcalloc`) never allocates: a full channel already holds a request that will run.
static CONTROL: LazyLock<Sender<Request>> = LazyLock::new(|| {
    LazyLock::force(&cputime::START);
    // The first cycle's goal and trigger from GCPERCENT and GCMEMLIMIT, as Go applies both from
    // the start (the statics' initial values are the defaults'). Before the first trigger check,
    // which forces `CONTROL` first.
    pacer::end_cycle(0, 0);
    let (tx, rx) = bounded(64);
    std::thread::Builder::new()
        .name("tricolor-gc".into())
        .stack_size(COLLECTOR_STACK_SIZE)
        .spawn(move || {
            Role::Collector.enter();
            // A collector that dies would leave the phase where it was (MARK, say) and no cycle
            // would ever run again while the heap grows: fail loudly instead, as Go's `throw`.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| controller(rx)));
            if let Err(e) = r {
                crate::throw::throw(&format!(
                    "the collector thread panicked: {}",
                    crate::throw::panic_message(&*e)
                ));
            }
        })
        .expect("tricolor: cannot start the collector thread");
    tx
});

/// The heap grew (an mcache took a span, or a large object was allocated): starts the collector
/// thread if it is not running yet, so that the two-minute timer runs even below the trigger
/// (Go's sysmon), and asks for a cycle once the heap passes the pacer's trigger.
#[inline]
pub(crate) fn heap_grew() {
    LazyLock::force(&CONTROL);
    if !STARTED.load(Ordering::Relaxed) {
        STARTED.store(true, Ordering::Release);
    }
    request_if_over_trigger();
}

/// The most pages the heap had in use during the previous cycle (for the scavenger, `gc_sweep`).
static PREV_INUSE_PEAK: AtomicUsize = AtomicUsize::new(0);

/// Set once `CONTROL` is initialized, for callers that must not initialize it themselves.
static STARTED: AtomicBool = AtomicBool::new(false);

/// Why this thread's allocation must wait once its operation is over (`hold_at_goal`).
#[derive(Clone, Copy)]
enum Hold {
    /// Past the goal while marking, owing assist work that the gray queue could not provide:
    /// wait for this cycle's mark to end (Go parks such an assist until the cycle can finish).
    MarkDone,
    /// Past the hard goal: wait for a whole cycle, sweep included.
    CycleDone,
}

std::thread_local! {
    static HOLD: std::cell::Cell<Option<Hold>> = const { std::cell::Cell::new(None) };
}

/// Called by an allocation after its operation: if it found the heap past the hard goal, waits
/// until a cycle completes, so that a collector that is short of CPU (or a mutator that
/// allocates faster than one worker marks) cannot let the heap grow without bound; if it owed
/// assist work past the goal and found none to do, waits for the mark to end. Not on the
/// collector's own threads (the cycle would wait for them) nor inside an operation.
#[inline]
pub(crate) fn hold_at_goal() {
    // A load on every allocation; the store of `take` only when there is a hold.
    if let Some(h) = HOLD.get() {
        HOLD.set(None);
        wait_for(h);
    }
}

/// An assist inside this thread's operation owed more work than the gray queue had: past the
/// midpoint between the goal and the hard goal, the thread waits for the mark to end once the
/// operation is over instead of allocating on (Go's `gcParkAssist`). At the goal itself the
/// wait, which lasts until the mark ends rather than until the workers' next credit as Go's
/// does, cost binary-trees a fifth to a half of its time (DESIGN-NOTES). Without it a collector
/// short of CPU lets the mutator allocate black at full speed until the stop: the marked heap,
/// and so the next goal, grows with the time marking waited for a core.
pub(crate) fn assist_unpaid() {
    let goal = pacer::GOAL.load(Ordering::Relaxed);
    let hard = pacer::HARD_GOAL.load(Ordering::Relaxed);
    if mstats::heap_live() >= goal + hard.saturating_sub(goal) / 2 {
        // A hard-goal wait already asked for covers this one.
        let h = HOLD.get().unwrap_or(Hold::MarkDone);
        HOLD.set(Some(h));
    }
}

#[cold]
#[inline(never)]
fn wait_for(h: Hold) {
    if in_operation() || Role::current() != Role::Mutator {
        return;
    }
    let count = |d: &markdone::Done| match h {
        Hold::MarkDone => d.marks,
        Hold::CycleDone => d.cycles,
    };
    let mut done = DONE.lock();
    match h {
        Hold::MarkDone => {
            // The collector stores OFF before it counts the mark done, under this lock.
            if PHASE.load(Ordering::Acquire) == OFF {
                return;
            }
            mstats::ASSIST_WAITS.fetch_add(1, Ordering::Relaxed);
        }
        Hold::CycleDone => {
            if mstats::heap_live() < pacer::HARD_GOAL.load(Ordering::Relaxed) {
                return;
            }
            request_heap_cycle();
            mstats::HARD_GOAL_WAITS.fetch_add(1, Ordering::Relaxed);
        }
    }
    let start = count(&done);
    let marks_at_start = done.marks;
    let mut tried = u64::MAX;
    loop {
        if count(&done) != start {
            return;
        }
        if matches!(h, Hold::CycleDone)
            && mstats::heap_live() < pacer::HARD_GOAL.load(Ordering::Relaxed)
        {
            // The heap fell back under the hard goal without a cycle (memory freed outside the
            // heap, a new GCPERCENT or memory limit; the controller then skips the request and
            // wakes this wait), or a mark ended and set a new hard goal: no cycle is owed. A
            // wait for the sweep's end could also wait for drop glue that needs a lock this
            // thread holds.
            return;
        }
        if markroot::pending() {
            drop(done);
            help_root_scan();
            done = DONE.lock();
            continue;
        }
        if matches!(h, Hold::CycleDone) && PHASE.load(Ordering::Relaxed) == OFF && sweep::pending()
        {
            drop(done);
            let swept = help_sweep();
            if mstats::heap_live() < pacer::HARD_GOAL.load(Ordering::Relaxed) {
                // The sweep (this thread's part of it included) brought the heap back under
                // the hard goal: the wait has done its job.
                return;
            }
            done = DONE.lock();
            // The cycle may have ended while the lock was free (its wake-up then went to
            // nobody): look again before sleeping.
            if swept || count(&done) != start {
                continue;
            }
            if done.marks != marks_at_start {
                // A mark ended since this wait began, and what is left to sweep runs user drop
                // glue, which only the collector's thread runs: waiting for it could wait for a
                // lock this thread holds (found by review, 2026-12-07).
                return;
            }
        }
        if done.parks != tried && markdone::parked() && PHASE.load(Ordering::Relaxed) == MARK {
            // Every worker is out of its drain: the mark may be done while the collector thread
            // lacks a core, so this thread tries to end it, once per time the workers park
            // (they wake this wait when they do, under this lock).
            tried = done.parks;
            drop(done);
            markdone::try_finish_mark(true);
            done = DONE.lock();
            continue;
        }
        // The root scan's start wakes this wait too, under this lock (`gc_mark_roots`), and so
        // do the workers when the last one leaves its drain (`markdone`).
        DONE_CHANGED.wait(&mut done);
    }
}

/// A thread waiting at the goal scans roots while the scan has jobs, rather than sleeping
/// while the cycle it waits for depends on a mark worker that may be short of a core (Go runs
/// idle mark workers on the processor a parked assist frees). One job per operation.
fn help_root_scan() {
    let mut t = Tracer::marker();
    while with_op(|op| op.marking() && markroot::waiting_job(&mut t).is_some()) {}
}

/// A thread waiting at the hard goal sweeps, rather than sleeping while the cycle it waits for
/// depends on a collector thread that may be short of a core: up to `HELP_SWEEP_SPANS` spans
/// whose sweep runs no user code, one per operation (Go's allocating goroutines sweep before
/// they allocate). True if it swept any.
fn help_sweep() -> bool {
    let mut taken = 0;
    while taken < HELP_SWEEP_SPANS
        && with_op(|_| match sweep::help_one() {
            None => false,
            Some(swept) => {
                // Counted inside the operation, which the cycle's end waits for before it
                // reads the count.
                sweep::WAITING_SWEPT.fetch_add(swept as usize, Ordering::Relaxed);
                true
            }
        })
    {
        taken += 1;
    }
    taken > 0
}

/// Spans a waiting thread sweeps between looks at the heap's size.
const HELP_SWEEP_SPANS: usize = 16;

/// Memory outside the heap grew (`GcAllocator`): asks for a cycle if the heap, counted with it,
/// passed the trigger. Called from inside the global allocator, so it must not allocate nor
/// start the collector thread (that would allocate), and must not run on the collector's own
/// threads, whose allocations may come from inside the request channel's code.
pub(crate) fn external_grew(bytes: u64) {
    if STARTED.load(Ordering::Acquire) && Role::current() == Role::Mutator {
        if PHASE.load(Ordering::Relaxed) == MARK {
            // Buffers allocated while marking owe assist work as heap objects do (Go's
            // `[]byte`s are heap objects): without it, a program whose growth is mostly
            // buffers assists only per heap byte and outruns a starved marker.
            crate::operation::add_assist_debt(bytes);
        }
        request_if_over_trigger();
    }
}

#[inline]
fn request_if_over_trigger() {
    let live = mstats::heap_live();
    if live >= pacer::HARD_GOAL.load(Ordering::Relaxed) {
        HOLD.set(Some(Hold::CycleDone));
    }
    if live < pacer::TRIGGER.load(Ordering::Relaxed) || PHASE.load(Ordering::Relaxed) != OFF {
        return;
    }
    let limited = (live as u64) >= pacer::mem_limit();
    if pacer::gc_percent() < 0 && !limited {
        return;
    }
    request_heap_cycle();
}

/// Asks the collector for a heap-triggered cycle unless one is already asked for. Never blocks
/// nor allocates: a full channel has requests the collector will serve (and the controller
/// re-checks the trigger when it wakes).
fn request_heap_cycle() {
    if !pacer::REQUESTED.swap(true, Ordering::AcqRel) {
        // The cycle's starting heap, as Go's `heap0`: Go's allocating goroutine starts the
        // cycle itself when it crosses the trigger; here the collector thread may take a while
        // to wake, and what is allocated meanwhile is the cycle's growth, not its start.
        HEAP_AT_TRIGGER.store(mstats::heap_live(), Ordering::Relaxed);
        let _ = CONTROL.try_send(Request(Trigger::Heap, None));
    }
}

/// The heap when an allocating thread last requested a heap-triggered cycle.
static HEAP_AT_TRIGGER: AtomicUsize = AtomicUsize::new(0);

fn controller(rx: Receiver<Request>) {
    let period = force_period();
    let mut last = Instant::now();
    loop {
        let first = match rx.recv_timeout(period.saturating_sub(last.elapsed())) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut waiters = Vec::new();
        let mut trigger = Trigger::Timer;
        for Request(t, w) in first.into_iter().chain(rx.try_iter()) {
            if t == Trigger::Forced || trigger == Trigger::Timer {
                trigger = t;
            }
            waiters.extend(w);
        }
        if trigger == Trigger::Timer && pacer::gc_percent() < 0 {
            last = Instant::now();
            continue;
        }
        if trigger == Trigger::Heap && mstats::heap_live() < pacer::TRIGGER.load(Ordering::Relaxed)
        {
            // A cycle that ran since the request already brought the heap under the trigger
            // (or memory was freed, or the pacer's settings changed). A thread waiting at the
            // hard goal asked for this cycle: wake it to look at the heap again, under the lock
            // its wait checks under.
            pacer::REQUESTED.store(false, Ordering::Release);
            let _g = DONE.lock();
            DONE_CHANGED.notify_all();
            continue;
        }
        run_cycle(trigger);
        DONE.lock().cycles += 1;
        DONE_CHANGED.notify_all();
        last = Instant::now();
        for w in waiters {
            let _ = w.send(());
        }
    }
}

/// Runs one whole cycle on the collector thread, sweeping included, and files its record.
fn run_cycle(trigger: Trigger) {
    let start = Instant::now();
    let cpu0 = thread_cpu();
    let assist0 = WORK.assist_ns.load(Ordering::Relaxed);
    let wall_start = SystemTime::now();
    let n = mstats::HISTORY.lock().num_gc + 1;
    let workers_cpu0 = mark::workers_cpu();
    let weak0 = mspecial::WEAK_CLEARED.load(Ordering::Relaxed);
    let queued0 = mspecial::QUEUED.load(Ordering::Relaxed);
    let mut c = gc_start(n, trigger, start);
    let t_mark = Instant::now();
    c.sweep_term = t_mark - start;
    let (scan, unknown) = gc_mark_roots(&mut c);
    let markdone::Ended {
        mut c,
        stop_begun: t_term,
        stop_ended: t_end,
        earlier_stops,
        resurrected,
    } = markdone::gc_mark_done(c, scan.spans(), unknown);
    c.mark = t_term - t_mark;
    c.pause = t_end - t_term + earlier_stops;
    c.end = wall_start + (t_end - start);
    // Freed after the stop: a list of 50,000 spans is an `munmap` for glibc, ~80 us inside it.
    drop(scan);
    finalizer::queue_resurrected(resurrected);
    // The workers added their time before their last broadcast returned (`mark::broadcast`): a
    // load, which wakes nobody. (Asking them, as this once did, woke a pool that spun beside
    // the collector and the mutator on two cores.)
    let workers_cpu1 = mark::workers_cpu();
    gc_sweep(&mut c);
    let t_swept = Instant::now();
    c.weak_cleared = mspecial::WEAK_CLEARED.load(Ordering::Relaxed) - weak0;
    c.finalizers = mspecial::QUEUED.load(Ordering::Relaxed) - queued0;

    // Measured CPU where the platform tells it (the collector thread, the mark workers, the
    // assists' time on allocating threads); wall-time estimates otherwise, as Go's are.
    c.assist_cpu = Duration::from_nanos(WORK.assist_ns.load(Ordering::Relaxed) - assist0);
    c.background_cpu = match (workers_cpu0, workers_cpu1) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => c.mark * c.workers as u32,
    };
    let collector = match (cpu0, thread_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => c.sweep_term + c.pause + (t_swept - t_end),
    };
    c.gc_cpu = collector + c.background_cpu + c.assist_cpu;
    mstats::record_cycle(&c);
    gctrace::print(&c);
}

/// Phase 1: sweep termination and marking on. Returns the cycle's record, started.
fn gc_start(n: u64, trigger: Trigger, start: Instant) -> CycleStats {
    pacer::REQUESTED.store(false, Ordering::Release);
    sweep::finish();
    let heap0 = match trigger {
        Trigger::Heap => HEAP_AT_TRIGGER.load(Ordering::Relaxed),
        _ => mstats::heap_live(),
    };
    mark::reset_cycle();
    handshake(MARK);
    mark::open_assists();
    // Every operation that may hold a span struct the sweep freed is over (`MHeap::reclaim`).
    HEAP.lock().reclaim();
    CycleStats {
        n,
        trigger,
        start,
        end: SystemTime::now(),
        sweep_term: Duration::ZERO,
        mark: Duration::ZERO,
        pause: Duration::ZERO,
        assist_cpu: Duration::ZERO,
        background_cpu: Duration::ZERO,
        gc_cpu: Duration::ZERO,
        heap0,
        heap1: 0,
        marked: 0,
        black: 0,
        goal: pacer::GOAL.load(Ordering::Relaxed),
        next_goal: 0,
        roots: 0,
        workers: mark::worker_count(),
        root_scan: Duration::ZERO,
        root_spans: 0,
        rounds: 0,
        stops_called_off: 0,
        late: 0,
        terminated_by_mutator: false,
        scanned_bg: 0,
        scanned_assist: 0,
        root_jobs_assist: 0,
        root_jobs_waiting: 0,
        spans: 0,
        swept: 0,
        swept_lazily: 0,
        swept_credit: 0,
        swept_waiting: 0,
        freed: 0,
        weak_cleared: 0,
        external_at_stop: 0,
        external: 0,
        scavenged: 0,
        finalizers: 0,
    }
}

/// Phase 2: the root scan. Returns the spans in use, and how many objects of types not yet
/// known to have a finalizer the scan saw.
fn gc_mark_roots(c: &mut CycleStats) -> (Arc<RootScan>, usize) {
    let spans: Vec<SpanRef> = HEAP.lock().all_spans();
    let t = Instant::now();
    c.spans = spans.len();
    let scan = markroot::start(spans, mstats::heap_in_spans());
    c.root_spans = scan.visited_spans();
    // Threads waiting at the goal scan roots too (`wait_for`): wake them for it.
    {
        let _done = DONE.lock();
        DONE_CHANGED.notify_all();
    }
    let unknown = markroot::complete(&scan);
    c.root_scan = t.elapsed();
    (scan, unknown)
}

/// Phase 5: the background sweep (allocating threads may take spans first). Returns when every
/// span is swept, lazy sweeps in other threads included, so that `collect()` returns with this
/// cycle's finalizers queued.
fn gc_sweep(c: &mut CycleStats) {
    let frees0 = mstats::frees();
    c.swept = sweep::background();
    // Not a stop: it waits for the operations in flight (one may hold a span struct the sweep
    // freed), after which what the sweep freed can be reused or returned (`MHeap::reclaim`).
    handshake(OFF);
    HEAP.lock().reclaim();
    c.freed = mstats::frees() - frees0;
    c.swept_lazily = sweep::LAZY_SWEPT.swap(0, Ordering::Relaxed);
    c.swept_credit = sweep::CREDIT_SWEPT.swap(0, Ordering::Relaxed);
    c.swept_waiting = sweep::WAITING_SWEPT.swap(0, Ordering::Relaxed);
    if c.external_at_stop > 0 {
        // Memory outside the heap (`GcAllocator`) is not marked: the goal set at the stop
        // counted all of it, garbage included. The sweep has since freed the dead objects'
        // buffers; what the stop counted less that is what the live objects own (allocations
        // since the stop are the next cycle's growth, not live data).
        c.external = c
            .external_at_stop
            .saturating_sub(mstats::take_external_swept());
        c.marked = c.marked - c.external_at_stop + c.external;
        c.next_goal = pacer::end_cycle(c.marked, c.black);
    }
    EXTERNAL_LIVE.store(c.external, Ordering::Relaxed);
    // Free pages beyond what the next cycles will need go back to the system. Go keeps the goal
    // and 10% (the part of the goal outside the heap, `GcAllocator`'s, is not ours to keep); a
    // heap in a steady state fills more pages than its goal (partly used spans, and the new
    // spans taken while the old ones wait for the sweep), and releasing them after every sweep
    // only to fault them in again during the next cycle cost binary-trees 4-15%. So the most
    // pages in use during this cycle and the previous one are kept too: a heap that shrinks gives
    // its memory back at the second cycle after the shrink.
    let goal = pacer::GOAL
        .load(Ordering::Relaxed)
        .saturating_sub(c.external);
    let peak = crate::mheap::take_inuse_peak();
    let recent = peak.max(PREV_INUSE_PEAK.swap(peak, Ordering::Relaxed));
    c.scavenged = crate::mheap::scavenge((goal + goal / 10).max(recent).max(4 << 20));
}

/// Runs a full cycle, sweep included, and returns after it (Go's `runtime.GC`). Concurrent
/// callers share a cycle; a cycle already under way is finished first and does not count.
///
/// # Panics
/// If called inside a collector operation (from a hand-written `Trace` impl's `root` or
/// `unroot`) or from `trace` on a mark worker: the cycle would wait for the caller.
///
/// # Example
/// ```
/// use tricolor_gc::{Gc, GcCell};
/// let a = Gc::new(GcCell::new(None::<Gc<i32>>));
/// *a.borrow_mut() = Some(Gc::new(1));
/// drop(a);
/// tricolor_gc::collect();
/// ```
pub fn collect() {
    if in_operation() {
        panic!(
            "tricolor: collect() called inside a collector operation (from a Trace impl's \
             root/unroot?): the cycle would wait for this operation to end"
        );
    }
    match Role::current() {
        Role::Mutator => {}
        // A drop glue run by the sweeper cannot wait for its own thread: the cycle it asks for
        // would start after this sweep anyway.
        Role::Collector => return,
        Role::Marker => panic!(
            "tricolor: collect() called from a Trace impl on a mark worker: the cycle waits for \
             this worker"
        ),
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    if CONTROL.send(Request(Trigger::Forced, Some(tx))).is_ok() {
        let _ = rx.recv();
    }
}

/// `__private::run_root_scan`.
pub(crate) fn run_root_scan() -> bool {
    PHASE.load(Ordering::Relaxed) == MARK && with_op(|op| op.marking() && markroot::run_published())
}

/// Lets a long-running thread that does not allocate help the collector: it does a share of
/// marking if a cycle is marking, and ends the mark (its stop) if it finds it done, so that a
/// cycle does not wait for a collector thread short of a core. Cheap otherwise.
///
/// # Example
/// ```
/// for _ in 0..3 { tricolor_gc::safepoint(); }
/// ```
pub fn safepoint() {
    if PHASE.load(Ordering::Relaxed) == MARK {
        with_op(|op| {
            if op.marking() {
                mark::assist(64 << 10, markroot::assist_job);
            }
        });
        // Outside the operation: the stop waits for operations.
        markdone::try_finish_mark(false);
    }
}
