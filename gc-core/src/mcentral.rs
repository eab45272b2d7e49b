//! `mcentral`: the spans of one span class that no mcache holds.
//!
//! As in Go, `partial` and `full` each have two sets indexed by `sweepgen / 2 % 2`: one holds swept
//! spans and the other unswept ones, and adding 2 to `sweepgen` at mark termination swaps their
//! roles without moving a span. Go's sets are lock-free; a `parking_lot` mutex per class is enough
//! here because an mcache comes to its mcentral once per span, not once per object.

use crate::locks::Mutex;
use crate::mheap::{AllocError, HEAP};
use crate::mspan::{MSpan, SpanClass, NUM_SPAN_CLASSES};
use crate::sizeclasses::CLASS_PAGES;
use crate::sweep;

#[derive(Default)]
pub(crate) struct Sets {
    partial: [Vec<*mut MSpan>; 2],
    full: [Vec<*mut MSpan>; 2],
}

pub(crate) struct MCentral {
    pub class: SpanClass,
    /// Lock order (lib.rs): below `operation::REGISTRY`; one set at a time, and dropped before
    /// a span is swept or `mheap::HEAP` is taken.
    pub sets: Mutex<Sets>,
}

// SAFETY: the raw pointers are spans owned by this list; they are handed out under the lock.
unsafe impl Send for Sets {}

pub(crate) static CENTRAL: std::sync::LazyLock<Box<[MCentral]>> = std::sync::LazyLock::new(|| {
    (0..NUM_SPAN_CLASSES)
        .map(|c| MCentral {
            class: SpanClass::from_index(c),
            sets: Mutex::new(Sets::default()),
        })
        .collect()
});

/// Spans an allocating thread sweeps looking for space before it takes a fresh span. Go allows
/// 100; each one is a pause of the allocating thread, and the background sweeper is already
/// sweeping the rest, so tricolor keeps the refill short (a budget of 100 made 1 KiB refills in
/// the latency benchmark take tens of microseconds when most spans were fully live).
const LAZY_SWEEP_BUDGET: u32 = 8;

#[inline]
fn swept_index(sg: u32) -> usize {
    (sg / 2 % 2) as usize
}

impl MCentral {
    /// A span with at least one free slot, owned by the caller (Go's `cacheSpan`): a swept
    /// partial span, else an unswept one swept here (only for classes whose sweep runs no user
    /// code), else a fresh span from the heap.
    pub fn cache_span(&self) -> Result<*mut MSpan, AllocError> {
        let sg = sweep::sweepgen();
        let swept = swept_index(sg);
        let lazy_ok = self.class.nodrop();
        let mut budget = LAZY_SWEEP_BUDGET;
        loop {
            // Counted before the lock, in case an unswept span is taken under it (`sweep`).
            let counted = (lazy_ok && budget > 0).then(sweep::Sweeping::begin);
            let mut sets = self.sets.lock();
            if let Some(s) = sets.partial[swept].pop() {
                return Ok(s);
            }
            let Some(counted) = counted else {
                break;
            };
            let Some(s) = sets.partial[1 - swept]
                .pop()
                .or_else(|| sets.full[1 - swept].pop())
            else {
                break;
            };
            drop(sets);
            budget -= 1;
            sweep::LAZY_SWEPT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // SAFETY: the span came out of an unswept set, so we are its only holder.
            let span = unsafe { &*s };
            if !sweep::try_acquire(span, sg) {
                continue; // the background sweeper owns it now and will file it
            }
            match sweep::sweep_owned(s, sg, &counted) {
                sweep::Swept::Freed => continue,
                sweep::Swept::Kept => {
                    // SAFETY: we own the span after sweeping it.
                    if unsafe { span.free_slots() } > 0 {
                        return Ok(s);
                    }
                    self.sets.lock().full[swept].push(s);
                }
            }
        }
        let sc = self.class.sizeclass();
        HEAP.lock().alloc_span(
            CLASS_PAGES[sc] as usize,
            self.class,
            sg,
            self.class.value_off(),
        )
    }

    /// Takes back a span from an mcache (Go's `uncacheSpan`). Called with the span swept for the
    /// current cycle, or — during mark termination, before the flip — still to be swept after it.
    pub fn uncache_span(&self, s: *mut MSpan, free_slots: usize) {
        let sg = sweep::sweepgen();
        let mut sets = self.sets.lock();
        let i = swept_index(sg);
        if free_slots > 0 {
            sets.partial[i].push(s);
        } else {
            sets.full[i].push(s);
        }
    }

    /// Files a span the background sweeper has just swept.
    pub fn file_swept(&self, s: *mut MSpan, free_slots: usize) {
        self.uncache_span(s, free_slots);
    }

    /// Whether spans are still to be swept this cycle (a test hook's wait, `sweep::background`).
    pub fn has_unswept(&self) -> bool {
        let u = 1 - swept_index(sweep::sweepgen());
        let sets = self.sets.lock();
        !sets.partial[u].is_empty() || !sets.full[u].is_empty()
    }

    /// Takes one span still to be swept this cycle, if any.
    pub fn take_unswept(&self) -> Option<*mut MSpan> {
        let sg = sweep::sweepgen();
        let mut sets = self.sets.lock();
        let u = 1 - swept_index(sg);
        sets.partial[u].pop().or_else(|| sets.full[u].pop())
    }
}

/// The mcentral of a span class.
#[inline(always)]
pub(crate) fn central(class: SpanClass) -> &'static MCentral {
    &CENTRAL[class.index()]
}
