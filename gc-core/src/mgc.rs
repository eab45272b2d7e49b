//! The cycle (Go's `mgc.go`): sweep termination, concurrent root scan and mark, a short mark
//! termination, then sweeping. One collector thread runs cycles; it takes requests from
//! `collect()` and from the pacer over a channel, and starts a cycle on its own if none ran for
//! two minutes (Go's `forcegcperiod`).

use crate::barrier::{
    handshake, in_operation, resume_marking, try_stop, wait_ops, MARK, OFF, PHASE, REGISTRY, STOP,
};
use crate::mheap::HEAP;
use crate::stats::{self, CycleRecord};
use crate::{config, finalizer, gctrace, mark, pacer, sweep, weak};
use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime};

/// Go's `forcegcperiod`. `GCFORCEPERIOD_MS` (undocumented, for tests) shortens it.
fn force_period() -> Duration {
    std::env::var("GCFORCEPERIOD_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(120), Duration::from_millis)
}

/// Why a cycle ran.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// The heap reached the pacer's trigger.
    Heap,
    /// `collect()`.
    Forced,
    /// No cycle for two minutes.
    Timer,
}

enum Request {
    Cycle(Kind, Option<Sender<()>>),
}

/// The stack of each of the collector's own threads (the collector, which also sweeps; the mark
/// workers; the finalizer thread). Drop glue and `trace` recurse through what one object owns:
/// a `Box` list one million deep inside one object takes 24–32 MiB of stack to drop or to trace
/// (measured with tests/soundness.rs at 8, 16, 24 and 32 MiB; plain Rust drops it on 32 MiB and
/// overflows a default 8 MiB main thread at that depth). 256 MiB is eight times that. It is
/// reserved address space: only the pages a deep recursion touches are ever backed by memory.
pub(crate) const COLLECTOR_STACK_SIZE: usize = 256 << 20;

/// What the collector's own threads are, for the calls that would wait for themselves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A user thread.
    Mutator,
    /// The collector thread (cycles and the background sweep, which runs drop glue).
    Collector,
    /// A mark worker (runs `trace`).
    Marker,
}

thread_local!(static ROLE: Cell<Role> = const { Cell::new(Role::Mutator) });

/// Marks the calling thread as one of the collector's.
pub(crate) fn enter_collector_role(r: Role) {
    ROLE.set(r);
}

pub(crate) static START: LazyLock<Instant> = LazyLock::new(Instant::now);

static CONTROL: LazyLock<Sender<Request>> = LazyLock::new(|| {
    LazyLock::force(&START);
    let (tx, rx) = unbounded();
    std::thread::Builder::new()
        .name("tricolor-gc".into())
        .stack_size(COLLECTOR_STACK_SIZE)
        .spawn(move || {
            enter_collector_role(Role::Collector);
            // A collector that dies would leave the phase where it was (MARK, say) and no cycle
            // would ever run again while the heap grows: fail loudly instead, as Go's `throw`.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| controller(rx)));
            if let Err(e) = r {
                let msg = e
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or(e.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                crate::fatal(&format!("the collector thread panicked: {msg}"));
            }
        })
        .expect("tricolor: cannot start the collector thread");
    tx
});

/// Starts the collector thread (idempotent): the two-minute timer must run even in a program that
/// never reaches the pacer's trigger, as Go's sysmon does.
pub(crate) fn ensure_started() {
    LazyLock::force(&CONTROL);
}

pub(crate) fn request_background_cycle() {
    let _ = CONTROL.send(Request::Cycle(Kind::Heap, None));
}

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
        let mut kind = Kind::Timer;
        for r in first.into_iter().chain(rx.try_iter()) {
            let Request::Cycle(k, w) = r;
            if k == Kind::Forced || kind == Kind::Timer {
                kind = k;
            }
            waiters.extend(w);
        }
        if kind == Kind::Timer && pacer::gc_percent() < 0 {
            last = Instant::now();
            continue;
        }
        if kind == Kind::Heap && stats::heap_live() < pacer::TRIGGER.load(Ordering::Relaxed) {
            // A cycle that ran since the request already brought the heap under the trigger.
            pacer::REQUESTED.store(false, Ordering::Release);
            continue;
        }
        run_cycle(kind);
        last = Instant::now();
        for w in waiters {
            let _ = w.send(());
        }
    }
}

/// How long mark termination's handshake waits for an operation in flight before it calls the
/// stop off. Operations take well under a microsecond, or a few with a span refill and its lazy
/// sweep; a longer one is almost always a thread that lost its core in the middle of it (on
/// 2 cores, the mutator, the collector and a mark worker are three runnable threads), and then
/// waiting means a stop of a scheduler time slice: hundreds of microseconds, measured on the
/// Lox VM's binary_trees.lox, which is what calling it off avoids.
const STOP_PATIENCE: Duration = Duration::from_micros(20);
/// Attempts called off before the stop waits for as long as it takes (a thread in a genuinely
/// long operation, or a machine too oversubscribed for any attempt to succeed).
const STOP_ATTEMPTS: u32 = 8;

/// Runs one whole cycle on the collector thread, sweeping included.
fn run_cycle(kind: Kind) {
    let cfg = config::get();
    let t_start = Instant::now();
    let cpu0 = thread_cpu();
    let assist0 = mark::ASSIST_NS.load(Ordering::Relaxed);
    let wall_start = SystemTime::now();
    pacer::REQUESTED.store(false, Ordering::Release);

    // 1. Sweep termination: no span may be left unswept when mark bits start being set.
    sweep::finish();
    let heap0 = stats::heap_live();
    mark::reset_cycle();

    // 2. Marking on. After the handshake every operation shades and allocates black.
    let t_mark = Instant::now();
    let workers_cpu0 = mark::workers_cpu();
    handshake(MARK);
    let spans = HEAP.lock().all_spans();
    let t_roots = Instant::now();
    mark::scan_roots(&spans);
    let root_scan = t_roots.elapsed();

    // 3. Concurrent mark, ragged: drain, let in-flight operations finish, look again. Then
    // 4. mark termination, the only stop, of tricolor operations only. An attempt whose
    // handshake finds a thread stuck inside an operation is called off and marking goes on
    // (`try_stop`); after a few, the stop waits as long as it takes.
    let mut rounds = 0;
    let mut stops_called_off = 0;
    let mut late = 0;
    let mut resurrection_stops = Duration::ZERO;
    let t_term = loop {
        loop {
            mark::drain_background();
            wait_ops();
            rounds += 1;
            if mark::gray_empty() {
                break;
            }
        }
        let t = Instant::now();
        let stopped = if stops_called_off == STOP_ATTEMPTS {
            handshake(STOP);
            true
        } else {
            try_stop(STOP_PATIENCE)
        };
        if !stopped {
            stops_called_off += 1;
            continue;
        }
        late += mark::drain_here();
        // Dead objects whose type may or may not have a finalizer (module `finalizer`) are
        // shaded; marking resumes until what they reach is marked too, then stops again.
        if finalizer::resurrect_unknown_dead() == 0 {
            break t;
        }
        resume_marking();
        resurrection_stops += t.elapsed();
    };
    if cfg.checkmark {
        mark::checkmark();
    }
    let weak_cleared = weak::clear_dead();
    let finalizers = finalizer::queue_dead();
    for st in REGISTRY.lock().iter() {
        // SAFETY: the phase is STOP and the handshake is done: no operation runs, so the
        // collector owns every mcache.
        unsafe { (*st.mcache.get()).release_all() };
    }
    let black: u64 = REGISTRY
        .lock()
        .iter()
        .map(|st| st.black_bytes.swap(0, Ordering::Relaxed))
        .sum();
    let marked = mark::MARKED_BYTES.load(Ordering::Relaxed) + black as usize;
    let heap1 = stats::heap_live();
    sweep::SWEEPGEN.fetch_add(2, Ordering::AcqRel);
    let goal = pacer::end_cycle(marked);
    PHASE.store(OFF, Ordering::SeqCst);
    let t_end = Instant::now();
    let pause = t_end - t_term + resurrection_stops;
    // Read after the stop, not before: asking the workers wakes their threads, and a woken pool
    // spinning beside the collector and the mutator on two cores made some stops last a whole
    // time slice (~100 us on binary_trees.lox).
    let workers_cpu1 = mark::workers_cpu();

    // 5. Sweep in the background (allocating threads may take spans first).
    let frees0 = stats::frees();
    let swept = sweep::sweep_all();
    let freed = stats::frees() - frees0;
    let t_swept = Instant::now();

    let workers = mark::worker_count();
    let mark_wall = t_term - t_mark;
    // Measured CPU where the platform tells it (the collector thread, the mark workers, the
    // assists' time on allocating threads); wall-time estimates otherwise, as Go's are.
    let assist = Duration::from_nanos(mark::ASSIST_NS.load(Ordering::Relaxed) - assist0);
    let background = match (workers_cpu0, workers_cpu1) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => mark_wall * workers as u32,
    };
    let collector = match (cpu0, thread_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => (t_mark - t_start) + pause + (t_swept - t_end),
    };
    let gc_cpu = collector + background + assist;
    stats::record_cycle(
        CycleRecord {
            pause,
            end: wall_start + (t_end - t_start),
            forced: kind == Kind::Forced,
            mark: mark_wall,
            scanned: (mark::SCANNED_BG.load(Ordering::Relaxed)
                + mark::SCANNED_ASSIST.load(Ordering::Relaxed)
                + late) as u64,
        },
        marked,
        gc_cpu,
    );
    if cfg.trace > 0 {
        gctrace::print(&gctrace::Line {
            kind,
            start: t_start,
            sweep_term: t_mark - t_start,
            mark: mark_wall,
            assist_cpu: assist,
            background_cpu: background,
            mark_term: pause,
            heap0,
            heap1,
            marked,
            goal,
            roots: mark::ROOTS_FOUND.load(Ordering::Relaxed),
            workers,
            detail: (cfg.trace > 1).then(|| gctrace::Detail {
                root_scan,
                rounds,
                stops_called_off,
                late,
                scanned_bg: mark::SCANNED_BG.load(Ordering::Relaxed),
                scanned_assist: mark::SCANNED_ASSIST.load(Ordering::Relaxed),
                spans: spans.len(),
                swept,
                swept_lazily: sweep::LAZY_SWEPT.swap(0, Ordering::Relaxed),
                freed,
                weak_cleared,
                finalizers,
            }),
        });
    }
}

/// Runs a full cycle, sweep included, and returns after it (Go's `runtime.GC`). Concurrent
/// callers share a cycle; a cycle already under way is finished first and does not count.
///
/// # Example
/// ```
/// use tricolor::{Gc, GcCell};
/// let a = Gc::new(GcCell::new(None::<Gc<i32>>));
/// *a.borrow_mut() = Some(Gc::new(1));
/// drop(a);
/// tricolor::collect();
/// ```
pub fn collect() {
    if in_operation() {
        panic!(
            "tricolor: collect() called inside a collector operation (from a Trace impl's \
             root/unroot?): the cycle would wait for this operation to end"
        );
    }
    match ROLE.get() {
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
    if CONTROL.send(Request::Cycle(Kind::Forced, Some(tx))).is_ok() {
        let _ = rx.recv();
    }
}

/// Lets a long-running thread that does not allocate help the collector: it does a share of
/// marking if a cycle is marking. Cheap otherwise.
///
/// # Example
/// ```
/// for _ in 0..3 { tricolor::safepoint(); }
/// ```
pub fn safepoint() {
    if PHASE.load(Ordering::Relaxed) == MARK {
        crate::barrier::with_op(|op| {
            if op.marking() {
                mark::assist(64 << 10);
            }
        });
    }
}

/// CPU time of the calling thread (Linux: /proc/thread-self/schedstat, nanoseconds), if known.
pub(crate) fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Process CPU time since the collector started (Linux: /proc/self/stat; elsewhere wall time
/// times cores).
pub(crate) fn process_cpu_since_start() -> Duration {
    if let Ok(s) = std::fs::read_to_string("/proc/self/stat") {
        if let Some(rest) = s.rsplit(')').next() {
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() > 13 {
                let ticks: u64 = f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
                return Duration::from_millis(ticks * 10);
            }
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    START.elapsed() * cores
}
