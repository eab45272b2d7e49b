//! `GcSlot<T>`: an atomic, optionally empty handle field — the fast path for hot mutable fields,
//! without a `GcCell` borrow. `set` is the hybrid barrier in one place: it shades the old
//! pointee (Yuasa) and unroots the new one, which shades it at 1→0 (Dijkstra), then swaps.

use crate::barrier::{release_moved_root, release_root, release_root_in_op, shade};
use crate::handle::Gc;
use crate::header::Header;
use crate::operation::with_op;
use crate::trace::{Finalize, Trace, Tracer};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, Ordering};

/// An atomic slot holding an `Option<Gc<T>>`, readable and writable through `&self` from any
/// thread.
///
/// # Example
/// ```
/// use tricolor_gc::{Gc, GcSlot};
/// let slot = Gc::new(GcSlot::new(Some(Gc::new(1))));
/// slot.set(Some(Gc::new(2)));
/// assert_eq!(*slot.get().unwrap(), 2);
/// slot.set(None);
/// assert!(slot.get().is_none());
/// ```
pub struct GcSlot<T: Trace + Send + Sync + 'static> {
    /// The pointee's header (null: empty), tagged in bit 0 with [`ROOTED`]. One word: the flag
    /// as a `bool` beside it made the slot 16 bytes with padding, and a node of two slots 48.
    ptr: AtomicPtr<Header>,
    _t: PhantomData<Gc<T>>,
}

/// Bit 0 of a slot's word: the slot is not inside a GC object, and owns a root on its
/// pointee. Headers start objects, which start on size-class boundaries (multiples of 8), so
/// the bit is free. It changes only through `&mut` (`root`/`unroot`), never while another
/// thread can reach the slot, so every swap through `&self` keeps it as it read it.
const ROOTED: usize = 1;

/// The object in a slot's word (its value's address, module `header`): without the flag.
#[inline(always)]
fn untag(w: *mut Header) -> *mut Header {
    w.map_addr(|a| a & !ROOTED)
}

/// Whether a slot's word has the flag.
#[inline(always)]
fn tagged(w: *mut Header) -> bool {
    w.addr() & ROOTED != 0
}

/// A slot's word for `p` with the flag `rooted`.
#[inline(always)]
fn tag(p: *mut Header, rooted: bool) -> *mut Header {
    debug_assert_eq!(p.addr() & ROOTED, 0, "an object header on an odd address");
    p.map_addr(|a| a | if rooted { ROOTED } else { 0 })
}

fn into_raw<T: Trace + Send + Sync + 'static>(g: Option<Gc<T>>) -> *mut Header {
    match g {
        None => std::ptr::null_mut(),
        Some(g) => {
            let mut g = std::mem::ManuallyDrop::new(g);
            // SAFETY: make sure the stored handle is the rooted form; `root` is a no-op when it
            // already is (a fresh clone or a handle from `Gc::new` always is).
            unsafe { g.root() };
            Gc::box_ptr(&g).as_ptr().cast::<Header>()
        }
    }
}

impl<T: Trace + Send + Sync + 'static> GcSlot<T> {
    /// A slot holding `value`.
    ///
    /// # Example
    /// ```
    /// let s = tricolor_gc::GcSlot::<i32>::new(None);
    /// assert!(s.get().is_none());
    /// ```
    pub fn new(value: Option<Gc<T>>) -> GcSlot<T> {
        GcSlot {
            ptr: AtomicPtr::new(tag(into_raw(value), true)),
            _t: PhantomData,
        }
    }

    /// Whether the slot is outside the heap (the flag is stable under `&self`: [`ROOTED`]).
    #[inline(always)]
    fn rooted(&self) -> bool {
        tagged(self.ptr.load(Ordering::Relaxed))
    }

    /// A rooted handle to the current pointee.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcSlot};
    /// let s = GcSlot::new(Some(Gc::new(7)));
    /// assert_eq!(*s.get().unwrap(), 7);
    /// ```
    pub fn get(&self) -> Option<Gc<T>> {
        // An operation, and one that shades what it roots while marking. The pointer is read
        // under this operation's phase, but a `set` that read OFF may still be running when
        // marking starts: it can take the pointee out of the heap without a shade after the root
        // scan has passed it, leaving this handle as its only reference. The shade (as in
        // `Weak::upgrade`) keeps it; modeled in loom.rs (`slot_get_races_set_…`).
        with_op(|op| {
            let w = self.ptr.load(Ordering::Acquire);
            let p = untag(w);
            if p.is_null() {
                return None;
            }
            // SAFETY: the pointee is alive: the slot referenced it inside this operation, and
            // nothing is freed before the next mark termination, which waits for it.
            let h = unsafe { &*p };
            // SAFETY: as above; every pointee of a slot is a heap object.
            unsafe { crate::mheap::add_root(h) };
            if op.marking() {
                shade(h);
            }
            // SAFETY: we just added the root the handle owns.
            Some(unsafe { Gc::<T>::from_root_header(untag(w)) })
        })
    }

    /// Stores `value`, dropping the previous pointee's reference.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcSlot};
    /// let s = GcSlot::new(None);
    /// s.set(Some(Gc::new("x".to_string())));
    /// assert_eq!(s.get().unwrap().as_str(), "x");
    /// ```
    pub fn set(&self, value: Option<Gc<T>>) {
        let new = into_raw(value);
        let rooted = self.rooted();
        with_op(|op| {
            if !rooted && !new.is_null() {
                // SAFETY: `new` is live: we own its root until this release.
                release_root_in_op(op.marking(), unsafe { &*untag(new) });
            }
            let old = untag(self.ptr.swap(tag(new, rooted), Ordering::AcqRel));
            if !old.is_null() {
                // SAFETY: the old pointee is alive until the end of this operation at least
                // (nothing is freed before the next mark termination, which waits for it).
                let h = unsafe { &*old };
                if rooted {
                    release_root_in_op(op.marking(), h);
                } else if op.marking() {
                    shade(h);
                }
            }
        })
    }

    /// Takes the pointee out, leaving the slot empty.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcSlot};
    /// let s = GcSlot::new(Some(Gc::new(1)));
    /// assert_eq!(*s.take().unwrap(), 1);
    /// assert!(s.get().is_none());
    /// ```
    pub fn take(&self) -> Option<Gc<T>> {
        // One operation: a `get` then a `set(None)` would let another thread store between
        // them, and the value returned would not be the one removed.
        let rooted = self.rooted();
        with_op(|op| {
            let w = self
                .ptr
                .swap(tag(std::ptr::null_mut(), rooted), Ordering::AcqRel);
            let old = untag(w);
            if old.is_null() {
                return None;
            }
            // SAFETY: the old pointee is alive until the end of this operation at least.
            let h = unsafe { &*old };
            if !rooted {
                // A reference leaves the heap: the returned handle is a new root, and while
                // marking the removed reference is shaded (Yuasa), as in `set`.
                // SAFETY: as above; every pointee of a slot is a heap object.
                unsafe { crate::mheap::add_root(h) };
                if op.marking() {
                    shade(h);
                }
            }
            // SAFETY: the handle owns one root: the slot's own (rooted slot) or the one just
            // added.
            Some(unsafe { Gc::<T>::from_root_header(untag(w)) })
        })
    }
}

impl<T: Trace + Send + Sync + 'static> Drop for GcSlot<T> {
    fn drop(&mut self) {
        let w = *self.ptr.get_mut();
        let p = untag(w);
        if tagged(w) && !p.is_null() {
            // SAFETY: the slot owns a root on its pointee.
            release_root(unsafe { &*p });
        }
    }
}

impl<T: Trace + Send + Sync + 'static> Finalize for GcSlot<T> {
    fn has_finalizer() -> bool {
        false
    }
}

// SAFETY: the slot's single edge is traced with an atomic load (a racing `set` shades the value
// it removes); root/unroot move the slot's root on its pointee.
unsafe impl<T: Trace + Send + Sync + 'static> Trace for GcSlot<T> {
    fn trace(&self, tracer: &mut Tracer) {
        let p = untag(self.ptr.load(Ordering::Acquire));
        if !p.is_null() {
            tracer.edge(p);
        }
    }
    unsafe fn root(&mut self) {
        let w = self.ptr.get_mut();
        if !tagged(*w) {
            let p = untag(*w);
            *w = tag(*w, true);
            if !p.is_null() {
                // SAFETY: the pointee, a heap object, is kept alive by the object holding this
                // slot.
                unsafe { crate::mheap::add_root(&*p) };
            }
        }
    }
    unsafe fn unroot(&mut self) {
        let w = self.ptr.get_mut();
        if tagged(*w) {
            let p = untag(*w);
            *w = untag(*w);
            if !p.is_null() {
                // SAFETY: we owned a root on the pointee until now.
                release_moved_root(unsafe { &*p });
            }
        }
    }
    fn needs_sweep_drop() -> bool {
        false
    }
    /// One word, the pointee's handle word or null: `trace` reads it atomically, as the
    /// marker reads a pointer map's words.
    fn ptr_map() -> Option<u64> {
        Some(1)
    }
}
