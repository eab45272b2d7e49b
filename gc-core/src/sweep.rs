//! Lazy sweeping per span, with Go's `sweepgen` protocol.
//!
//! The heap's sweep generation `h` (`mheap::SWEEPGEN`, Go's `mheap_.sweepgen`) grows by 2 at each
//! mark termination. A span whose `sweepgen` is
//! `h-2` needs sweeping; whoever wins the CAS `h-2 → h-1` owns it and publishes `h` when done
//! (Release, so the next owner sees the new bitmaps). Spans are swept by:
//! - an allocating thread that needs a span of a class whose sweep runs no user code (`nodrop`);
//! - the background sweeper (the collector thread), which takes every remaining span;
//! - an allocating thread paying its sweep credit ([`pay_credit`], Go's proportional sweep):
//!   when the background sweeper falls behind the pace that finishes the sweep before the
//!   next cycle's trigger, each span refill sweeps spans of any class whose sweep runs no user
//!   code until the pace is met again;
//! - a thread waiting at the hard goal ([`help_one`], from `mgc::wait_for`), which would
//!   otherwise wait for a collector thread that may lack a core;
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
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

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

/// The pace of this cycle's sweep (Go's `sweepPagesPerByte`), set at mark termination: the
/// pages then in use, to be swept by the time the threads have cached `DISTANCE` more bytes of
/// spans (the room from the marked heap to the next trigger), counted from `BASIS`.
static TO_SWEEP: AtomicUsize = AtomicUsize::new(0);
static DISTANCE: AtomicUsize = AtomicUsize::new(1);
static BASIS: AtomicUsize = AtomicUsize::new(0);
/// Bytes of spans the threads have cached, ever (the pace's clock).
static CACHED: AtomicUsize = AtomicUsize::new(0);
/// Pages swept since mark termination, by anyone.
static PAGES_SWEPT: AtomicUsize = AtomicUsize::new(0);
/// Cleared once a search found no span left that a thread other than the collector's may
/// sweep, until the next mark termination.
static NODROP_LEFT: AtomicBool = AtomicBool::new(false);
/// Where the last search for such a span stopped (an index into `CENTRAL`).
static CURSOR: AtomicUsize = AtomicUsize::new(0);
/// Spans swept for sweep credit, and by threads waiting at the hard goal, since the last
/// `GCTRACE=2` line.
pub(crate) static CREDIT_SWEPT: AtomicUsize = AtomicUsize::new(0);
pub(crate) static WAITING_SWEPT: AtomicUsize = AtomicUsize::new(0);

/// Most spans one refill sweeps for its credit: a refill runs inside an operation, which a stop
/// waits for (each span here is a bitmap swap, a microsecond or so).
const CREDIT_BUDGET: usize = 64;

/// Sets the pace at mark termination (in the stop, after the flip): the pages in use now are
/// to be swept while the threads cache `distance` bytes of spans.
pub(crate) fn plan(distance: usize) {
    TO_SWEEP.store(
        crate::mheap::HEAP_INUSE.load(Ordering::Relaxed) / crate::sizeclasses::PAGE_SIZE,
        Ordering::Relaxed,
    );
    DISTANCE.store(distance.max(1 << 20), Ordering::Relaxed);
    BASIS.store(CACHED.load(Ordering::Relaxed), Ordering::Relaxed);
    PAGES_SWEPT.store(0, Ordering::Relaxed);
    NODROP_LEFT.store(true, Ordering::Relaxed);
}

/// Whether this cycle's sweep is unfinished.
pub(crate) fn pending() -> bool {
    HEAP_SWEPT.load(Ordering::Acquire) != sweepgen()
}

/// An allocating thread cached a span with `bytes` of free slots (inside its operation): if
/// the sweep is behind its pace, sweeps spans until it is not (Go's `deductSweepCredit`), at
/// most [`CREDIT_BUDGET`]. Only spans whose sweep runs no user code: drop glue runs on the
/// collector's thread alone.
pub(crate) fn pay_credit(bytes: usize) {
    // A clock that may wrap (32-bit targets): only differences are read.
    let cached = CACHED
        .fetch_add(bytes, Ordering::Relaxed)
        .wrapping_add(bytes);
    if !NODROP_LEFT.load(Ordering::Relaxed) || !pending() {
        return;
    }
    let run = cached.wrapping_sub(BASIS.load(Ordering::Relaxed)) as u128;
    let to_sweep = TO_SWEEP.load(Ordering::Relaxed);
    let due = (run * to_sweep as u128 / DISTANCE.load(Ordering::Relaxed) as u128) as usize;
    let due = due.min(to_sweep);
    let (mut taken, mut swept) = (0, 0);
    while taken < CREDIT_BUDGET && PAGES_SWEPT.load(Ordering::Relaxed) < due {
        match help_one() {
            None => break,
            Some(s) => swept += s as usize,
        }
        taken += 1;
    }
    CREDIT_SWEPT.fetch_add(swept, Ordering::Relaxed);
}

/// Takes one span still unswept this cycle of a class whose sweep runs no user code and sweeps
/// it: `None` once none is left, `Some(false)` if another sweeper turned out to own the span
/// taken. For sweep credit and for threads waiting at the hard goal; the caller is inside an
/// operation, so that no mark termination moves the sweep generation while it holds a span
/// (`sweep_one`).
pub(crate) fn help_one() -> Option<bool> {
    if !NODROP_LEFT.load(Ordering::Relaxed) {
        return None;
    }
    let n = CENTRAL.len();
    let start = CURSOR.load(Ordering::Relaxed);
    for k in 0..n {
        let i = (start + k) % n;
        let c = &CENTRAL[i];
        if !c.class.nodrop() {
            continue;
        }
        if let Some(swept) = sweep_one(c) {
            CURSOR.store(i, Ordering::Relaxed);
            return Some(swept);
        }
    }
    NODROP_LEFT.store(false, Ordering::Relaxed);
    None
}

/// Takes one span still unswept this cycle from `c` and sweeps it: `None` if `c` had none,
/// `Some(false)` if another sweeper owned the one taken. The sweep generation is read with
/// the sweep already counted (`Sweeping`), so the next cycle's sweep termination waits for
/// this one; the callers see no mark termination meanwhile (the collector's own thread runs
/// them, or its caller is inside an operation).
fn sweep_one(c: &crate::mcentral::MCentral) -> Option<bool> {
    let counted = Sweeping::begin();
    let sg = sweepgen();
    let s = c.take_unswept()?;
    // SAFETY: spans in mcentral sets stay allocated as structs.
    let span = unsafe { &*s };
    if !try_acquire(span, sg) {
        return Some(false); // its owner files it
    }
    if let Swept::Kept = sweep_owned(s, sg, &counted) {
        // SAFETY: we own the span.
        let free = unsafe { span.free_slots() };
        central(span.class).file_swept(s, free);
    }
    Some(true)
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
    PAGES_SWEPT.fetch_add(span.npages, Ordering::Relaxed);
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
    sweep_classes(|_| true)
}

/// [`sweep_all`] for the classes `which` picks.
pub(crate) fn sweep_classes(which: impl Fn(&crate::mcentral::MCentral) -> bool) -> usize {
    let mut n = 0;
    for c in CENTRAL.iter().filter(|c| which(c)) {
        while let Some(swept) = sweep_one(c) {
            n += swept as usize;
        }
    }
    n
}

/// Set by a test (`__private::leave_sweep_to_mutators`): the background sweep leaves every span
/// whose sweep runs no user code to the mutators (sweep credit, waits at the hard goal) and
/// waits until they have swept them.
static MUTATORS_ONLY: AtomicBool = AtomicBool::new(false);

pub(crate) fn leave_to_mutators(on: bool) {
    MUTATORS_ONLY.store(on, Ordering::Relaxed);
}

/// The background sweep's spans: all of them, or with the test hook on, those with drop glue,
/// then a wait until the mutators have swept the rest.
pub(crate) fn background() -> usize {
    if !MUTATORS_ONLY.load(Ordering::Relaxed) {
        return finish();
    }
    let n = sweep_classes(|c| !c.class.nodrop());
    // The hook is read again each time: a test that turns it off while this waits (its thread
    // then sweeps nothing more) gets the rest swept by `finish`.
    while MUTATORS_ONLY.load(Ordering::Relaxed)
        && CENTRAL.iter().any(|c| c.class.nodrop() && c.has_unswept())
    {
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
    n + finish()
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
