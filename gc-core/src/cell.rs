//! `GcCell<T>`: interior mutability for values in the heap, aware of the barrier.
//!
//! The borrow state is one atomic word: bit 63 is the mutator's exclusive borrow, bits 32..62
//! count markers reading the cell, bits 0..31 count the mutators' shared borrows. A marker takes
//! a shared borrow with one CAS and skips the cell if it is mutably borrowed: the barrier covers
//! it, because `borrow_mut` shades the contents on acquisition while marking (or roots them,
//! which makes them visible to the root scan) and unroots — shading at 1→0 — on release.
//! A `borrow_mut` that finds a marker inside waits for it: that wait is a (short) pause.
//!
//! # Invariant: an exclusively borrowed cell's contents are roots
//! While the cell's exclusive bit is set its contents are rooted, whether or not the cell is in
//! the heap: a cell outside the heap holds roots anyway, and `borrow_mut` of a cell in the heap
//! roots the contents in the operation that takes the bit. The marker skips such a cell, so this
//! is what keeps the contents alive. `unroot`/`root` of the cell itself (its container moving
//! into or out of the heap) therefore leave the contents alone while the bit is set, and the
//! guard's release (which finds the cell in the heap) unroots them when it clears the bit. A
//! guard leaked with `mem::forget` keeps the bit set forever: its contents stay roots, a leak
//! and never a free of live memory.
//!
//! Every guard releases its borrow in its `Drop`, also when user code or a contract-violating
//! `Trace` panics while the borrow is taken or released.

use crate::operation::with_op;
use crate::protocol::BorrowState;
use crate::trace::{Finalize, Trace, Tracer};
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// A mutable memory location for GC objects: a `RefCell` that is `Sync` and tells the collector
/// about every change.
///
/// # What a `borrow_mut` costs
/// A `GcCell` hands out `&mut T`, with which safe code can move any handle out without the
/// collector seeing it. So `borrow_mut` roots every handle the value holds, and dropping the
/// guard unroots them all again (and, while a cycle is marking, the borrow first shades them):
/// **O(handles in the value) per borrow**, about 40 instructions per handle. That is nothing for
/// a struct of a few fields, and quadratic for a growing list: pushing 80,000 handles one
/// `borrow_mut` at a time took 19 s. `borrow` is free (no rooting).
///
/// For arrays, tables and maps use [`GcVec`](crate::GcVec) and [`GcMap`](crate::GcMap), whose
/// methods cost O(1) barrier work; for one hot handle field, [`GcSlot`](crate::GcSlot); to share
/// a small value between threads with a blocking lock, [`GcMutex`](crate::GcMutex) or
/// [`GcRwLock`](crate::GcRwLock) (a `GcCell`'s `borrow_mut` fails, rather than waits, when
/// another thread holds a borrow).
///
/// # Example
/// ```
/// use tricolor_gc::{Gc, GcCell};
/// let list = Gc::new(GcCell::new(Vec::new()));
/// list.borrow_mut().push(Gc::new(1));
/// assert_eq!(*list.borrow()[0], 1);
/// ```
pub struct GcCell<T: ?Sized> {
    /// The borrow word, which also says whether the cell is outside the heap, its contents
    /// then ordinary roots (`protocol::BorrowState`).
    state: BorrowState,
    value: UnsafeCell<T>,
}

// SAFETY: the borrow word makes access exclusive or shared as in `RwLock`, so `T: Send + Sync`
// suffices for sharing the cell across threads.
unsafe impl<T: ?Sized + Send + Sync> Sync for GcCell<T> {}
// SAFETY: moving the cell moves the value.
unsafe impl<T: ?Sized + Send> Send for GcCell<T> {}

/// The cell was mutably borrowed ([`GcCell::try_borrow`]).
///
/// # Example
/// ```
/// use tricolor_gc::{BorrowError, GcCell};
/// let c = GcCell::new(1);
/// let _w = c.borrow_mut();
/// assert_eq!(c.try_borrow().err(), Some(BorrowError));
/// assert_eq!(BorrowError.to_string(), "GcCell already mutably borrowed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BorrowError;
/// The cell was borrowed ([`GcCell::try_borrow_mut`]).
///
/// # Example
/// ```
/// use tricolor_gc::{BorrowMutError, GcCell};
/// let c = GcCell::new(1);
/// let _r = c.borrow();
/// assert_eq!(c.try_borrow_mut().err(), Some(BorrowMutError));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BorrowMutError;

impl fmt::Display for BorrowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GcCell already mutably borrowed")
    }
}
impl fmt::Display for BorrowMutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GcCell already borrowed")
    }
}
impl std::error::Error for BorrowError {}
impl std::error::Error for BorrowMutError {}

impl<T> GcCell<T> {
    /// A new cell holding `value`.
    ///
    /// # Example
    /// ```
    /// let c = tricolor_gc::GcCell::new(5);
    /// *c.borrow_mut() += 1;
    /// assert_eq!(*c.borrow(), 6);
    /// ```
    pub const fn new(value: T) -> GcCell<T> {
        GcCell {
            state: BorrowState::new_rooted(),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the value out of a cell that is not in the heap.
    ///
    /// # Example
    /// ```
    /// assert_eq!(tricolor_gc::GcCell::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized + Trace> GcCell<T> {
    /// Borrows the value; panics if it is mutably borrowed.
    ///
    /// # Example
    /// ```
    /// let c = tricolor_gc::GcCell::new(String::from("a"));
    /// assert_eq!(c.borrow().as_str(), "a");
    /// ```
    #[track_caller]
    #[inline]
    pub fn borrow(&self) -> GcCellRef<'_, T> {
        match self.try_borrow() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Borrows the value, or fails if it is mutably borrowed.
    ///
    /// # Example
    /// ```
    /// let c = tricolor_gc::GcCell::new(1);
    /// let w = c.borrow_mut();
    /// assert!(c.try_borrow().is_err());
    /// drop(w);
    /// assert!(c.try_borrow().is_ok());
    /// ```
    #[inline]
    pub fn try_borrow(&self) -> Result<GcCellRef<'_, T>, BorrowError> {
        if self.state.try_shared() {
            // SAFETY: the shared borrow just taken excludes writers until the guard drops.
            let value = unsafe { &*self.value.get() };
            Ok(GcCellRef {
                state: &self.state,
                value,
            })
        } else {
            Err(BorrowError)
        }
    }

    /// Borrows the value mutably; panics if it is borrowed.
    ///
    /// # Example
    /// ```
    /// let c = tricolor_gc::GcCell::new(vec![1]);
    /// c.borrow_mut().push(2);
    /// assert_eq!(c.borrow().len(), 2);
    /// ```
    #[track_caller]
    #[inline]
    pub fn borrow_mut(&self) -> GcCellRefMut<'_, T> {
        match self.try_borrow_mut() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Borrows the value mutably, or fails if it is borrowed. A marker reading the cell is
    /// waited for rather than reported.
    ///
    /// # Example
    /// ```
    /// let c = tricolor_gc::GcCell::new(1);
    /// let r = c.borrow();
    /// assert!(c.try_borrow_mut().is_err());
    /// drop(r);
    /// assert!(c.try_borrow_mut().is_ok());
    /// ```
    #[inline]
    pub fn try_borrow_mut(&self) -> Result<GcCellRefMut<'_, T>, BorrowMutError> {
        if self.state.is_rooted() {
            // Outside the heap the contents are roots already: a plain RefCell.
            return if self.state.try_exclusive() {
                Ok(GcCellRefMut::whole(self))
            } else {
                Err(BorrowMutError)
            };
        }
        // Taking the borrow and rooting (or shading) the contents must be one operation. Were
        // the borrow taken first, a whole cycle could run before the rooting: the marker skips
        // a mutably borrowed cell, the contents are not roots yet, and they would be swept while
        // the cell still holds them. (Found by tests/collector.rs; modeled in loom.rs.)
        with_op(|op| {
            if !self.state.try_exclusive() {
                return Err(BorrowMutError);
            }
            // Made first, so that a panic in a `Trace` impl below releases the borrow (the
            // guard's drop unroots what was rooted so far: every handle keeps its own bit).
            let guard = GcCellRefMut::whole(self);
            // SAFETY: we hold the exclusive borrow; `guard` does not touch the value until it
            // drops, after the last use of `v`.
            let v = unsafe { &mut *self.value.get() };
            if op.marking() {
                // Yuasa half: the marker will skip this cell while we hold it, so whatever it
                // holds now is shaded before anything can be taken out.
                let mut t = Tracer::marker();
                v.trace(&mut t);
                t.flush();
            }
            // SAFETY: the contents leave the heap's protection for the borrow's duration; the
            // exclusive borrow keeps every other thread (markers included) away from them.
            unsafe { v.root() };
            Ok(guard)
        })
    }

    /// The marker's shared borrow: `None` if a mutator holds the cell mutably.
    #[inline]
    fn marker_borrow(&self) -> Option<&T> {
        // SAFETY: no exclusive borrow can start while a marker holds the cell.
        self.state
            .try_marker()
            .then(|| unsafe { &*self.value.get() })
    }
}

impl<T: Trace> GcCell<T> {
    /// Puts `value` in the cell and returns the old value (rooted: it is the caller's now).
    /// Panics if the cell is borrowed.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcCell};
    /// let c = Gc::new(GcCell::new(Gc::new(1)));
    /// let old = c.replace(Gc::new(2));
    /// assert_eq!((*old, **c.borrow()), (1, 2));
    /// ```
    #[track_caller]
    pub fn replace(&self, value: T) -> T {
        // Through `borrow_mut`, so the old value leaves rooted and the new one is unrooted, with
        // the barrier's shades, when the guard drops.
        std::mem::replace(&mut *self.borrow_mut(), value)
    }

    /// Replaces the value with one computed from it; returns the old value.
    ///
    /// # Example
    /// ```
    /// let c = tricolor_gc::GcCell::new(5);
    /// assert_eq!(c.replace_with(|v| *v * 2), 5);
    /// assert_eq!(*c.borrow(), 10);
    /// ```
    #[track_caller]
    pub fn replace_with(&self, f: impl FnOnce(&mut T) -> T) -> T {
        let mut guard = self.borrow_mut();
        let new = f(&mut guard);
        std::mem::replace(&mut *guard, new)
    }

    /// Takes the value, leaving `T::default()`.
    ///
    /// # Example
    /// ```
    /// let c = tricolor_gc::GcCell::new(vec![1, 2]);
    /// assert_eq!(c.take(), vec![1, 2]);
    /// assert!(c.borrow().is_empty());
    /// ```
    #[track_caller]
    pub fn take(&self) -> T
    where
        T: Default,
    {
        self.replace(T::default())
    }

    /// Swaps the values of two cells. Panics if either is borrowed (a cell swapped with itself is
    /// left alone).
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::GcCell;
    /// let (a, b) = (GcCell::new(1), GcCell::new(2));
    /// a.swap(&b);
    /// assert_eq!((*a.borrow(), *b.borrow()), (2, 1));
    /// ```
    #[track_caller]
    pub fn swap(&self, other: &GcCell<T>) {
        if std::ptr::eq(self, other) {
            return;
        }
        std::mem::swap(&mut *self.borrow_mut(), &mut *other.borrow_mut());
    }
}

impl<T: ?Sized> GcCell<T> {
    /// A mutable reference through exclusive access to the cell itself.
    ///
    /// # Example
    /// ```
    /// let mut c = tricolor_gc::GcCell::new(1);
    /// *c.get_mut() = 2;
    /// assert_eq!(*c.borrow(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

/// A shared borrow of a [`GcCell`].
///
/// # Example
/// ```
/// let c = tricolor_gc::GcCell::new(1);
/// let r: tricolor_gc::GcCellRef<'_, i32> = c.borrow();
/// assert_eq!(*r, 1);
/// ```
pub struct GcCellRef<'a, T: ?Sized> {
    state: &'a BorrowState,
    value: &'a T,
}

impl<'a, T: ?Sized> GcCellRef<'a, T> {
    /// A guard for a part of the borrowed value; the cell stays borrowed until it drops.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{GcCell, GcCellRef};
    /// let c = GcCell::new((1, String::from("two")));
    /// let s = GcCellRef::map(c.borrow(), |pair| &pair.1);
    /// assert_eq!(&*s, "two");
    /// ```
    pub fn map<U: ?Sized>(orig: GcCellRef<'a, T>, f: impl FnOnce(&T) -> &U) -> GcCellRef<'a, U> {
        // `f` runs before `orig` is taken apart: if it panics, `orig` still releases the borrow.
        let value = f(orig.value);
        let state = orig.state;
        std::mem::forget(orig);
        GcCellRef { state, value }
    }

    /// Like [`GcCellRef::map`], for a part that may be absent: gives the original guard back
    /// when `f` returns `None`.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{GcCell, GcCellRef};
    /// let c = GcCell::new(vec![1, 2, 3]);
    /// let second = GcCellRef::filter_map(c.borrow(), |v| v.get(1)).ok().unwrap();
    /// assert_eq!(*second, 2);
    /// assert!(GcCellRef::filter_map(c.borrow(), |v| v.get(9)).is_err());
    /// ```
    pub fn filter_map<U: ?Sized>(
        orig: GcCellRef<'a, T>,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<GcCellRef<'a, U>, GcCellRef<'a, T>> {
        match f(orig.value) {
            Some(value) => {
                let state = orig.state;
                std::mem::forget(orig);
                Ok(GcCellRef { state, value })
            }
            None => Err(orig),
        }
    }

    /// Another shared guard on the same borrow (an associated function, so that `r.clone()`
    /// still clones the value, as with `std::cell::Ref::clone`).
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{GcCell, GcCellRef};
    /// let c = GcCell::new(5);
    /// let a = c.borrow();
    /// let b = GcCellRef::clone(&a);
    /// drop(a);
    /// assert!(c.try_borrow_mut().is_err(), "`b` still borrows");
    /// drop(b);
    /// assert!(c.try_borrow_mut().is_ok());
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn clone(orig: &GcCellRef<'a, T>) -> GcCellRef<'a, T> {
        // A writer cannot hold the cell while `orig` does, so this only fails on a count
        // overflow (which panics inside `try_shared`).
        let shared = orig.state.try_shared();
        debug_assert!(shared);
        GcCellRef {
            state: orig.state,
            value: orig.value,
        }
    }

    /// Splits the guard into guards for two parts of the value; the cell stays borrowed until
    /// both drop.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{GcCell, GcCellRef};
    /// let c = GcCell::new((1, "one"));
    /// let (n, s) = GcCellRef::map_split(c.borrow(), |p| (&p.0, &p.1));
    /// assert_eq!((*n, *s), (1, "one"));
    /// ```
    pub fn map_split<U: ?Sized, V: ?Sized>(
        orig: GcCellRef<'a, T>,
        f: impl FnOnce(&T) -> (&U, &V),
    ) -> (GcCellRef<'a, U>, GcCellRef<'a, V>) {
        let (u, v) = f(orig.value);
        // The second guard's own share of the borrow (cannot fail, as in `clone`).
        let shared = orig.state.try_shared();
        debug_assert!(shared);
        let state = orig.state;
        std::mem::forget(orig);
        (GcCellRef { state, value: u }, GcCellRef { state, value: v })
    }
}

impl<T: ?Sized> Deref for GcCellRef<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.value
    }
}

impl<T: ?Sized> Drop for GcCellRef<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.state.release_shared();
    }
}

/// An exclusive borrow of a [`GcCell`]. Handles taken out of it stay rooted; handles left in it
/// stop being roots when it is dropped.
///
/// # Example
/// ```
/// let c = tricolor_gc::GcCell::new(1);
/// let mut w: tricolor_gc::GcCellRefMut<'_, i32> = c.borrow_mut();
/// *w = 5;
/// drop(w);
/// assert_eq!(*c.borrow(), 5);
/// ```
///
/// A guard narrowed with [`GcCellRefMut::map`] keeps the cell's type `C` as its first parameter
/// and shows a `T` (the parameter order of the `gc` crate): releasing it unroots the whole
/// cell's contents, not only the part it shows.
pub struct GcCellRefMut<'a, C: ?Sized + Trace, T: ?Sized = C> {
    cell: &'a GcCell<C>,
    /// Points into `cell`'s value, which the exclusive borrow makes ours until the guard drops.
    value: NonNull<T>,
    _borrow: PhantomData<&'a mut T>,
}

impl<'a, C: ?Sized + Trace> GcCellRefMut<'a, C, C> {
    /// The guard for the whole value of a cell whose exclusive borrow the caller just took.
    #[inline]
    fn whole(cell: &'a GcCell<C>) -> GcCellRefMut<'a, C, C> {
        GcCellRefMut {
            cell,
            // SAFETY: `UnsafeCell::get` is never null.
            value: unsafe { NonNull::new_unchecked(cell.value.get()) },
            _borrow: PhantomData,
        }
    }
}

impl<'a, T: ?Sized, C: ?Sized + Trace> GcCellRefMut<'a, C, T> {
    /// A guard for a part of the borrowed value. The cell stays exclusively borrowed, and its
    /// whole contents go back into the heap, when the new guard drops.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcCell, GcCellRefMut};
    /// let c = Gc::new(GcCell::new((0u32, Vec::new())));
    /// // The cell's type first, then the part shown (as in the `gc` crate).
    /// let mut list: GcCellRefMut<'_, (u32, Vec<Gc<i32>>), Vec<Gc<i32>>> =
    ///     GcCellRefMut::map(c.borrow_mut(), |pair| &mut pair.1);
    /// list.push(Gc::new(7));
    /// drop(list);
    /// assert_eq!(*c.borrow().1[0], 7);
    /// ```
    pub fn map<U: ?Sized>(
        mut orig: GcCellRefMut<'a, C, T>,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> GcCellRefMut<'a, C, U> {
        // `f` runs while `orig` still owns the borrow: a panic in it releases the borrow.
        let value = NonNull::from(f(&mut *orig));
        let cell = orig.cell;
        std::mem::forget(orig);
        GcCellRefMut {
            cell,
            value,
            _borrow: PhantomData,
        }
    }

    /// Like [`GcCellRefMut::map`], for a part that may be absent: gives the original guard back
    /// when `f` returns `None`.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{GcCell, GcCellRefMut};
    /// let c = GcCell::new(vec![1, 2]);
    /// let mut first = GcCellRefMut::filter_map(c.borrow_mut(), |v| v.first_mut()).ok().unwrap();
    /// *first = 10;
    /// drop(first);
    /// assert_eq!(c.borrow()[0], 10);
    /// ```
    pub fn filter_map<U: ?Sized>(
        mut orig: GcCellRefMut<'a, C, T>,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<GcCellRefMut<'a, C, U>, GcCellRefMut<'a, C, T>> {
        match f(&mut *orig).map(NonNull::from) {
            Some(value) => {
                let cell = orig.cell;
                std::mem::forget(orig);
                Ok(GcCellRefMut {
                    cell,
                    value,
                    _borrow: PhantomData,
                })
            }
            None => Err(orig),
        }
    }
}

impl<T: ?Sized, C: ?Sized + Trace> Deref for GcCellRefMut<'_, C, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `value` points into the cell, which the held exclusive borrow makes ours.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized, C: ?Sized + Trace> DerefMut for GcCellRefMut<'_, C, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only live reference.
        unsafe { self.value.as_mut() }
    }
}

impl<T: ?Sized, C: ?Sized + Trace> Drop for GcCellRefMut<'_, C, T> {
    #[inline]
    fn drop(&mut self) {
        let cell = self.cell;
        if cell.state.is_rooted() {
            cell.state.release_exclusive();
            return;
        }
        // Unrooting (Dijkstra half: a 1→0 while marking shades) and releasing the borrow happen
        // in one operation: a cycle that starts after it sees the cell readable and its contents
        // reachable through it; one that started before sees the shades.
        with_op(|_| {
            // Released even if a contract-violating `unroot` panics halfway: the handles already
            // unrooted are reachable through the readable cell, the others are still roots.
            let _release = ReleaseExclusive(&cell.state);
            // SAFETY: we still hold the exclusive borrow; the contents go back into the heap.
            // `value` is not used again, so the fresh `&mut` to the whole value aliases nothing.
            unsafe { (*cell.value.get()).unroot() };
        });
    }
}

/// Ends a marker's borrow of a cell when dropped.
struct ReleaseMarker<'a>(&'a BorrowState);
impl Drop for ReleaseMarker<'_> {
    fn drop(&mut self) {
        self.0.release_marker();
    }
}

/// Clears a cell's exclusive bit when dropped.
struct ReleaseExclusive<'a>(&'a BorrowState);
impl Drop for ReleaseExclusive<'_> {
    fn drop(&mut self) {
        self.0.release_exclusive();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for GcCellRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
impl<T: ?Sized + fmt::Display> fmt::Display for GcCellRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
impl<T: ?Sized + fmt::Debug, C: ?Sized + Trace> fmt::Debug for GcCellRefMut<'_, C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
impl<T: ?Sized + fmt::Display, C: ?Sized + Trace> fmt::Display for GcCellRefMut<'_, C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + Trace + fmt::Debug> fmt::Debug for GcCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_borrow() {
            Ok(v) => f.debug_struct("GcCell").field("value", &&*v).finish(),
            Err(_) => f.write_str("GcCell { <borrowed> }"),
        }
    }
}

impl<T: Default> Default for GcCell<T> {
    fn default() -> Self {
        GcCell::new(T::default())
    }
}

impl<T: ?Sized + Finalize> Finalize for GcCell<T> {
    fn has_finalizer() -> bool
    where
        Self: Sized,
    {
        false
    }
}

/// `Trace` for a cell of a sized `T` and of a slice `[T]`: two impls rather than one for
/// `T: ?Sized`, because the sized one answers `is_noscan`/`needs_sweep_drop` with `T`'s own
/// answers, which exist only for sized `T` (they keep `Trace` object-safe).
macro_rules! cell_trace {
    ($ty:ty $(, $sized:item)*) => {
        // SAFETY: the contents are traced under a marker borrow (or skipped while mutably
        // borrowed, as the module docs argue); root/unroot flip `rooted` and forward to the
        // contents unless the cell is exclusively borrowed, whose contents are roots (the
        // invariant of the module docs).
        unsafe impl<T: Trace> Trace for GcCell<$ty> {
            #[inline]
            fn trace(&self, tracer: &mut Tracer) {
                if let Some(v) = self.marker_borrow() {
                    // Released even if the contents' `trace` panics (a hand-written impl, under
                    // a user's recording tracer): a marker count left behind would make every
                    // later `borrow_mut` wait for a marker that is gone.
                    let _release = ReleaseMarker(&self.state);
                    v.trace(tracer);
                }
            }

            #[inline]
            unsafe fn root(&mut self) {
                // The flag, which sends later borrows down the path of a cell outside the heap
                // (no shade, no rooting), is set only once the contents are roots: a
                // hand-written `root` that unwinds half-way leaves a cell that still roots and
                // shades (`unroot` clears it first, for the same reason).
                if !self.state.is_exclusive() {
                    // SAFETY: forwarded from the caller.
                    unsafe { self.value.get_mut().root() };
                }
                self.state.set_rooted(true);
            }

            #[inline]
            unsafe fn unroot(&mut self) {
                self.state.set_rooted(false);
                if !self.state.is_exclusive() {
                    // SAFETY: forwarded from the caller.
                    unsafe { self.value.get_mut().unroot() };
                }
            }

            $($sized)*
        }
    };
}
cell_trace!([T]);
cell_trace!(
    T,
    fn is_noscan() -> bool {
        T::is_noscan()
    },
    // What the contents need, not `needs_drop`: a cell of handles has drop glue (`Gc`
    // implements `Drop`), but in a dead object those handles are unrooted and their drops do
    // nothing. A dead cell cannot be borrowed (the object would be reachable through the
    // borrow) unless a guard was leaked with `mem::forget`; its contents then stay rooted (the
    // module's invariant), a leak, as forgetting an `Rc` is. Answering `true` put every object holding a
    // `GcCell` of handles on the background sweeper's drop path, one call per dead object
    // (measured on the Lox VM's instances).
    fn needs_sweep_drop() -> bool {
        T::needs_sweep_drop()
    }
);
