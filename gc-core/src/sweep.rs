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
//! cannot see in any list (the span is in their hands).

use crate::mcentral::{central, CENTRAL};
use crate::mheap::HEAP;
use crate::mspan::MSpan;
use crate::mstats;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// Sweeps a span the caller acquired with [`try_acquire`].
pub(crate) fn sweep_owned(s: *mut MSpan, sg: u32) -> Swept {
    SWEEPERS.fetch_add(1, Ordering::AcqRel);
    // SAFETY: the caller won the sweepgen CAS, so it owns the span, and marking is off (sweeping
    // only happens between mark termination and the next sweep termination).
    let span = unsafe { &*s };
    let cfg = crate::config::get();
    // SAFETY: as above: we own the span and no marking is in progress.
    let (freed, live) = unsafe { span.sweep(cfg.poison, cfg.checkmark) };
    mstats::note_sweep(span.elemsize, span.class.sizeclass(), freed);
    span.sweepgen.store(sg, Ordering::Release);
    let out = if live == 0 {
        // SAFETY: no live object is left and we own the span.
        unsafe { HEAP.lock().free_span(s) };
        Swept::Freed
    } else {
        Swept::Kept
    };
    SWEEPERS.fetch_sub(1, Ordering::AcqRel);
    out
}

/// Sweeps every span still unswept this cycle (the background sweeper, and sweep termination).
/// Returns the number of spans swept.
pub(crate) fn sweep_all() -> usize {
    let sg = sweepgen();
    let mut n = 0;
    for c in CENTRAL.iter() {
        while let Some(s) = c.take_unswept() {
            // SAFETY: spans in mcentral sets stay allocated as structs.
            let span = unsafe { &*s };
            if !try_acquire(span, sg) {
                continue;
            }
            n += 1;
            if let Swept::Kept = sweep_owned(s, sg) {
                // SAFETY: we own the span.
                let free = unsafe { span.free_slots() };
                central(span.class).file_swept(s, free);
            }
        }
    }
    n
}

/// Sweep termination: sweeps what is left and waits for lazy sweeps in other threads' hands.
pub(crate) fn finish() {
    sweep_all();
    let mut spins = 0u32;
    while SWEEPERS.load(Ordering::Acquire) != 0 {
        crate::sync::spin(&mut spins);
    }
}
