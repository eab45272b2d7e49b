//! Weak handles (Go's `weak.Pointer` handles, kept as specials of the object's span: module
//! `mspecial`). Each object that has been downgraded has one [`WeakSlot`] holding its address,
//! shared by all its `Weak`s; it reads 0 from the moment the collector has found the object
//! unreachable, and never changes otherwise.
//!
//! # When a slot is cleared
//! - A dead object's slot is cleared by the sweeper of its span, before the span frees anything
//!   (`MSpan::sweep`). Nothing is done in mark termination's stop.
//! - An object kept for its finalizer has its slot cleared when the finalizer is queued, as Go
//!   clears weak pointers (`weak.Pointer.Value` returns nil once the finalizer is queued): by the
//!   sweeper for types known to have one; for types not known yet (module `finalizer`), when the
//!   collector resurrects the object, and so for everything it alone reaches (Java's rule: weak
//!   references clear before finalization, for every object that is not strongly reachable).
//!
//! # Why `upgrade` never returns what was found unreachable
//! `upgrade` runs inside an operation, so it sees one phase throughout:
//! - MARK: every slot that reads non-zero belongs to an object the last cycle kept, and the
//!   cycle cannot end before the operation does; the shade makes the object reachable at the
//!   snapshot's end. While the collector resurrects, unmarked now means found unreachable:
//!   `protocol::weak::alive_while_resurrecting`.
//! - OFF: the span may be unswept, being swept or swept, and the slot may have been read just
//!   before the sweeper cleared it and freed the object: `protocol::weak::alive_while_sweeping`
//!   decides from the span's weak generation, the mark bit and a second read of the slot. Reading
//!   the span of an address that may be freed is safe because span structs and chunks freed by a
//!   sweep are reused or returned only after the next handshake (`MHeap::reclaim`).

use crate::header::{header, Header};
use crate::mheap::{span_of, span_of_swept};
pub(crate) use crate::mspecial::{SlotRef, WeakSlot};
use crate::operation::Op;
use crate::protocol::weak::{alive_while_resurrecting, alive_while_sweeping};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the collector in the stop that starts the resurrection of dead objects of unknown
/// types, cleared in the stop that ends it (module `finalizer`).
pub(crate) static RESURRECTING: AtomicBool = AtomicBool::new(false);

/// The weak handle of the object `h`, made on first use by `make(address)` (one allocation
/// per object).
pub(crate) fn slot_for(h: &Header, make: impl FnOnce(usize) -> SlotRef) -> SlotRef {
    let addr = h as *const Header as usize;
    // SAFETY: `h` is a live object: the caller holds a handle to it.
    let span = unsafe { span_of(addr) };
    // SAFETY: as above, so its entry is not cleared during the call.
    unsafe { span.specials.downgrade(span.index_of(addr), || make(addr)) }
}

/// Makes `slot` the weak handle of the new object `h` and publishes its address: the slot of
/// `Gc::new_cyclic`, whose `Weak`s existed (reading 0, so not upgrading) before the object did.
/// The one place a slot goes from 0 to an address; no `upgrade` can have found this slot
/// cleared by the collector, since no span held it.
pub(crate) fn adopt(h: &Header, slot: SlotRef) {
    let addr = h as *const Header as usize;
    // SAFETY: `h` is live (the caller holds its only handle).
    let span = unsafe { span_of(addr) };
    span.specials.adopt(span.index_of(addr), slot.clone());
    crate::protocol::weak::publish_adopted(&slot.addr, addr);
}

/// Inside an operation: the object of `slot`, unless the collector has found it unreachable.
#[inline]
pub(crate) fn resolve(op: &Op<'_>, slot: &WeakSlot) -> Option<&'static Header> {
    let a = slot.addr.load(Ordering::Acquire);
    if a == 0 {
        return None;
    }
    let alive = if op.marking() {
        if RESURRECTING.load(Ordering::Relaxed) {
            // SAFETY: nothing is freed while marking, and a slot that read non-zero belongs to
            // an object the last sweep kept.
            let span = unsafe { span_of(a) };
            let idx = span.index_of(a);
            alive_while_resurrecting(&slot.addr, &span.mark_bits[idx / 64], (idx % 64) as u32)
        } else {
            true
        }
    } else {
        alive_while_sweeping(
            &slot.addr,
            &crate::sweep::HEAP_SWEPT,
            crate::sweep::sweepgen(),
            || {
                // SAFETY: `a` was an object this sweep generation (older ones' clearing happened
                // before this operation began), and we are inside an operation.
                let span = unsafe { span_of_swept(a) }?;
                // Out of range only for a span over reused pages, whose bit is not used.
                let idx = span.index_of(a).min(span.nelems - 1);
                Some((
                    &span.specials.weak_gen,
                    &span.mark_bits[idx / 64],
                    (idx % 64) as u32,
                ))
            },
        )
    };
    // SAFETY: the object is alive: found so above, and it cannot be found otherwise before this
    // operation ends.
    alive.then(|| unsafe { header(a) })
}
