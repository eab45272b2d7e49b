//! Mark termination (Go's `gcMarkDone` and `gcMarkTermination`): phases 3 and 4 of the cycle
//! (module `mgc`). The collector thread drains with the mark workers, lets operations in flight
//! finish, and attempts the stop; so does a mutator that finds the mark done while it waits at
//! the goal or calls `safepoint` (Go's `gcMarkDone` runs on whichever goroutine finds no work
//! left), so that the end of a mark does not wait for a collector thread that lacks a core.
//!
//! Who may attempt the stop, and when:
//! - one attempt at a time, under [`TERM`], which also holds the cycle's record while it marks;
//! - only while every mark worker is out of its drain ([`PARKED`]): the stop's handshake waits
//!   for operations, not for the workers, and a worker that still holds gray objects on its
//!   local stack when the stop finds the shared queue empty would let them stay white. The
//!   last worker to leave a drain sets the flag (one worker's "all idle" is too early: with two
//!   workers, one can find new gray work after the other saw all idle and left), and the
//!   collector clears it under the lock before it starts the workers again;
//! - a mutator never attempts while the resurrection pass (module `finalizer`) is due: that
//!   pass runs on the collector thread between two stops.
//!
//! Whoever completes mark termination counts the mark done and wakes the threads waiting for
//! it; the collector thread then sweeps.

use crate::locks::{Condvar, Mutex};
use crate::mgcwork::{self, WORK};
use crate::mheap::SpanRef;
use crate::mstats::{self, CycleStats};
use crate::operation::{
    handshake, in_operation, resume_marking, try_stop, wait_ops, Role, MARK, OFF, PHASE, REGISTRY,
    STOP,
};
use crate::weakhandle::RESURRECTING as WEAK_RESURRECTING;
use crate::{config, finalizer, mark, pacer};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long mark termination's handshake waits for an operation in flight before it calls the
/// stop off. Operations take well under a microsecond, or a few with a span refill and its lazy
/// sweep; a longer one is almost always a thread that lost its core in the middle of it (on
/// 2 cores, the mutator, the collector and a mark worker are three runnable threads), and then
/// waiting means a stop of a scheduler time slice: hundreds of microseconds, measured on the
/// Lox VM's binary_trees.lox, which is what calling it off avoids.
const STOP_PATIENCE: Duration = Duration::from_micros(20);
/// Attempts called off before the collector's stop waits for as long as it takes (a thread in
/// a genuinely long operation, or a machine too oversubscribed for any attempt to succeed).
const STOP_ATTEMPTS: u32 = 8;
/// The most gray objects a stop scans before it calls itself off and resumes marking (an object
/// scan costs about 10–100 ns, so this bounds the late drain to tens of microseconds).
const LATE_LIMIT: usize = 256;

/// Cycles completed (sweep included), marks completed, and the times every mark worker left its
/// drain, for threads waiting at a goal (each changes under this lock, then wakes them).
pub(crate) struct Done {
    pub cycles: u64,
    pub marks: u64,
    pub parks: u64,
}
pub(crate) static DONE: Mutex<Done> = Mutex::new(Done {
    cycles: 0,
    marks: 0,
    parks: 0,
});
pub(crate) static DONE_CHANGED: Condvar = Condvar::new();

/// Every mark worker is out of its drain (module docs). Set by the last worker to leave, cleared
/// under [`TERM`] before the workers start again.
static PARKED: AtomicBool = AtomicBool::new(false);

/// The mark's end, shared by whoever attempts the stop.
struct Term {
    /// The cycle's record, moved in when the mark starts and out when it ends.
    c: CycleStats,
    /// The resurrection pass is still due.
    resurrect: bool,
    /// Stops that resumed marking.
    earlier_stops: Duration,
    /// When the final stop began and ended, once mark termination is complete.
    ended: Option<(Instant, Instant)>,
}

static TERM: Mutex<Option<Term>> = Mutex::new(None);

/// Set by a test (`__private::leave_mark_termination_to_mutators`): the collector thread makes
/// no attempt of its own.
static MUTATORS_ONLY: AtomicBool = AtomicBool::new(false);

pub(crate) fn leave_to_mutators(on: bool) {
    MUTATORS_ONLY.store(on, Ordering::Relaxed);
}

/// Called by the last mark worker to leave a drain: the mark may be done, and threads waiting
/// at the goal may now attempt the stop.
fn workers_parked() {
    PARKED.store(true, Ordering::Release);
    DONE.lock().parks += 1;
    DONE_CHANGED.notify_all();
}

/// Whether every mark worker is out of its drain (a hint: [`try_finish_mark`] checks again
/// under its lock).
pub(crate) fn parked() -> bool {
    PARKED.load(Ordering::Acquire)
}

enum Attempt {
    /// A thread stayed inside an operation: marking goes on.
    CalledOff,
    /// The stop found more gray objects than it may scan: marking goes on.
    LateWork,
    /// The mark is complete and the resurrection pass is due (the collector's, from `begun`).
    Complete { begun: Instant },
    /// Mark termination is done: the phase is `OFF`.
    Terminated,
}

/// One attempt at the stop, by the holder of [`TERM`] while the workers are parked.
fn attempt(t: &mut Term, patient: bool) -> Attempt {
    let begun = Instant::now();
    let stopped = if patient {
        handshake(STOP);
        true
    } else {
        try_stop(STOP_PATIENCE)
    };
    if !stopped {
        t.c.stops_called_off += 1;
        return Attempt::CalledOff;
    }
    let (late, done) = mark::drain_here(if patient { usize::MAX } else { LATE_LIMIT });
    t.c.late += late;
    if !done {
        // Too much late work for a short stop: mark it concurrently (Go's gcMarkDone
        // restarts the same way when it finds work after its stop).
        resume_marking();
        t.c.stops_called_off += 1;
        t.earlier_stops += begun.elapsed();
        return Attempt::LateWork;
    }
    if t.resurrect {
        return Attempt::Complete { begun };
    }
    WEAK_RESURRECTING.store(false, Ordering::Relaxed);
    gc_mark_termination(&mut t.c);
    t.ended = Some((begun, Instant::now()));
    // Threads waiting for the mark to end (`mgc::assist_unpaid`), woken after the stop's
    // clock stopped: a woken thread may take this one's core.
    DONE.lock().marks += 1;
    DONE_CHANGED.notify_all();
    Attempt::Terminated
}

/// What the mark's end hands back to the cycle: its record, when the final stop began and
/// ended, the stops that resumed marking, and the resurrected objects.
pub(crate) struct Ended {
    pub c: CycleStats,
    pub stop_begun: Instant,
    pub stop_ended: Instant,
    pub earlier_stops: Duration,
    pub resurrected: Vec<usize>,
}

/// Phases 3 and 4 on the collector thread: concurrent marking until a stop (the collector's or
/// a mutator's) holds with nothing left to mark, with the resurrection pass in between if
/// `unknown` objects may have died; the stop's work after the last drain ends with `OFF`.
pub(crate) fn gc_mark_done(c: CycleStats, spans: &[SpanRef], unknown: usize) -> Ended {
    *TERM.lock() = Some(Term {
        c,
        resurrect: unknown > 0,
        earlier_stops: Duration::ZERO,
        ended: None,
    });
    let mut resurrected = Vec::new();
    let mut rounds = 0;
    loop {
        loop {
            {
                let g = TERM.lock();
                if g.as_ref().is_some_and(|t| t.ended.is_some()) {
                    return ended(g, rounds, resurrected);
                }
                PARKED.store(false, Ordering::Relaxed);
            }
            mark::drain_background(workers_parked);
            wait_ops();
            rounds += 1;
            if mgcwork::gray_empty() {
                break;
            }
        }
        let mut g = TERM.lock();
        let t = g.as_mut().expect("the mark's state");
        if t.ended.is_some() {
            return ended(g, rounds, resurrected);
        }
        if !mgcwork::gray_empty() {
            // A mutator's stop found late work and resumed marking.
            continue;
        }
        if MUTATORS_ONLY.load(Ordering::Relaxed) && !t.resurrect {
            // The test hook: wait for a mutator to end the mark, or to resume it.
            drop(g);
            let mut spins = 0;
            loop {
                crate::sync::backoff(&mut spins);
                let g = TERM.lock();
                if g.as_ref().is_some_and(|t| t.ended.is_some()) {
                    return ended(g, rounds, resurrected);
                }
                if !PARKED.load(Ordering::Acquire)
                    || !mgcwork::gray_empty()
                    || !MUTATORS_ONLY.load(Ordering::Relaxed)
                {
                    break;
                }
            }
            continue;
        }
        let patient = t.c.stops_called_off >= STOP_ATTEMPTS;
        match attempt(t, patient) {
            Attempt::CalledOff | Attempt::LateWork => continue,
            Attempt::Terminated => return ended(g, rounds, resurrected),
            Attempt::Complete { begun } => {
                // The mark is complete: dead objects whose type may or may not have a finalizer
                // (module `finalizer`) are resurrected, concurrently, then the cycle stops again.
                t.resurrect = false;
                WEAK_RESURRECTING.store(true, Ordering::Relaxed);
                resume_marking();
                t.earlier_stops += begun.elapsed();
                // This thread marks now: no attempt until the workers have drained again.
                PARKED.store(false, Ordering::Relaxed);
                drop(g);
                resurrected = finalizer::resurrect_unknown_dead(spans);
            }
        }
    }
}

fn ended(
    mut g: crate::locks::MutexGuard<'_, Option<Term>>,
    rounds: usize,
    resurrected: Vec<usize>,
) -> Ended {
    let t = g.take().expect("the mark's state");
    // Until the next mark's first drain (the flag is only read while the mark's state is set).
    PARKED.store(false, Ordering::Relaxed);
    let (stop_begun, stop_ended) = t.ended.expect("mark termination is done");
    let mut c = t.c;
    c.rounds += rounds;
    Ended {
        c,
        stop_begun,
        stop_ended,
        earlier_stops: t.earlier_stops,
        resurrected,
    }
}

/// A mutator outside any operation that finds the mark done (every worker out of its drain,
/// nothing gray) attempts the stop itself, once, and on success completes mark termination.
/// Returns whether it did. `wait`: take the lock even if the collector holds it (a thread
/// waiting at the goal, which holds nothing and would otherwise miss its turn), rather than
/// give up (`safepoint`, which should stay cheap). Any attempt that does not end the mark
/// clears the flag, so that the next try follows the workers' next drain, which the collector
/// starts. Its time counts as assist CPU.
pub(crate) fn try_finish_mark(wait: bool) -> bool {
    if PHASE.load(Ordering::Relaxed) != MARK
        || !PARKED.load(Ordering::Acquire)
        || in_operation()
        || Role::current() != Role::Mutator
    {
        return false;
    }
    let mut g = if wait {
        TERM.lock()
    } else {
        match TERM.try_lock() {
            Some(g) => g,
            None => return false,
        }
    };
    let Some(t) = g.as_mut() else {
        return false;
    };
    // Under the lock: the collector clears the flag under it before it starts the workers.
    if !PARKED.load(Ordering::Acquire) || t.ended.is_some() || t.resurrect {
        return false;
    }
    if !mgcwork::gray_empty() {
        // Work for the workers first (the collector sees it and drains).
        PARKED.store(false, Ordering::Relaxed);
        return false;
    }
    let t0 = Instant::now();
    // No `wait_ops` first, unlike the collector: the stop's handshake gives up after its
    // patience, where `wait_ops` would wait for a descheduled operation as long as it takes.
    let r = attempt(t, false);
    WORK.assist_ns
        .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
    match r {
        Attempt::Terminated => {
            t.c.terminated_by_mutator = true;
            true
        }
        Attempt::LateWork | Attempt::CalledOff => {
            PARKED.store(false, Ordering::Relaxed);
            false
        }
        Attempt::Complete { .. } => false,
    }
}

/// Memory outside the heap (`GcAllocator`) that the last sweep found owned by live objects.
pub(crate) static EXTERNAL_LIVE: AtomicUsize = AtomicUsize::new(0);

/// Phase 4: the stop's work after the last drain; ends with the phase `OFF`.
fn gc_mark_termination(c: &mut CycleStats) {
    if config::get().checkmark {
        mark::checkmark(finalizer::trace_known_referents);
    }
    let registry = REGISTRY.lock();
    for st in registry.iter() {
        // SAFETY: the phase is STOP and the handshake is done: no operation runs (this thread
        // is outside its own, `try_finish_mark`), so the thread that made the stop owns every
        // mcache.
        unsafe { (*st.mcache.get()).release_all() };
    }
    let black: u64 = registry
        .iter()
        .map(|st| st.black_bytes.swap(0, Ordering::Relaxed))
        .sum::<u64>()
        + crate::operation::EXITED_BLACK_BYTES.swap(0, Ordering::Relaxed);
    drop(registry);
    let scanned = WORK.marked_bytes.load(Ordering::Relaxed);
    pacer::LAST_SCANNED.store(scanned, Ordering::Relaxed);
    c.black = black as usize;
    c.marked = scanned + c.black;
    c.heap1 = mstats::heap_live();
    c.roots = WORK.roots_found.load(Ordering::Relaxed);
    c.scanned_bg = WORK.scanned_bg.load(Ordering::Relaxed);
    c.scanned_assist = WORK.scanned_assist.load(Ordering::Relaxed);
    c.root_jobs_assist = WORK.root_jobs_assist.load(Ordering::Relaxed);
    c.root_jobs_waiting = WORK.root_jobs_waiting.load(Ordering::Relaxed);
    crate::mheap::SWEEPGEN.fetch_add(2, Ordering::AcqRel);
    // Outside the heap (`GcAllocator`), nothing is marked: count all of it for now, the garbage
    // with the rest, and set the goal again once the sweep has freed the dead objects' buffers.
    c.external_at_stop = mstats::external();
    mstats::take_external_swept();
    c.marked += c.external_at_stop;
    // Until the sweep tells how much of it is live, the goal counts what was live outside the
    // heap after the last sweep (or all of it, if less): counting the garbage would double it
    // into the goal and the hard goal for as long as the sweep takes, and a mutator that
    // outruns a starved sweeper would allocate up to that.
    let external_estimate = c
        .external_at_stop
        .min(EXTERNAL_LIVE.load(Ordering::Relaxed));
    c.next_goal = pacer::end_cycle(c.marked - c.external_at_stop + external_estimate, c.black);
    // The sweep's pace: done by the time the threads have allocated from the marked heap to
    // the next trigger (Go's `gcPaceSweeper`).
    crate::sweep::plan(
        pacer::TRIGGER
            .load(Ordering::Relaxed)
            .saturating_sub(c.marked),
    );
    PHASE.store(OFF, Ordering::SeqCst);
}
