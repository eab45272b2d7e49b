//! The root scan as jobs (Go's `markroot` jobs): the spans in use when marking starts, cut into
//! jobs of [`SPANS_PER_JOB`] spans that the background workers and the assists claim from one
//! cursor. Each job marks the objects whose root count is above zero (tricolor's only kind of
//! root) and the finalizer referents of its spans (`finalizer::scan_span`).
//!
//! Only the headers of spans flagged as maybe holding a root are read (`protocol::roots` has
//! the protocol and its argument): a span is flagged when an mcache caches it and gives it
//! back, and by each first root in it, and the scan clears every flag before it reads a count,
//! flagging again the spans where it finds a root. A span whose objects have all lived unrooted
//! in the heap since the last scan (a program's old data) costs one flag read, not a read of
//! every header. What a heap that turns over still costs is the headers of the spans allocated
//! into since the last scan: most objects are born with a root.
//!
//! Why assists take root jobs, as Go's `gcDrainN` does: the scan reads every header allocated
//! since the last cycle, so on a heap that turns over it is half of the mark (binary-trees 18:
//! 9–10 ms of 16). While it runs the gray queue is nearly empty, so an assist found nothing to
//! do and the mutator allocated black at full speed, and what it allocated black counted as
//! marked in the next goal. A job is what an allocating thread owes instead: it shortens the
//! scan with the mutator's core and slows the allocation that the scan lets through.
//!
//! The schedule counts root work as marking: a job credits a [`ROOT_WEIGHT`]th of the bytes it
//! read, that is, of its allocated slots, each counted up to a cache line (a header read costs
//! about a quarter of an object scan per byte, measured on binary-trees: 62 MB of spans in 9 ms,
//! 10 MB scanned in 6 ms; a large object costs one line, not its size). The scan's expected
//! total is what the last scan was worth (the heap's allocated bytes over the same weight
//! before the first), as the marking part of the schedule expects what the last cycle
//! scanned.

use crate::header::header;
use crate::locks::Mutex;
use crate::mbitmap::{side_addr, GRANULE};
use crate::mgcwork::WORK;
use crate::mheap::SpanRef;
use crate::protocol::{count, jobs, roots};
use crate::trace::Tracer;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

/// Spans per job: a job of small-object spans reads 128 KiB of headers, 10–30 µs, short enough
/// for an assist's share and long enough that the cursor is not contended.
const SPANS_PER_JOB: usize = 16;
/// Bytes of headers read credited as one byte of marking (module docs).
const ROOT_WEIGHT: usize = 4;
/// A cache line: what reading one header of a large object costs.
const LINE: usize = 64;

/// One cycle's root scan: the span list and its jobs.
pub(crate) struct RootScan {
    /// Every span in use when the scan started.
    spans: Vec<SpanRef>,
    /// The spans with work, each with whether it may hold a root (its flag, taken when the scan
    /// started, `protocol::roots`); the others had neither a flag nor a finalizer registration
    /// then. Registrations made since are of objects born black, whose referents were shaded
    /// as they moved in.
    work: Vec<(SpanRef, bool)>,
    /// The next job to claim.
    next: AtomicUsize,
    /// Jobs finished (`protocol::jobs`).
    done: AtomicUsize,
    /// Finalizer registrations of types not yet known to have a finalizer.
    unknown: AtomicUsize,
}

impl RootScan {
    fn jobs(&self) -> usize {
        self.work.len().div_ceil(SPANS_PER_JOB)
    }

    /// The spans in use when marking started (the resurrection pass walks them again).
    pub(crate) fn spans(&self) -> &[SpanRef] {
        &self.spans
    }

    /// How many spans the jobs visit: those that may hold a root or had finalizer
    /// registrations when the scan started.
    pub(crate) fn visited_spans(&self) -> usize {
        self.work.len()
    }

    /// Claims and runs one job; `None` once every job is claimed. Returns the bytes of marking
    /// it is worth.
    fn run_one(&self, t: &mut Tracer) -> Option<usize> {
        let Some(j) = jobs::claim(&self.next, self.jobs()) else {
            PENDING.store(false, Ordering::Relaxed);
            return None;
        };
        let lo = j * SPANS_PER_JOB;
        let hi = (lo + SPANS_PER_JOB).min(self.work.len());
        let (mut roots, mut unknown, mut read_bytes) = (0, 0, 0);
        for &(s, rooted) in &self.work[lo..hi] {
            let span = s.get();
            unknown += crate::finalizer::scan_span(span, t);
            if !rooted {
                continue;
            }
            // The work is the headers read: a cache line each, or the slot for a smaller one.
            let read = span.elemsize.min(LINE);
            let free = span.freeindex.load(Ordering::Acquire);
            let mut found = false;
            if span.elemsize % GRANULE == 0 {
                // The side bytes of the span's objects are evenly spaced: read them in order,
                // and look at the allocation bits only for a count above zero (a freed slot's
                // count is 0; a slot never allocated holds 0, as `MHeap::alloc_span` zeroed
                // the span's side bytes, or what a freed object left there: the bits decide).
                let first = side_addr(span.obj_of(0));
                let stride = span.elemsize / GRANULE;
                read_bytes += span.allocated_count(free) * read;
                for i in 0..span.nelems {
                    // SAFETY: the side byte of slot `i`'s object, inside the chunk's side
                    // array (exposed with the chunk), atomics only, initialized since the span
                    // was made (`MHeap::alloc_span`).
                    let b = unsafe {
                        &*std::ptr::with_exposed_provenance::<AtomicU8>(first + i * stride)
                    };
                    if !count::has_roots(b) || !span.is_allocated(i, free) {
                        continue;
                    }
                    found = true;
                    roots += 1;
                    // SAFETY: an allocated slot's object (as below).
                    t.edge(unsafe { header(span.obj_of(i)) });
                }
                if found {
                    roots::keep(&span.maybe_rooted);
                }
                continue;
            }
            for i in 0..span.nelems {
                if !span.is_allocated(i, free) {
                    continue;
                }
                read_bytes += read;
                // SAFETY: allocated slots below `freeindex` (Acquire) or with their alloc bit
                // set hold initialized headers, and nothing is freed during marking (the spans
                // were in use when it started, and sweeping does not overlap it).
                let h = unsafe { header(span.obj_of(i)) };
                // SAFETY: as above, a heap object.
                if unsafe { h.has_roots() } {
                    found = true;
                    roots += 1;
                    t.edge(h);
                }
            }
            if found {
                roots::keep(&span.maybe_rooted);
            }
        }
        // The roots found go to the shared queue at once, for the other markers.
        t.flush();
        WORK.roots_found.fetch_add(roots, Ordering::Relaxed);
        let credit = read_bytes / ROOT_WEIGHT;
        WORK.root_credit.fetch_add(credit, Ordering::Relaxed);
        self.unknown.fetch_add(unknown, Ordering::Relaxed);
        jobs::finish(&self.done);
        Some(credit)
    }
}

/// The cycle's root scan while it has jobs left to claim (the collector clears it once all are
/// done). Behind a lock: an assist clones the `Arc` once per job, tens of microseconds of work.
static CURRENT: Mutex<Option<Arc<RootScan>>> = Mutex::new(None);
/// Whether a job may be left: lets an assist skip the lock for the rest of the mark.
static PENDING: AtomicBool = AtomicBool::new(false);

/// Publishes the root scan over `spans` as jobs for the assists (and threads waiting at the
/// goal, `mgc::wait_for`); [`complete`] runs it. `heap_bytes`: the heap's allocated bytes, the
/// scan's expected size for the assists' schedule when no scan has run yet.
pub(crate) fn start(spans: Vec<SpanRef>, heap_bytes: usize) -> Arc<RootScan> {
    // Every take before the fence, and every count read after it (`protocol::roots`). One pass
    // over the span structs: a span with neither a flag nor finalizer registrations gets no job.
    let work: Vec<(SpanRef, bool)> = spans
        .iter()
        .filter_map(|s| {
            let span = s.get();
            let rooted = roots::take(&span.maybe_rooted);
            (rooted || span.specials.finalizer_bits().is_some()).then_some((*s, rooted))
        })
        .collect();
    roots::scan_fence();
    let scan = Arc::new(RootScan {
        spans,
        work,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        unknown: AtomicUsize::new(0),
    });
    // What the last scan was worth, in the credit's own units (as the marking part of the
    // schedule expects what the last cycle scanned); before any scan, an upper bound.
    let last = LAST_CREDIT.load(Ordering::Relaxed);
    let expected = if last > 0 {
        last
    } else {
        heap_bytes / ROOT_WEIGHT
    };
    WORK.root_expected.store(expected, Ordering::Relaxed);
    *CURRENT.lock() = Some(scan.clone());
    PENDING.store(true, Ordering::Relaxed);
    scan
}

/// Runs the published scan with the background workers, the assists joining in, and returns
/// once every job is done, with how many finalizer registrations of unknown types it saw.
pub(crate) fn complete(scan: &RootScan) -> usize {
    if !ASSISTS_ONLY.load(Ordering::Relaxed) {
        crate::mark::broadcast(|| {
            let mut t = Tracer::marker();
            while scan.run_one(&mut t).is_some() {}
        });
    }
    // An assist may still be inside the last jobs it claimed: each is short, and its thread is
    // inside an operation, which waits for nothing of the collector's.
    let mut spins = 0;
    let mut t = Tracer::marker();
    while !jobs::all_done(&scan.done, scan.jobs()) {
        if !ASSISTS_ONLY.load(Ordering::Relaxed) {
            // The test hook was turned off during this scan: what is left is ours.
            while scan.run_one(&mut t).is_some() {}
        }
        crate::sync::backoff(&mut spins);
    }
    PENDING.store(false, Ordering::Relaxed);
    *CURRENT.lock() = None;
    LAST_CREDIT.store(WORK.root_credit.load(Ordering::Relaxed), Ordering::Relaxed);
    scan.unknown.load(Ordering::Relaxed)
}

/// The credit the last root scan was worth in all (its jobs are done when it is read).
static LAST_CREDIT: AtomicUsize = AtomicUsize::new(0);

/// Whether the root scan may have jobs left to claim.
pub(crate) fn pending() -> bool {
    PENDING.load(Ordering::Relaxed)
}

/// Set by a test (`__private::leave_root_scan_to_assists`): the workers take no root job.
static ASSISTS_ONLY: AtomicBool = AtomicBool::new(false);

pub(crate) fn leave_to_assists(on: bool) {
    ASSISTS_ONLY.store(on, Ordering::Relaxed);
}

/// An assist's root job, when the gray queue had nothing for it: runs one and returns the
/// bytes of marking it is worth, or `None` if no job is left.
pub(crate) fn assist_job(t: &mut Tracer) -> Option<usize> {
    let credit = claim_and_run(t)?;
    WORK.root_jobs_assist.fetch_add(1, Ordering::Relaxed);
    Some(credit)
}

/// `__private::run_root_scan`: runs every job left of the published scan on this thread (inside
/// an operation that read `MARK`); true if they are all done.
pub(crate) fn run_published() -> bool {
    let Some(scan) = CURRENT.lock().clone() else {
        return false;
    };
    let mut t = Tracer::marker();
    while scan.run_one(&mut t).is_some() {}
    jobs::all_done(&scan.done, scan.jobs())
}

/// A root job run by a thread waiting at the goal (`mgc::wait_for`); `None` if none is left.
pub(crate) fn waiting_job(t: &mut Tracer) -> Option<usize> {
    let credit = claim_and_run(t)?;
    WORK.root_jobs_waiting.fetch_add(1, Ordering::Relaxed);
    Some(credit)
}

fn claim_and_run(t: &mut Tracer) -> Option<usize> {
    if !PENDING.load(Ordering::Relaxed) {
        return None;
    }
    let Some(scan) = CURRENT.lock().clone() else {
        // The scan is over: nobody needs to look again this cycle.
        PENDING.store(false, Ordering::Relaxed);
        return None;
    };
    scan.run_one(t)
}
