//! `Weak<T>`: a reference that does not keep its object alive, over the object's weak handle
//! (module `weakhandle`, which says when handles clear and why `upgrade` never returns an
//! object found unreachable). `upgrade` is an operation, and while marking it shades the
//! target: an object only weakly reachable at the snapshot may become strongly reachable again
//! only through `upgrade`, and the shade keeps the snapshot argument (module `barrier`) whole.
//! `downgrade` takes no lock and allocates only for an object's first `Weak`.

use crate::barrier::shade;
use crate::dst::with_addr;
use crate::handle::Gc;
use crate::header::{GcBox, Header};
use crate::operation::with_op;
use crate::trace::{Finalize, Trace, Tracer};
use crate::weakhandle::{self, SlotRef, WeakSlot};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// One pointer: its address is the object's weak slot (`SlotRef::into_raw`, one root owned
    /// by this `Weak`), its metadata the object's as its `Gc<T>` carried it (a length, a
    /// vtable; nothing for a sized `T`). So a `Weak` to a sized object is one word, as before
    /// unsized objects were supported (a second word for the metadata cost random upgrades
    /// over 1,000,000 objects half their speed: BENCHMARKS.md). Never dereferenced as a
    /// `GcBox<T>`: `upgrade` puts the object's address, read from the slot, in its place.
    ptr: NonNull<GcBox<T>>,
}

// SAFETY: a `Weak` gives out `Gc<T>`s, which are `Send + Sync` exactly when `T` is; the slot
// is an object of atomics.
unsafe impl<T: ?Sized + Send + Sync + 'static> Send for Weak<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync + 'static> Sync for Weak<T> {}

/// The slot of every `Weak::new()`: cleared from the start, so it never upgrades.
/// Not in the heap: `Weak::new` must neither allocate nor wait (a first `Gc::new` may wait at
/// the hard goal for the cycle to end, and a drop run by that cycle's sweep may itself call
/// `Weak::new`). A `SlotRef` touches only the header and the value, never a span.
static NEVER: GcBox<WeakSlot> = GcBox {
    header: Header::outside_heap(),
    value: WeakSlot {
        addr: AtomicUsize::new(0),
    },
};

/// A new weak slot reading `addr`, in the collector's heap (module `mspecial`: [`SlotRef`]).
fn new_slot(addr: usize) -> SlotRef {
    let p = Gc::into_raw(Gc::new(WeakSlot {
        addr: AtomicUsize::new(addr),
    }));
    // SAFETY: `into_raw` kept the new object's one root, which the `SlotRef` takes over.
    unsafe { SlotRef::from_raw(p) }
}

impl<T: 'static> Weak<T> {
    /// A weak reference to nothing: `upgrade` always returns `None` (as `std::rc::Weak::new`).
    /// Allocates nothing.
    ///
    /// # Example
    /// ```
    /// let w: tricolor_gc::Weak<u32> = tricolor_gc::Weak::new();
    /// assert!(w.upgrade().is_none());
    /// ```
    pub fn new() -> Weak<T> {
        let p = &NEVER.value as *const WeakSlot;
        // SAFETY: `NEVER` is a static slot whose own root is never given back, so it is alive;
        // the root added here is the new `Weak`'s.
        let slot = unsafe {
            SlotRef::add_root(p);
            SlotRef::from_raw(p)
        };
        Weak::from_parts(slot, NonNull::dangling())
    }
}

impl<T: 'static> Default for Weak<T> {
    fn default() -> Self {
        Weak::new()
    }
}

impl<T: ?Sized + 'static> Weak<T> {
    /// A strong handle, or `None` if the object was found unreachable.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a = Gc::new("s");
    /// assert_eq!(*Gc::downgrade(&a).upgrade().unwrap(), "s");
    /// let s: Gc<str> = Gc::from("interned");
    /// assert_eq!(&*Gc::downgrade(&s).upgrade().unwrap(), "interned");
    /// ```
    pub fn upgrade(&self) -> Option<Gc<T>> {
        let slot = self.slot();
        // A cleared slot stays cleared: no operation needed to say so.
        if slot.addr.load(Ordering::Relaxed) == 0 {
            return None;
        }
        with_op(|op| {
            let h = weakhandle::resolve(op, slot)?;
            h.inc_roots();
            if op.marking() {
                shade(h);
            }
            let obj = with_addr(self.ptr.as_ptr(), h as *const Header as usize);
            // SAFETY: `obj` is the live object (its header is `h`) with the metadata its handles
            // carry, and we hold the root just added.
            Some(unsafe { Gc::from_root(NonNull::new_unchecked(obj)) })
        })
    }

    /// The object's address while it has not been found unreachable, else 0 (module
    /// `weakhandle`): a live object at that address is this `Weak`'s object, since a dead one's
    /// handle reads 0 before its slot is reused.
    pub(crate) fn addr(&self) -> usize {
        self.slot().addr.load(Ordering::Acquire)
    }

    /// True if both point at the same object, or both at none (`Weak::new`).
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a = Gc::new(1);
    /// assert!(tricolor_gc::Weak::ptr_eq(&Gc::downgrade(&a), &Gc::downgrade(&a)));
    /// ```
    pub fn ptr_eq(this: &Weak<T>, other: &Weak<T>) -> bool {
        std::ptr::eq(this.slot(), other.slot())
    }
}

impl<T: ?Sized + 'static> Gc<T> {
    /// A weak reference: it does not keep the object alive, and [`Weak::upgrade`] returns `None`
    /// once the collector has found the object unreachable. Works for unsized objects too
    /// (`Gc<str>`, `Gc<[T]>`, `Gc<dyn Trait>`).
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a = Gc::new(5);
    /// let w = Gc::downgrade(&a);
    /// assert_eq!(*w.upgrade().unwrap(), 5);
    /// ```
    pub fn downgrade(this: &Gc<T>) -> Weak<T> {
        Weak::from_parts(
            weakhandle::slot_for(this.header(), new_slot),
            Gc::box_ptr(this),
        )
    }
}

impl<T: Trace + Send + Sync + 'static> Gc<T> {
    /// Builds an object that holds a weak reference to itself (as `Arc::new_cyclic`): `f` gets
    /// the object's future `Weak`, which upgrades to `None` until `new_cyclic` returns and to
    /// the object afterwards, for as long as it lives.
    ///
    /// If `f` panics, nothing is allocated and the `Weak`s it made never upgrade.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Finalize, Gc, Trace, Weak};
    /// #[derive(Trace, Finalize)]
    /// struct Node { me: Weak<Node>, value: u32 }
    ///
    /// let n = Gc::new_cyclic(|me| {
    ///     assert!(me.upgrade().is_none()); // not built yet
    ///     Node { me: me.clone(), value: 7 }
    /// });
    /// assert!(Gc::ptr_eq(&n.me.upgrade().unwrap(), &n));
    /// ```
    pub fn new_cyclic<F: FnOnce(&Weak<T>) -> T>(f: F) -> Gc<T> {
        let slot = new_slot(0);
        let weak = Weak::from_parts(slot.clone(), NonNull::dangling());
        let value = f(&weak);
        let gc = Gc::new(value);
        // The object is new, so it has no weak handle yet; it is rooted by `gc`, so nothing
        // clears the handle before the address is published (module `weakhandle`).
        weakhandle::adopt(gc.header(), slot);
        gc
    }
}

impl<T: ?Sized + 'static> Weak<T> {
    /// A `Weak` owning `slot`'s root, with `meta`'s metadata.
    fn from_parts(slot: SlotRef, meta: NonNull<GcBox<T>>) -> Weak<T> {
        let raw = slot.into_raw() as *const u8;
        let mut p = meta.as_ptr();
        // SAFETY: every Rust pointer keeps its address in its first word (`with_addr` asserts
        // it); `p` is a local at least one word long, and the word written is a pointer, so
        // the slot's provenance comes along.
        unsafe { *(&mut p as *mut *mut GcBox<T> as *mut *const u8) = raw };
        debug_assert_eq!(p as *const u8, raw);
        Weak {
            // SAFETY: `SlotRef::into_raw` is never null.
            ptr: unsafe { NonNull::new_unchecked(p) },
        }
    }

    /// The object's weak slot.
    #[inline(always)]
    fn slot(&self) -> &WeakSlot {
        // SAFETY: the address is a `SlotRef::into_raw` pointer whose root this `Weak` owns.
        unsafe { &*(self.ptr.as_ptr() as *const u8 as *const WeakSlot) }
    }
}

impl<T: ?Sized + 'static> Clone for Weak<T> {
    fn clone(&self) -> Self {
        // SAFETY: the address is a `SlotRef::into_raw` pointer, alive by the root we own.
        unsafe { SlotRef::add_root(self.ptr.as_ptr() as *const u8 as *const WeakSlot) };
        Weak { ptr: self.ptr }
    }
}

impl<T: ?Sized + 'static> Drop for Weak<T> {
    fn drop(&mut self) {
        // SAFETY: gives back the root this `Weak` owns (taken in `from_parts` or `clone`),
        // exactly once.
        drop(unsafe { SlotRef::from_raw(self.ptr.as_ptr() as *const u8 as *const WeakSlot) });
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
