//! Lazy sweeping per span, with Go's `sweepgen` protocol.
//!
//! The heap's sweep generation `h` (`mheap::SWEEPGEN`, Go's `mheap_.sweepgen`) grows by 2 at each
//! mark termination. A span whose `sweepgen` is
//! `h-2` needs sweeping; whoever wins the CAS `h-2 → h-1` owns it and publishes `h` when done
//! (Release, so the next owner sees the new bitmaps). Spans are swept by:
//! - an allocating thread that needs a span of a class whose sweep runs no user code (`nodrop`);
//! - the background sweeper (the collector thread), which takes every remaining span;
//! - sweep termination at the start of the next cycle, which finishes whatever is left.
//!
//! `SWEEPERS` counts sweeps in progress so that sweep termination can wait for lazy sweepers it
//! cannot see in any list (the span is in their hands). A sweeper counts itself ([`Sweeping`])
//! *before* it takes a span out of an unswept set, as Go's `sweepLocker` does: counted only
//! once it owned the span, a lazy sweeper that had popped a span and not yet counted itself was
//! invisible to `finish`, which then said the heap was swept (weak references trusted it) or
//! let marking start while that span was still being swept.

use crate::mcentral::{central, CENTRAL};
use crate::mheap::HEAP;
use crate::mspan::MSpan;
use crate::mstats;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Spans swept by allocating threads (lazily) since the last `GCTRACE=2` line.
pub(crate) static LAZY_SWEPT: AtomicUsize = AtomicUsize::new(0);
static SWEEPERS: AtomicUsize = AtomicUsize::new(0);

/// The heap's sweep generation.
#[inline(always)]
pub(crate) fn sweepgen() -> u32 {
    crate::mheap::SWEEPGEN.load(Ordering::Acquire)
}

/// Takes ownership of an unswept span; false if someone else has it or it is swept.
pub(crate) fn try_acquire(s: &MSpan, sg: u32) -> bool {
    crate::protocol::try_acquire_sweep(&s.sweepgen, sg)
}

pub(crate) enum Swept {
    /// Every object was dead: the span's pages went back to the heap.
    Freed,
    /// The span keeps live objects; the caller still owns it and must file it.
    Kept,
}

/// A sweep in progress, counted from before its span leaves an unswept set until the span is
/// swept and filed (module docs).
pub(crate) struct Sweeping(());

impl Sweeping {
    /// Counts a sweep about to take a span; take it (under the set's lock) after this.
    pub(crate) fn begin() -> Sweeping {
        crate::protocol::sweep_begin(&SWEEPERS);
        Sweeping(())
    }
}

impl Drop for Sweeping {
    fn drop(&mut self) {
        crate::protocol::sweep_end(&SWEEPERS);
    }
}

/// Sweeps a span the caller acquired with [`try_acquire`], inside a [`Sweeping`] it began
/// before taking the span.
pub(crate) fn sweep_owned(s: *mut MSpan, sg: u32, _counted: &Sweeping) -> Swept {
    // SAFETY: the caller won the sweepgen CAS, so it owns the span, and marking is off (sweeping
    // only happens between mark termination and the next sweep termination).
    let span = unsafe { &*s };
    let cfg = crate::config::get();
    // SAFETY: as above: we own the span and no marking is in progress.
    let (freed, live) = unsafe { span.sweep(sg, cfg.poison, cfg.checkmark) };
    mstats::note_sweep(span.elemsize, span.class.sizeclass(), freed);
    span.sweepgen.store(sg, Ordering::Release);
    let out = if live == 0 {
        // SAFETY: no live object is left and we own the span.
        unsafe { HEAP.lock().free_span(s) };
        Swept::Freed
    } else {
        Swept::Kept
    };
    out
}

/// Sweeps every span still unswept this cycle (the background sweeper, and sweep termination).
/// Returns the number of spans swept.
pub(crate) fn sweep_all() -> usize {
    let sg = sweepgen();
    let mut n = 0;
    for c in CENTRAL.iter() {
        loop {
            let counted = Sweeping::begin();
            let Some(s) = c.take_unswept() else {
                break;
            };
            // SAFETY: spans in mcentral sets stay allocated as structs.
            let span = unsafe { &*s };
            if !try_acquire(span, sg) {
                continue;
            }
            n += 1;
            if let Swept::Kept = sweep_owned(s, sg, &counted) {
                // SAFETY: we own the span.
                let free = unsafe { span.free_slots() };
                central(span.class).file_swept(s, free);
            }
        }
    }
    n
}

/// The last sweep generation that every span has finished (`protocol::weak`); the heap starts
/// swept, at `mheap::SWEEPGEN`'s first value.
pub(crate) static HEAP_SWEPT: AtomicU32 = AtomicU32::new(2);

/// Sweeps what is left and waits for lazy sweeps in other threads' hands (the end of the
/// background sweep, and sweep termination), then says the generation is swept. Returns the
/// number of spans this call swept.
pub(crate) fn finish() -> usize {
    let n = sweep_all();
    let mut spins = 0u32;
    while !crate::protocol::sweeps_done(&SWEEPERS) {
        crate::sync::spin(&mut spins);
    }
    HEAP_SWEPT.store(sweepgen(), Ordering::Release);
    n
}
