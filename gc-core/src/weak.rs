//! Weak references. Each object that has been downgraded gets one shared slot in a table; mark
//! termination clears the slots of unmarked objects (before their finalizers are queued, as Go
//! clears weak pointers as soon as a finalizer is queued). `upgrade` is an operation, so it
//! never overlaps the clearing, and while marking it shades the target: an object only weakly
//! reachable at the snapshot may become strongly reachable again only through `upgrade`.

use crate::barrier::{shade, with_op};
use crate::gc::Gc;
use crate::header::{header, Header};
use crate::mark::Tracer;
use crate::mheap::span_of;
use crate::trace::{Finalize, Trace};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

struct WeakSlot {
    /// The object's header address, or 0 once it was found unreachable.
    addr: AtomicUsize,
}

static TABLE: LazyLock<Mutex<HashMap<usize, Arc<WeakSlot>>>> = LazyLock::new(Default::default);

/// A reference that does not keep its object alive.
///
/// # Example
/// ```
/// use tricolor::Gc;
/// let w = {
///     let strong = Gc::new(1);
///     let w = Gc::downgrade(&strong);
///     assert!(w.upgrade().is_some());
///     w
/// };
/// tricolor::collect();
/// assert!(w.upgrade().is_none());
/// ```
pub struct Weak<T: ?Sized + 'static> {
    slot: Arc<WeakSlot>,
    _t: PhantomData<Gc<T>>,
}

impl<T: Trace + Send + Sync + 'static> Weak<T> {
    pub(crate) fn new_for(h: &Header) -> Weak<T> {
        let addr = h as *const Header as usize;
        let slot = TABLE
            .lock()
            .entry(addr)
            .or_insert_with(|| Arc::new(WeakSlot { addr: AtomicUsize::new(addr) }))
            .clone();
        Weak { slot, _t: PhantomData }
    }

    /// A strong handle, or `None` if the object was found unreachable.
    ///
    /// # Example
    /// ```
    /// use tricolor::Gc;
    /// let a = Gc::new("s");
    /// assert_eq!(*Gc::downgrade(&a).upgrade().unwrap(), "s");
    /// ```
    pub fn upgrade(&self) -> Option<Gc<T>> {
        with_op(|op| {
            let a = self.slot.addr.load(Ordering::Acquire);
            if a == 0 {
                return None;
            }
            // SAFETY: a non-zero slot means the object has not been found unreachable, and it
            // cannot be before this operation ends.
            let h = unsafe { header(a) };
            h.inc_roots();
            if op.marking() {
                shade(h);
            }
            // SAFETY: we hold the root just added.
            Some(unsafe { Gc::from_rooted_header(h) })
        })
    }
}

impl<T: ?Sized + 'static> Clone for Weak<T> {
    fn clone(&self) -> Self {
        Weak { slot: self.slot.clone(), _t: PhantomData }
    }
}

impl<T: ?Sized + 'static> std::fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(Weak)")
    }
}

impl<T: ?Sized + 'static> Finalize for Weak<T> {
    fn has_finalizer() -> bool {
        false
    }
}

// SAFETY: a weak reference is not an edge and owns no root.
unsafe impl<T: ?Sized + 'static> Trace for Weak<T> {
    fn trace(&self, _: &mut Tracer) {}
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
    fn is_noscan() -> bool {
        true
    }
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
