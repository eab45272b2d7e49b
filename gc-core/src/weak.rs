//! `Weak<T>`: a reference that does not keep its object alive. It points at the object and
//! counts on it in its span's weak counts, which keep the object's memory (module
//! `weakhandle`, which says when weak references clear and why `upgrade` never returns an
//! object found unreachable). `upgrade` is an operation, and while marking it shades the
//! target: an object only weakly reachable at the snapshot may become strongly reachable again
//! only through `upgrade`, and the shade keeps the snapshot argument (module `barrier`) whole.
//! `downgrade` takes no lock and allocates nothing (a span's table of counts, once).

use crate::barrier::shade;
use crate::handle::Gc;
use crate::header::Header;
use crate::operation::with_op;
use crate::trace::{Finalize, Trace, Tracer};
use crate::weakhandle;
use std::ptr::NonNull;

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
    /// The object, as its `Gc<T>` pointed at it (with its metadata for an unsized `T`), or
    /// [`NEVER`] for `Weak::new()`. The `Weak` owns one count in the object's span's weak
    /// counts (none for `NEVER`), which keeps the object's memory allocated; only the header is
    /// read through it until `upgrade` has found the object alive.
    ptr: NonNull<T>,
}

// SAFETY: a `Weak` gives out `Gc<T>`s, which are `Send + Sync` exactly when `T` is; it reads
// only the object's header (atomics) and its span's counts (atomics) otherwise.
unsafe impl<T: ?Sized + Send + Sync + 'static> Send for Weak<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync + 'static> Sync for Weak<T> {}

/// The target of every `Weak::new()`: a header outside the heap, which has no span, no count
/// and no side byte; every method checks for it by address before it reads anything.
/// Not in the heap: `Weak::new` must neither allocate nor wait (a first `Gc::new` may wait at
/// the hard goal for the cycle to end, and a drop run by that cycle's sweep may itself call
/// `Weak::new`).
static NEVER: Header = Header::outside_heap();

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
        Weak {
            // Never dereferenced as a `GcBox<T>` (its alignment may be larger than `NEVER`'s):
            // `upgrade` reads the header, which says cleared.
            ptr: NonNull::from(&NEVER).cast(),
        }
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
        if self.is_never() {
            return None;
        }
        let h = self.header();
        // Cleared stays cleared: no operation needed to say so.
        // SAFETY: a heap object (not `NEVER`), whose memory this `Weak`'s count keeps.
        if !crate::protocol::weak::not_cleared(unsafe { h.weak_word() }) {
            return None;
        }
        with_op(|op| {
            if !weakhandle::alive(op, h) {
                return None;
            }
            // SAFETY: a heap object (the outside-the-heap target of `Weak::new` returned
            // above), alive (`alive`) and kept allocated by this operation.
            unsafe { crate::mheap::add_root(h) };
            if op.marking() {
                shade(h);
            }
            // SAFETY: the object is alive (found so above, and it cannot be found otherwise
            // before this operation ends), and we hold the root just added.
            Some(unsafe { Gc::from_root(self.ptr) })
        })
    }

    /// The object's address while it has not been found unreachable, else 0 (module
    /// `weakhandle`). A live object at that address is this `Weak`'s object: its memory is
    /// not reused while the `Weak` exists.
    pub(crate) fn addr(&self) -> usize {
        if self.is_never() {
            return 0;
        }
        let h = self.header();
        // SAFETY: as in `upgrade`.
        if crate::protocol::weak::not_cleared(unsafe { h.weak_word() }) {
            h as *const Header as usize
        } else {
            0
        }
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
        this.addr_untagged() == other.addr_untagged()
    }

    /// The object's header (or `NEVER`).
    #[inline(always)]
    fn header(&self) -> &Header {
        // SAFETY: `Header` names an object by its value's address and claims no bytes; the
        // `Weak`'s count keeps the object's memory (or the pointer is `NEVER`, a static).
        unsafe { &*(self.addr_untagged() as *const Header) }
    }

    /// The object's address (its value's: module `header`).
    #[inline(always)]
    fn addr_untagged(&self) -> usize {
        self.ptr.as_ptr() as *const u8 as usize
    }

    /// Whether this is a `Weak::new()`, which counts on nothing.
    #[inline(always)]
    fn is_never(&self) -> bool {
        self.addr_untagged() == &NEVER as *const Header as usize
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
        // SAFETY: `this` keeps the object alive, so allocated, for the call.
        unsafe { weakhandle::add_weak(this.header()) };
        Weak {
            ptr: Gc::box_ptr(this),
        }
    }
}

impl<T: Trace + Send + Sync + 'static> Gc<T> {
    /// Builds an object that holds a weak reference to itself (as `Arc::new_cyclic`): `f` gets
    /// the object's future `Weak`, which upgrades to `None` until `new_cyclic` returns and to
    /// the object afterwards, for as long as it lives.
    ///
    /// The object's memory is allocated before `f` runs (the `Weak` points at it). If `f`
    /// panics, the `Weak`s it made never upgrade, and a later sweep gives the memory back once
    /// they are dropped.
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
        /// The builder's root on the unbuilt object, given back (as a `()`'s) if `f` or the
        /// value's `unroot` unwinds.
        struct Unbuilt(*const Header);
        impl Drop for Unbuilt {
            fn drop(&mut self) {
                // SAFETY: the root taken at allocation, given back once; the object is a `()`
                // (its vtable was never published).
                drop(unsafe { Gc::<()>::from_root_header(self.0) });
            }
        }
        let obj = match crate::malloc::alloc_unbuilt::<T>() {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        // SAFETY: `obj` is allocated (the builder's root).
        let h = unsafe { crate::header::header(obj.as_ptr() as usize) };
        let guard = Unbuilt(h);
        // SAFETY: the builder's root keeps the object allocated.
        unsafe { weakhandle::add_weak(h) };
        let weak = Weak { ptr: obj };
        let value = f(&weak);
        drop(weak);
        let mut value = std::mem::ManuallyDrop::new(value);
        let owned = crate::malloc::Unmoved(&mut value);
        // SAFETY: `obj` is the unbuilt object this call allocated, built once, here.
        unsafe { crate::malloc::build(obj, owned.0) };
        std::mem::forget(owned);
        std::mem::forget(guard);
        // SAFETY: the builder's root becomes the handle's; the object is built.
        unsafe { Gc::from_root(obj) }
    }
}

impl<T: ?Sized + 'static> Clone for Weak<T> {
    fn clone(&self) -> Self {
        if !self.is_never() {
            // SAFETY: our own count keeps the object's memory.
            unsafe { weakhandle::add_weak(self.header()) };
        }
        Weak { ptr: self.ptr }
    }
}

impl<T: ?Sized + 'static> Drop for Weak<T> {
    fn drop(&mut self) {
        if !self.is_never() {
            // SAFETY: gives back the count this `Weak` owns (taken in `downgrade`, `clone` or
            // `new_cyclic`), exactly once, and touches the object no more.
            unsafe { weakhandle::drop_weak(self.addr_untagged()) };
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
