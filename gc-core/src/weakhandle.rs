//! What a `Weak` knows about its object: the object itself, whose header says whether its weak
//! references are cleared (`protocol::weak::CLEARED`, in the header's vtable word), and a count
//! in its span's specials (module `mspecial`) that keeps the object's memory allocated while a
//! `Weak` points at it. This is `std::sync::Weak`'s layout (the weak pointer reaches the counts
//! beside the value), not Go's (a `weak.Pointer` points at a separate 8-byte handle object that
//! points at the value): a random `upgrade` is one cache miss, the header whose root count it
//! raises, where a handle design is two dependent misses (the handle, then the object); a
//! `downgrade` raises a counter and allocates nothing. What it costs: the memory of an object
//! that died with `Weak`s left stays allocated (its value dropped) until the last of them is
//! dropped, as an `Arc`'s does; Go keeps only the 8-byte handle.
//!
//! # When an object's weak references clear
//! - A dead object's bit is set by the sweeper of its span, before the span frees or reuses
//!   anything (`MSpan::sweep`). If a `Weak` still counts on it, the sweeper then drops its value
//!   and makes it a `()` (`Header::become_unit`), and keeps its memory, marked, until a sweep
//!   finds its count at 0. Nothing is done in mark termination's stop.
//! - An object kept for its finalizer has its bit set when the finalizer is queued, as Go
//!   clears weak pointers (`weak.Pointer.Value` returns nil once the finalizer is queued): by the
//!   sweeper for types known to have one; for types not known yet (module `finalizer`), when the
//!   collector resurrects the object, and so for everything it alone reaches (Java's rule: weak
//!   references clear before finalization, for every object that is not strongly reachable).
//!   The bit is the object's, not the `Weak`'s: a `Weak` made later from the resurrected object
//!   does not upgrade either (Go would give it a fresh handle; an object that was finalized is
//!   not one to cache weakly).
//!
//! # Why `upgrade` never returns what was found unreachable
//! `upgrade` runs inside an operation, so it sees one phase throughout:
//! - MARK: every object whose bit reads clear is one the last cycle kept (its sweep set the bit
//!   of every dead one, and every sweep finished before this cycle began), and the cycle cannot
//!   end before the operation does; the shade makes the object reachable at the snapshot's
//!   end. While the collector resurrects, unmarked now means found unreachable:
//!   `protocol::weak::alive_while_resurrecting`.
//! - OFF: the span may be unswept, being swept or swept, and the bit may have been read just
//!   before the sweeper set it: `protocol::weak::alive_while_sweeping` decides from the span's
//!   weak generation, the mark bit and a second read of the bit. The span is the object's own:
//!   the `Weak`'s count keeps the object's memory, and so its span.
//!
//! # Why a `Weak` never reads freed memory
//! The sweeper frees a dead object only when its weak count reads 0 (Acquire), and a `Weak`
//! gives its count back (Release) after its last access; a count is only ever raised from a
//! strong handle (the object is alive) or from another `Weak` (the count is above 0), so a dead
//! object's count that reads 0 stays 0 (loom:
//! `a_dead_object_is_freed_only_after_its_last_weak_is_done`).

use crate::header::Header;
use crate::mheap::span_of;
use crate::operation::Op;
use crate::protocol::weak::{alive_while_resurrecting, alive_while_sweeping, not_cleared};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the collector in the stop that starts the resurrection of dead objects of unknown
/// types, cleared in the stop that ends it (module `finalizer`).
pub(crate) static RESURRECTING: AtomicBool = AtomicBool::new(false);

/// Counts one more `Weak` on the object `h`.
///
/// # Safety
/// `h` is an object of the heap whose memory the caller keeps allocated for the call: it holds
/// a strong handle to it, or a `Weak` that counts on it.
#[inline]
pub(crate) unsafe fn add_weak(h: &Header) {
    let addr = h as *const Header as usize;
    // SAFETY: the object is allocated (caller), so its page maps to its span.
    let span = unsafe { span_of(addr) };
    // SAFETY: as above.
    unsafe { span.specials.add_weak(span.index_of(addr)) };
}

/// Gives back the count of a `Weak` on the object at `addr`.
///
/// # Safety
/// The caller's `Weak` counted on the object, gives its count back once, and does not touch the
/// object afterwards.
#[inline]
pub(crate) unsafe fn drop_weak(addr: usize) {
    // SAFETY: the `Weak`'s count keeps the object's memory, and so its span, until the call.
    let span = unsafe { span_of(addr) };
    // SAFETY: forwarded from the caller.
    unsafe { span.specials.drop_weak(span.index_of(addr)) };
}

/// Inside an operation: whether the object `h`, on which the caller's `Weak` counts, is alive
/// (not found unreachable by the collector).
#[inline]
pub(crate) fn alive(op: &Op<'_>, h: &Header) -> bool {
    // Each path reads the bit once, inside the operation (the caller's read before it may be
    // stale), and last, as `protocol::weak` requires.
    // SAFETY: the caller's `Weak` counts on a heap object (not `Weak::new`'s), allocated.
    let word = unsafe { h.weak_word() };
    let a = h as *const Header as usize;
    if op.marking() {
        if RESURRECTING.load(Ordering::Relaxed) {
            // SAFETY: the `Weak`'s count keeps the object's memory and its span.
            let span = unsafe { span_of(a) };
            let idx = span.index_of(a);
            alive_while_resurrecting(word, &span.mark_bits[idx / 64], (idx % 64) as u32)
        } else {
            not_cleared(word)
        }
    } else {
        alive_while_sweeping(
            word,
            &crate::sweep::HEAP_SWEPT,
            crate::sweep::sweepgen(),
            || {
                // SAFETY: as above.
                let span = unsafe { span_of(a) };
                let idx = span.index_of(a);
                (
                    &span.specials.weak_gen,
                    &span.mark_bits[idx / 64],
                    (idx % 64) as u32,
                )
            },
        )
    }
}
