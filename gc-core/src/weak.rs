//! `Weak<T>`: a reference that does not keep its object alive, over the object's weak handle
//! (module `weakhandle`, which says when handles clear and why `upgrade` never returns an
//! object found unreachable). `upgrade` is an operation, and while marking it shades the
//! target: an object only weakly reachable at the snapshot may become strongly reachable again
//! only through `upgrade`, and the shade keeps the snapshot argument (module `barrier`) whole.
//! `downgrade` takes no lock and allocates only for an object's first `Weak`.

use crate::barrier::shade;
use crate::handle::Gc;
use crate::header::Header;
use crate::operation::with_op;
use crate::trace::{Finalize, Trace, Tracer};
use crate::weakhandle::{self, WeakSlot};
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A reference that does not keep its object alive.
///
/// # Example
/// ```
/// use tricolor_gc::Gc;
/// let w = {
///     let strong = Gc::new(1);
///     let w = Gc::downgrade(&strong);
///     assert!(w.upgrade().is_some());
///     w
/// };
/// tricolor_gc::collect();
/// assert!(w.upgrade().is_none());
/// ```
pub struct Weak<T: ?Sized + 'static> {
    slot: Arc<WeakSlot>,
    _t: PhantomData<Gc<T>>,
}

impl<T: Trace + Send + Sync + 'static> Weak<T> {
    pub(crate) fn new_for(h: &Header) -> Weak<T> {
        Weak {
            slot: weakhandle::slot_for(h),
            _t: PhantomData,
        }
    }

    /// A strong handle, or `None` if the object was found unreachable.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a = Gc::new("s");
    /// assert_eq!(*Gc::downgrade(&a).upgrade().unwrap(), "s");
    /// ```
    pub fn upgrade(&self) -> Option<Gc<T>> {
        // A cleared slot stays cleared: no operation needed to say so.
        if self.slot.addr.load(Ordering::Relaxed) == 0 {
            return None;
        }
        with_op(|op| {
            let h = weakhandle::resolve(op, &self.slot)?;
            h.inc_roots();
            if op.marking() {
                shade(h);
            }
            // SAFETY: we hold the root just added.
            Some(unsafe { Gc::from_root_header(h) })
        })
    }
}

impl<T: Trace + Send + Sync + 'static> Gc<T> {
    /// A weak reference: it does not keep the object alive, and [`Weak::upgrade`] returns `None`
    /// once the collector has found the object unreachable.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a = Gc::new(5);
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(*w.upgrade().unwrap(), 5);
    /// ```
    pub fn downgrade(this: &Gc<T>) -> Weak<T> {
        Weak::new_for(this.header())
    }
}

impl<T: ?Sized + 'static> Clone for Weak<T> {
    fn clone(&self) -> Self {
        Weak {
            slot: self.slot.clone(),
            _t: PhantomData,
        }
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
