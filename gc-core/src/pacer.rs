//! The pacer: when to start a cycle (Go's `mgcpacer.go`, without the feedback controller). The
//! cycle module checks the trigger (`mgc::heap_grew`) when the heap grows.
//!
//! Goal = found × (1 + GCPERCENT/100), at least the marked heap plus the larger of a quarter of
//! found × GCPERCENT/100 and 64 KiB, and at least 4 MiB × GCPERCENT/100; capped by the memory
//! limit less a headroom of max(3%, 1 MiB), but never below the marked heap plus 64 KiB. *Marked* is everything the mark left black;
//! *found* is the part of it the markers reached from the roots, that is, without the objects
//! the mutator allocated black while the mark ran (Go grows the goal from both: see
//! [`end_cycle`]).
//! The trigger sits 70% of the way from the marked heap to the goal (the low end of Go's 70% to
//! 95%), so that marking, with assists, ends near the goal. Past the hard goal (twice the goal,
//! or 5% over the memory limit) a thread that allocates waits for the cycle to end
//! (`mgc::hold_at_goal`).

use crate::mstats;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

const MIN_HEAP: usize = 4 << 20;
pub(crate) static GC_PERCENT: AtomicI32 = AtomicI32::new(i32::MIN);
pub(crate) static MEM_LIMIT: AtomicU64 = AtomicU64::new(u64::MAX);
pub(crate) static GOAL: AtomicUsize = AtomicUsize::new(MIN_HEAP);
pub(crate) static TRIGGER: AtomicUsize = AtomicUsize::new(MIN_HEAP * TRIGGER_PERCENT / 100);
/// Where the trigger sits between the marked heap and the goal, in percent.
const TRIGGER_PERCENT: usize = 70;
/// Past this heap size an allocating thread waits for the cycle in progress to end (Go parks
/// assists that find no work): twice the goal, or 5% over the memory limit when that binds.
/// It bounds what a collector starved of CPU lets the heap reach.
pub(crate) static HARD_GOAL: AtomicUsize = AtomicUsize::new(2 * MIN_HEAP);
/// Bytes the last cycle's markers scanned (objects allocated black excluded): the work the next
/// cycle expects, for the assists' schedule (`malloc::born_black`).
pub(crate) static LAST_SCANNED: AtomicUsize = AtomicUsize::new(MIN_HEAP / 2);
/// Set while a cycle has been requested and not yet started, so that allocation asks once.
pub(crate) static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The current GCPERCENT (negative: automatic cycles off).
pub(crate) fn gc_percent() -> i32 {
    let p = GC_PERCENT.load(Ordering::Relaxed);
    if p != i32::MIN {
        return p;
    }
    let init = crate::config::get().gc_percent.unwrap_or(-1);
    let _ = GC_PERCENT.compare_exchange(i32::MIN, init, Ordering::Relaxed, Ordering::Relaxed);
    GC_PERCENT.load(Ordering::Relaxed)
}

pub(crate) fn mem_limit() -> u64 {
    let l = MEM_LIMIT.load(Ordering::Relaxed);
    if l == u64::MAX {
        crate::config::get().mem_limit.unwrap_or(u64::MAX - 1)
    } else {
        l
    }
}

/// Recomputes goal and trigger after a mark that marked `marked` bytes, `black` of them
/// allocated black while it ran; returns the goal.
///
/// The goal is what the mark *found* (`marked - black`) grown by GCPERCENT: DESIGN's "live heap
/// after the last mark", with only the objects the mark proved live counted as live. Go counts
/// the objects allocated black during the mark as well, and so did tricolor until 2026-12-07.
/// They are born black and stay in the heap until the next mark, so the goal never falls below
/// the marked heap; but they are the mutator's most recent allocations, mostly garbage by then
/// (binary-trees builds and drops whole trees), and a fast mutator allocates a lot of them: on
/// binary-trees 21 a 50 ms mark lets it allocate 40–50 MB against about 100 MB found. Go's
/// mutator, slower and held back by its assists, allocates less per mark. Go doubles them with
/// the rest; the first step here (2026-12-07) kept them in the goal once, undoubled, and the
/// peak still reached 1.3–1.4× Go's at binary-trees depths 18 and 21. The cost is more cycles
/// (1.5× on binary-trees): the runway after a mark is GCPERCENT's grant on the found heap less
/// what the mark allocated (never less than a quarter of the grant), and this mutator runs
/// more slowly while a mark runs beside it. Measured (BENCHMARKS.md, "The goal is what the
/// mark found"): peak RSS of binary-trees 18 0.84–0.89×, of 21 0.74×, of GCBench 0.88–0.89×,
/// of the latency ring 0.95–0.98×, for wall 1.06–1.27×, 1.19×, 0.99–1.15× and 0.95–1.04×.
pub(crate) fn end_cycle(marked: usize, black: usize) -> usize {
    let p = gc_percent();
    let limit = mem_limit();
    let goal = goal_for(marked, black, p, limit);
    // In u128: with automatic cycles off the goal is near `usize::MAX / 2`.
    let trigger = marked + ((goal - marked) as u128 * TRIGGER_PERCENT as u128 / 100) as usize;
    let hard = hard_goal(goal, p, limit);
    GOAL.store(goal, Ordering::Relaxed);
    TRIGGER.store(trigger, Ordering::Relaxed);
    HARD_GOAL.store(hard, Ordering::Relaxed);
    goal
}

/// The goal after a mark that marked `marked` bytes, `black` of them allocated black, under
/// GCPERCENT `p` and memory limit `limit` (see [`end_cycle`]). Never below the marked heap.
fn goal_for(marked: usize, black: usize, p: i32, limit: u64) -> usize {
    let found = marked - black.min(marked);
    // Never below the marked heap and a little runway, whatever the cap or the mark found.
    let least = marked + (64 << 10);
    let mut goal = if p < 0 {
        usize::MAX / 2
    } else {
        let grow = found.saturating_mul(p as usize) / 100;
        (found + grow)
            // A runway of at least a quarter of what GCPERCENT grants the found heap: a mutator
            // that allocates as much black during each mark as that grant cannot keep the
            // collector marking back to back (found by review: at GCPERCENT 25 or 50 the grant
            // less the black bytes is easily nothing).
            .max(marked + grow / 4)
            .max(least)
            .max(MIN_HEAP * p as usize / 100)
    };
    if limit < u64::MAX - 1 {
        let headroom = (limit / 33).max(1 << 20);
        let cap = limit.saturating_sub(headroom) as usize;
        goal = goal.min(cap.max(least));
    }
    goal
}

/// The hard goal for `goal` under GCPERCENT `p` and memory limit `limit` (`u64::MAX - 1` and
/// above: none): twice the goal, or 5% over the limit when that binds, at least a MiB past the
/// goal. Saturating: a limit near `u64::MAX` overflowed `limit + limit / 20` (a debug build's
/// panic, a wrapped hard goal in release; found by review, 2026-12-07).
fn hard_goal(goal: usize, p: i32, limit: u64) -> usize {
    let hard = if p < 0 {
        usize::MAX
    } else {
        goal.saturating_mul(2)
    };
    if limit >= u64::MAX - 1 {
        return hard;
    }
    let over_limit = limit
        .saturating_add(limit / 20)
        .max((goal as u64).saturating_add(1 << 20));
    hard.min(over_limit.min(usize::MAX as u64) as usize)
}

/// Sets GCPERCENT, returning the previous value (Go's `debug.SetGCPercent`).
///
/// # Example
/// ```
/// let old = tricolor_gc::set_gc_percent(200);
/// tricolor_gc::set_gc_percent(old);
/// ```
pub fn set_gc_percent(percent: i32) -> i32 {
    let old = gc_percent();
    GC_PERCENT.store(if percent < 0 { -1 } else { percent }, Ordering::Relaxed);
    let (marked, black) = mstats::marked_and_black();
    end_cycle(marked, black);
    old
}

/// Sets the soft memory limit in bytes (Go's `debug.SetMemoryLimit`), returning the previous one
/// (`u64::MAX - 1` means none). The collector runs more often to stay under it.
///
/// # Example
/// ```
/// let old = tricolor_gc::set_memory_limit(1 << 30);
/// tricolor_gc::set_memory_limit(old);
/// ```
pub fn set_memory_limit(bytes: u64) -> u64 {
    let old = mem_limit();
    MEM_LIMIT.store(bytes.min(u64::MAX - 1), Ordering::Relaxed);
    let (marked, black) = mstats::marked_and_black();
    end_cycle(marked, black);
    old
}

#[cfg(test)]
mod tests {
    use super::{goal_for, hard_goal};

    const MB: usize = 1 << 20;
    const NO_LIMIT: u64 = u64::MAX - 1;

    #[test]
    fn the_goal_grows_from_what_the_mark_found() {
        // Nothing allocated black: Go's goal, the marked heap doubled.
        assert_eq!(goal_for(20 * MB, 0, 100, NO_LIMIT), 40 * MB);
        assert_eq!(goal_for(20 * MB, 0, 50, NO_LIMIT), 30 * MB);
        // 8 of the 20 MB allocated black: the goal is the 12 found, grown by GCPERCENT.
        assert_eq!(goal_for(20 * MB, 8 * MB, 100, NO_LIMIT), 24 * MB);
        assert_eq!(goal_for(20 * MB, 8 * MB, 200, NO_LIMIT), 36 * MB);
        // Much of it black: the runway is never below a quarter of GCPERCENT's grant on what
        // was found (8 and 6 MB here).
        assert_eq!(goal_for(20 * MB, 12 * MB, 100, NO_LIMIT), 22 * MB);
        assert_eq!(
            goal_for(20 * MB, 8 * MB, 50, NO_LIMIT),
            20 * MB + 6 * MB / 4
        );
        // All of it black: nothing found, the marked heap and a little runway, and never below
        // the minimum.
        assert_eq!(
            goal_for(20 * MB, 20 * MB, 100, NO_LIMIT),
            20 * MB + (64 << 10)
        );
        assert_eq!(goal_for(MB, MB, 100, NO_LIMIT), 4 * MB);
        // A black count past the marked heap (a racing `set_gc_percent`) saturates.
        assert_eq!(goal_for(MB, 2 * MB, 100, NO_LIMIT), 4 * MB);
        // Cycles off, and a memory limit that binds.
        assert_eq!(goal_for(20 * MB, 8 * MB, -1, NO_LIMIT), usize::MAX / 2);
        let limit = 30 << 20;
        assert_eq!(
            goal_for(20 * MB, 0, 100, limit),
            30 * MB - (limit as usize / 33).max(MB)
        );
    }

    #[test]
    fn the_hard_goal_is_twice_the_goal_or_just_over_the_limit() {
        assert_eq!(hard_goal(10 * MB, 100, u64::MAX - 1), 20 * MB);
        assert_eq!(hard_goal(10 * MB, -1, u64::MAX - 1), usize::MAX);
        // A limit that binds: 5% over it, at least a MiB past the goal.
        assert_eq!(hard_goal(10 * MB, 100, 12 << 20), 12 * MB + 12 * MB / 20);
        assert_eq!(hard_goal(10 * MB, 100, 1 << 20), 11 * MB);
        // Limits near `u64::MAX` saturate instead of wrapping to a small hard goal.
        assert_eq!(hard_goal(10 * MB, 100, u64::MAX - 2), 20 * MB);
        // One whose 5% more passes `u64::MAX` by a few bytes: wrapped, it was a hard goal a MiB
        // past the goal.
        let just_over = (u64::MAX / 21) * 20 + 40;
        assert!(just_over.checked_add(just_over / 20).is_none());
        assert_eq!(hard_goal(10 * MB, 100, just_over), 20 * MB);
        assert_eq!(hard_goal(10 * MB, -1, u64::MAX - 2), usize::MAX);
    }
}
