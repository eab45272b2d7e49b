//! The pacer: when to start a cycle (Go's `mgcpacer.go`, without the feedback controller). The
//! cycle module checks the trigger (`mgc::heap_grew`) when the heap grows.
//!
//! Goal = marked + marked × GCPERCENT/100, at least 4 MiB × GCPERCENT/100, capped by the memory
//! limit less a headroom of max(3%, 1 MiB). The trigger sits 85% of the way from the marked
//! heap to the goal (Go keeps it between 70% and 95%), so that marking, with assists, ends near
//! the goal. Past the hard goal (twice the goal, or 5% over the memory limit) a thread that
//! allocates waits for the cycle to end (`mgc::hold_at_goal`).

use crate::mstats;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

const MIN_HEAP: usize = 4 << 20;
pub(crate) static GC_PERCENT: AtomicI32 = AtomicI32::new(i32::MIN);
pub(crate) static MEM_LIMIT: AtomicU64 = AtomicU64::new(u64::MAX);
pub(crate) static GOAL: AtomicUsize = AtomicUsize::new(MIN_HEAP);
pub(crate) static TRIGGER: AtomicUsize = AtomicUsize::new(MIN_HEAP * 85 / 100);
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

/// Recomputes goal and trigger after a mark; returns the goal.
pub(crate) fn end_cycle(marked: usize) -> usize {
    let p = gc_percent();
    let limit = mem_limit();
    let mut goal = if p < 0 {
        usize::MAX / 2
    } else {
        let grow = marked.saturating_mul(p as usize) / 100;
        (marked + grow)
            .max(MIN_HEAP * p as usize / 100)
            .max(marked + (64 << 10))
    };
    if limit < u64::MAX - 1 {
        let headroom = (limit / 33).max(1 << 20);
        let cap = limit.saturating_sub(headroom) as usize;
        goal = goal.min(cap.max(marked + (64 << 10)));
    }
    // In u128: with automatic cycles off the goal is near `usize::MAX / 2`.
    let trigger = marked + ((goal - marked) as u128 * 85 / 100) as usize;
    let hard = hard_goal(goal, p, limit);
    GOAL.store(goal, Ordering::Relaxed);
    TRIGGER.store(trigger, Ordering::Relaxed);
    HARD_GOAL.store(hard, Ordering::Relaxed);
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
    end_cycle(mstats::heap_marked());
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
    end_cycle(mstats::heap_marked());
    old
}

#[cfg(test)]
mod tests {
    use super::hard_goal;

    const MB: usize = 1 << 20;

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
