//! The gray queue and the cycle's work counters (Go's `mgcwork.go` and its `work` struct).
//!
//! The gray queue is Go's work-buffer design: each marker keeps a local stack (its `Tracer`)
//! and shares work through one global list when its stack grows, taking batches from it when
//! empty. Markers are the background workers, allocating threads in assists, the write barrier
//! (which queues single objects) and the collector in mark termination.

use crate::locks::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Tags a gray entry that stands for a marked `GcWeakMap` key's ephemeron values rather than an
/// object to scan (headers are 8-aligned, so bit 1 is free). It is pushed beside the key's own
/// entry, noscan keys included, and travels between markers with the rest (module `mark`).
pub(crate) const EPHEMERON_KEY: usize = 2;
/// Tag of a gray entry for an object without a header that carries the object's pointer map in
/// its top 16 bits (`GRAY_MAP_SHIFT`), so that its scan needs no lookup of its span.
pub(crate) const BARE_MAP: usize = 4;
/// Where a `BARE_MAP` entry keeps the map: above the 48 bits of a user-space address.
pub(crate) const GRAY_MAP_SHIFT: u32 = 48;

/// Gray objects (header addresses) shared between markers. Lock order: a leaf.
static GRAY: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// `GRAY`'s length, read without the lock to skip empty takes.
static GRAY_LEN: AtomicUsize = AtomicUsize::new(0);

/// A local stack longer than this shares its top entries.
pub(crate) const SHARE_AT: usize = 1024;
/// Entries taken from the shared list at once.
const BATCH: usize = 256;

/// Background workers waiting for gray objects. A marker whose local stack never reaches
/// `SHARE_AT` (a tree is traced depth-first with a stack no deeper than the tree) would keep all
/// its work to itself; when somebody is hungry and the shared list is empty it gives away the
/// bottom half of its stack instead, the objects nearest the roots and so the largest subgraphs
/// (Go's `gcWork.balance`). Measured on the mark-rate workload: without this a second worker
/// did not shorten the mark at all.
///
/// The counter is only a hint, read and written `Relaxed`: a stale value delays a give-away or
/// makes a useless one, nothing more. Objects given away go through the shared list under its
/// lock like any others, and the end of marking is still decided by the workers' idle count
/// and the shared list, never by this counter.
pub(crate) static HUNGRY: AtomicUsize = AtomicUsize::new(0);

/// Queues one gray object for any marker.
pub(crate) fn push(h: usize) {
    let mut g = GRAY.lock();
    g.push(h);
    GRAY_LEN.store(g.len(), Ordering::Release);
}

/// Moves the gray objects `items[range]` to the shared list.
pub(crate) fn share(items: &mut Vec<usize>, range: impl std::ops::RangeBounds<usize>) {
    let mut g = GRAY.lock();
    g.extend(items.drain(range));
    GRAY_LEN.store(g.len(), Ordering::Release);
}

/// Shares all but the bottom `keep` entries of a stack.
pub(crate) fn share_above(items: &mut Vec<usize>, keep: usize) {
    if items.len() > keep {
        share(items, keep..);
    }
}

/// Moves up to a batch of shared gray objects onto `into`; false if there were none.
pub(crate) fn take_batch(into: &mut Vec<usize>) -> bool {
    if GRAY_LEN.load(Ordering::Acquire) == 0 {
        return false;
    }
    let mut g = GRAY.lock();
    let n = g.len().min(BATCH);
    let at = g.len() - n;
    into.extend(g.drain(at..));
    GRAY_LEN.store(g.len(), Ordering::Release);
    n > 0
}

/// True if no gray object is shared (markers may still hold some on their stacks).
pub(crate) fn gray_empty() -> bool {
    GRAY_LEN.load(Ordering::Acquire) == 0
}

/// The cycle's work counters (part of Go's `work`): reset when marking starts, read by the cycle
/// when it records itself. All `Relaxed`: they are tallies, and the cycle reads them after the
/// stop's handshake, which orders every operation's updates before it.
pub(crate) struct Work {
    /// Bytes marked this cycle: objects shaded or scanned (black allocation is tallied per
    /// thread, `ThreadState::black_bytes`, and added in the stop).
    pub marked_bytes: AtomicUsize,
    /// Objects scanned by the background workers.
    pub scanned_bg: AtomicUsize,
    /// Objects scanned by assists.
    pub scanned_assist: AtomicUsize,
    /// Objects the root scan found with a root count above zero.
    pub roots_found: AtomicUsize,
    /// Bytes of marking the root scan's jobs were worth so far, and the whole scan's expected
    /// worth (`markroot`): the assists' schedule counts root work as marking.
    pub root_credit: AtomicUsize,
    pub root_expected: AtomicUsize,
    /// Root-scan jobs assists ran, and threads waiting at the goal.
    pub root_jobs_assist: AtomicUsize,
    pub root_jobs_waiting: AtomicUsize,
    /// Nanoseconds allocating threads have spent in assists, since the start (not reset).
    pub assist_ns: AtomicU64,
}

/// The current cycle's counters.
pub(crate) static WORK: Work = Work {
    marked_bytes: AtomicUsize::new(0),
    scanned_bg: AtomicUsize::new(0),
    scanned_assist: AtomicUsize::new(0),
    roots_found: AtomicUsize::new(0),
    root_credit: AtomicUsize::new(0),
    root_expected: AtomicUsize::new(0),
    root_jobs_assist: AtomicUsize::new(0),
    root_jobs_waiting: AtomicUsize::new(0),
    assist_ns: AtomicU64::new(0),
};

impl Work {
    /// Counts `bytes` of newly marked objects.
    #[inline]
    pub fn note_marked(&self, bytes: usize) {
        self.marked_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Clears the per-cycle counters when marking starts.
    pub fn reset(&self) {
        self.marked_bytes.store(0, Ordering::Relaxed);
        self.scanned_bg.store(0, Ordering::Relaxed);
        self.scanned_assist.store(0, Ordering::Relaxed);
        self.roots_found.store(0, Ordering::Relaxed);
        self.root_credit.store(0, Ordering::Relaxed);
        self.root_expected.store(0, Ordering::Relaxed);
        self.root_jobs_assist.store(0, Ordering::Relaxed);
        self.root_jobs_waiting.store(0, Ordering::Relaxed);
    }
}
