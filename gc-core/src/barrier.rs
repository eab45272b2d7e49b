//! The write barrier: the hybrid Yuasa/Dijkstra barrier of tricolor lives in the root-count
//! transitions and in the handle types' methods, all inside operations (module `operation`).
//!
//! # The snapshot argument ("stacks black, no rescan")
//! Marking starts with `OFF → MARK` and a handshake, then scans roots (objects with a root count
//! above zero) once. Every object reachable when marking started is marked, because:
//! (a) a root at that moment is either still rooted when the scan reads its count, or its count
//!     fell to zero in an operation that read `MARK` and shaded it (`unroot`, `drop`); the scan
//!     reads the counts of the spans flagged as maybe rooted, and a root whose span was not
//!     flagged in time is one a clone was making while the scan began, through a path from an
//!     older root that stays intact until the clone returns (`protocol::roots`);
//! (b) a heap reference deleted during marking went through a barrier that shaded its target:
//!     `borrow_mut` shades the cell's contents at acquisition (Yuasa: the marker skips a cell
//!     that is mutably borrowed, and anything removed from it was shaded first), and handles
//!     stored into the heap are unrooted, which shades at 1→0 (Dijkstra for the inserted value);
//! (c) objects allocated during marking are born black (mark bit set in `Gc::new`).
//! An object unreachable at the start can never become reachable again (handles are only made
//! from reachable ones; `Weak::upgrade` shades while marking). Hence no root needs a rescan.
//!
//! # `Gc::new`
//! The unrooting of the handles moved into the new object, the allocation and the colour
//! decision happen in one operation, under one phase (in that order, so that no user code, such
//! as a hand-written `unroot`, runs while a slot is reserved): with `OFF` the object is white and
//! rooted, and a cycle starting later waits for the operation, then finds it as a root; with
//! `MARK` it is born black and every handle moved into it is shaded as it is unrooted. The failure DESIGN.md warns
//! of (unroots see `OFF`, the allocation sees `MARK`) cannot happen because the phase is read
//! once per operation.

use crate::header::Header;
use crate::mgcwork::{self, WORK};
use crate::mheap::span_of;
use crate::operation::with_op;
use crate::protocol;

/// Shades `h` gray: marks it and queues it for scanning unless it holds no pointers. Called by
/// the barrier inside an operation that read `MARK`, and by the collector.
#[inline]
pub(crate) fn shade(h: *const Header) {
    // SAFETY: `h` is a live object: the caller holds or just released a root on it inside an
    // operation that read MARK, and nothing is freed until after the next mark termination,
    // which waits for this operation.
    let span = unsafe { span_of(h as usize) };
    let idx = span.index_of(h as usize);
    if span.try_mark(idx) {
        WORK.note_marked(span.elemsize);
        if !span.class.noscan() {
            mgcwork::push(h as usize);
        }
        if span.specials.is_ephemeron_key(idx) {
            mgcwork::push(h as usize | mgcwork::EPHEMERON_KEY);
        }
    }
}

/// Removes one root from `h` (the handle was dropped or moved into the heap). Only a 1→0
/// transition needs the barrier, so the common case is a CAS outside any operation.
#[inline(always)]
pub(crate) fn release_root(h: &Header) {
    // SAFETY: the root released is the caller's, so `h` is a heap object's header (only
    // `Weak::new` points outside the heap, and it makes no root), allocated meanwhile.
    if !unsafe { h.release_if_not_last() } {
        release_last_root(h);
    }
}

/// Removes the root of a handle that moves into the heap (`Trace::unroot`). Nearly always
/// called inside the operation that makes the move (`Gc::new`, a container's store), whose phase
/// holds throughout: then one decrement, and the barrier if it was the last root, with neither
/// the CAS loop of [`release_root`] (which exists to stay out of an operation) nor a nested
/// operation's bookkeeping. A fresh handle moved into `Gc::new` or a `GcVec` is exactly this.
///
/// Small enough to inline into every `unroot` (a node's children are unrooted in `Gc::new`'s
/// fast path): the shade and the path outside an operation are calls.
#[inline(always)]
pub(crate) fn release_moved_root(h: &Header) {
    match crate::operation::phase_in_operation() {
        Some(phase) => release_root_in_op(phase == protocol::MARK, h),
        None => release_root_outside(h),
    }
}

#[inline(never)]
fn release_root_outside(h: &Header) {
    release_root(h)
}

/// Removes one root from `h` inside an operation whose phase is MARK if `marking`.
#[inline(always)]
pub(crate) fn release_root_in_op(marking: bool, h: &Header) {
    // SAFETY: as in `release_root`.
    if unsafe { h.release_last() } && marking {
        shade_released(h);
    }
}

/// The shade of a root released while marking, out of line: the release itself is inlined.
#[inline(never)]
fn shade_released(h: &Header) {
    shade(h)
}

/// Not cold: dropping the last handle of an object is this path.
#[inline(always)]
fn release_last_root(h: &Header) {
    with_op(|op| release_root_in_op(op.marking(), h))
}
