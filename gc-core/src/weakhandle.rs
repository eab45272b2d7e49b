//! The weak-handle table (Go keeps its weak handles as specials of the object's span; here one
//! table for the heap). Each object that has been downgraded gets one shared slot holding its
//! address; mark termination clears the slots of unmarked objects (before their finalizers are
//! queued, as Go clears weak pointers as soon as a finalizer is queued), and the finalizer's
//! resurrection of an object of an unknown type clears its slot when it decides to finalize it.
//! `Weak::upgrade` reads the slot inside an operation, so it never overlaps the clearing.

use crate::header::Header;
use crate::locks::Mutex;
use crate::mheap::span_of;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

/// One object's weak handle.
pub(crate) struct WeakSlot {
    /// The object's header address, or 0 once it was found unreachable.
    pub addr: AtomicUsize,
}

/// Object address → its weak handle. Lock order: a leaf but for `mgcwork::GRAY`.
static TABLE: LazyLock<Mutex<HashMap<usize, Arc<WeakSlot>>>> = LazyLock::new(Default::default);

/// The weak handle of the object `h`, made on first use.
pub(crate) fn slot_for(h: &Header) -> Arc<WeakSlot> {
    let addr = h as *const Header as usize;
    TABLE
        .lock()
        .entry(addr)
        .or_insert_with(|| {
            Arc::new(WeakSlot {
                addr: AtomicUsize::new(addr),
            })
        })
        .clone()
}

/// Clears the weak references to the object at `addr`, if any (its finalizer is being queued).
pub(crate) fn clear_one(addr: usize) {
    if let Some(slot) = TABLE.lock().remove(&addr) {
        slot.addr.store(0, Ordering::Release);
    }
}

/// Mark termination: clears the slots of unmarked objects. Returns how many were cleared.
pub(crate) fn clear_dead() -> usize {
    let mut t = TABLE.lock();
    let before = t.len();
    t.retain(|&addr, slot| {
        // SAFETY: an entry's object is not freed before its entry is removed here.
        let span = unsafe { span_of(addr) };
        if span.is_marked(span.index_of(addr)) {
            true
        } else {
            slot.addr.store(0, Ordering::Release);
            false
        }
    });
    before - t.len()
}
