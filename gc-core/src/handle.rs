//! `Gc<T>`: the handle.
//!
//! One word: the object's address, with bit 0 set when the handle is *unrooted* (it lives inside
//! a GC object). A rooted handle owns one unit of the object's root count; an unrooted one owns
//! nothing and drops as a no-op, which is what makes running a dead object's drop glue during
//! sweeping safe. `clone` of any handle gives a rooted one.

use crate::barrier::{release_moved_root, release_root};
use crate::header::Header;
use crate::malloc;
use crate::mheap::AllocError;
use crate::trace::{Finalize, Trace, Tracer};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

/// A handle to an object in the tricolor heap.
///
/// `Gc<T>` is `Clone` (a cheap root-count increment), `Deref<Target = T>`, and `Send + Sync`
/// when `T` is. Cycles of `Gc` are collected once they are unreachable. Mutation goes through
/// [`GcCell`](crate::GcCell) or [`GcSlot`](crate::GcSlot).
///
/// # Example
/// ```
/// use tricolor_gc::Gc;
/// let a = Gc::new(String::from("hello"));
/// let b = a.clone();
/// assert!(Gc::ptr_eq(&a, &b));
/// assert_eq!(a.len(), 5);
/// ```
#[repr(transparent)]
pub struct Gc<T: ?Sized + 'static> {
    /// The value's address (every object's handles point at its value: module `header`),
    /// with bit 0 set when the handle is unrooted.
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

// SAFETY: the handle gives `&T` to any thread and the object is dropped on the sweeper's
// thread, so `T` must be `Send + Sync`; the root count is atomic.
unsafe impl<T: ?Sized + Send + Sync> Send for Gc<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for Gc<T> {}

const UNROOTED: usize = 1;

impl<T: Trace + Send + Sync + 'static> Gc<T> {
    /// Moves `value` into the heap and returns a rooted handle to it. The handles inside
    /// `value` stop being roots: the new object keeps them alive.
    ///
    /// Panics if memory is exhausted; see [`Gc::try_new`].
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let n = Gc::new(42u64);
    /// assert_eq!(*n, 42);
    /// ```
    #[inline]
    pub fn new(value: T) -> Gc<T> {
        match Gc::try_new(value) {
            Ok(g) => g,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Gc::new`], but reports allocation failure instead of panicking. The value is
    /// dropped on failure.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let n = Gc::try_new([0u8; 100]).expect("memory");
    /// assert_eq!(n.len(), 100);
    /// ```
    #[inline]
    pub fn try_new(value: T) -> Result<Gc<T>, AllocError> {
        let mut value = std::mem::ManuallyDrop::new(value);
        let owned = malloc::Unmoved(&mut value);
        match malloc::alloc(owned.0) {
            Ok(ptr) => {
                std::mem::forget(owned);
                Ok(Gc {
                    ptr,
                    _owns: PhantomData,
                })
            }
            Err(e) => Err(e),
        }
    }
}

impl<T: ?Sized + 'static> Gc<T> {
    /// The handle of a new object that `malloc::alloc_in` made with one root
    /// (`rooted`) or none (the handle is heap contents from the start).
    ///
    /// # Safety
    /// `ptr` is that object, and this is its only handle.
    #[inline(always)]
    pub(crate) unsafe fn from_new(ptr: NonNull<T>, rooted: bool) -> Gc<T> {
        Gc {
            ptr: if rooted {
                ptr
            } else {
                ptr.map_addr(|a| a | UNROOTED)
            },
            _owns: PhantomData,
        }
    }

    #[inline(always)]
    fn raw(&self) -> NonNull<T> {
        self.ptr.map_addr(|a| {
            // SAFETY: clearing bit 0 of a non-null, 8-aligned address leaves it non-null.
            unsafe { std::num::NonZeroUsize::new_unchecked(crate::header::untagged(a.get())) }
        })
    }

    /// The object's pointer (fat for unsized objects), without the tag.
    #[inline(always)]
    pub(crate) fn box_ptr(this: &Gc<T>) -> NonNull<T> {
        this.raw()
    }

    #[inline(always)]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a handle always points at a live object (rooted: it holds a root; unrooted: the
        // object holding the handle is alive and keeps it reachable); `Header` names it by the
        // value's address and claims no bytes.
        unsafe { self.raw().cast::<Header>().as_ref() }
    }

    /// Adds a root to the object, flagging its span for the root scan if it is the first.
    #[inline(always)]
    fn add_root(&self) {
        // SAFETY: a handle points at an allocated object of the heap (every `Gc` comes from an
        // allocation), alive while the handle is (as in `header`).
        unsafe { crate::mheap::add_root(self.header()) }
    }

    /// True if both handles point at the same object.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a = Gc::new(1); let b = Gc::new(1);
    /// assert!(!Gc::ptr_eq(&a, &b));
    /// assert!(Gc::ptr_eq(&a, &a.clone()));
    /// ```
    #[inline]
    pub fn ptr_eq(this: &Gc<T>, other: &Gc<T>) -> bool {
        this.raw().cast::<u8>() == other.raw().cast::<u8>()
    }

    /// A handle that takes over a root the caller owns on the object whose header is at `h`.
    ///
    /// # Safety
    /// `h` must be a live object of type `T` whose root count includes one root for the new handle.
    pub(crate) unsafe fn from_root_header(h: *const Header) -> Gc<T>
    where
        T: Sized,
    {
        Gc {
            // SAFETY: forwarded: `h` is a live object, hence non-null.
            ptr: unsafe { NonNull::new_unchecked(h as *mut T) },
            _owns: PhantomData,
        }
    }

    /// A handle that takes over a root the caller owns on the object `p` (possibly a fat pointer
    /// to a dynamically sized one).
    ///
    /// # Safety
    /// `p` is a live object whose root count includes one root for the new handle.
    pub(crate) unsafe fn from_root(p: NonNull<T>) -> Gc<T> {
        Gc {
            ptr: p,
            _owns: PhantomData,
        }
    }

    /// Consumes the handle and returns its object (its value's address), which keeps the root the
    /// handle owned (an unrooted handle takes one first): the inverse of `from_root_header`.
    pub(crate) fn into_root(this: Gc<T>) -> *const Header {
        if !Gc::is_root(&this) {
            this.add_root();
        }
        // From the object's pointer, not from `&Header`: `from_root` reads the value through
        // it, past the header, which a pointer made from a reference to the header alone does
        // not cover under Stacked Borrows.
        let h = Gc::box_ptr(&this).as_ptr().cast_const().cast::<Header>();
        std::mem::forget(this);
        h
    }

    /// A pointer to the value, valid while any handle keeps the object alive. Does not touch the
    /// root count.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a = Gc::new(7u32);
    /// // SAFETY of the read: `a` keeps the object alive.
    /// assert_eq!(unsafe { *Gc::as_ptr(&a) }, 7);
    /// ```
    #[inline]
    pub fn as_ptr(this: &Gc<T>) -> *const T {
        this.raw().as_ptr().cast_const()
    }

    /// Consumes the handle and returns a pointer to the value **keeping its root**: the object
    /// stays alive, as if the handle still existed, until the pointer is turned back into a
    /// handle with [`Gc::from_raw`] and that handle is dropped. For VMs that keep handles in
    /// tagged words (NaN-boxing): for a sized `T` the pointer is one word, 8-aligned, so its
    /// low three bits are free for tags (the value follows a one-word header in a slot that is
    /// at least 8-aligned).
    ///
    /// A raw root is a root like any handle held by Rust code; a forgotten one leaks its object
    /// (and everything it reaches), exactly like `mem::forget` of a `Gc`.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let word = Gc::into_raw(Gc::new(String::from("boxed"))) as usize;
    /// assert_eq!(word & 0x7, 0);
    /// // SAFETY: `word` came from `into_raw` of a `Gc<String>` and is turned back once.
    /// let back: Gc<String> = unsafe { Gc::from_raw(word as *const String) };
    /// assert_eq!(*back, "boxed");
    /// ```
    pub fn into_raw(this: Gc<T>) -> *const T {
        let p = Gc::as_ptr(&this);
        Gc::into_root(this);
        p
    }

    /// Rebuilds the handle that [`Gc::into_raw`] turned into `ptr`, taking over its root.
    ///
    /// # Safety
    /// `ptr` must come from `Gc::<T>::into_raw` (the same `T`, or a `T` with the same layout and
    /// metadata), and each such pointer may be passed to `from_raw` once: a second call would
    /// release the same root twice and let the collector free a live object.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let p = Gc::into_raw(Gc::<str>::from("vm"));
    /// // SAFETY: `p` came from `into_raw` of a `Gc<str>`; converted back once.
    /// let g = unsafe { Gc::from_raw(p) };
    /// assert_eq!(&*g, "vm");
    /// ```
    pub unsafe fn from_raw(ptr: *const T) -> Gc<T> {
        // SAFETY: `ptr` is the value of a live object (its root is held by the raw pointer),
        // which is what a handle points at; the cast keeps `T`'s metadata.
        let obj = ptr as *mut T;
        // SAFETY: non-null (it points into a live object) and it carries the root.
        unsafe { Gc::from_root(NonNull::new_unchecked(obj)) }
    }

    /// The object's current number of roots (rooted handles). For tests and diagnostics.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a = Gc::new(1);
    /// let b = a.clone();
    /// assert_eq!(Gc::root_count(&a), 2);
    /// drop(b);
    /// assert_eq!(Gc::root_count(&a), 1);
    /// ```
    pub fn root_count(this: &Gc<T>) -> usize {
        // SAFETY: a handle's object is a heap object, alive while the handle is.
        unsafe { this.header().root_count() as usize }
    }

    /// True if this handle is a root (held by Rust code rather than by a GC object).
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let inner = Gc::new(1);
    /// let outer = Gc::new(vec![inner]);
    /// assert!(Gc::is_root(&outer));
    /// assert!(!Gc::is_root(&outer[0]));
    /// ```
    #[inline(always)]
    pub fn is_root(this: &Gc<T>) -> bool {
        this.ptr.addr().get() & UNROOTED == 0
    }
}

impl<T: ?Sized + 'static> Deref for Gc<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: see `header`: the object outlives every handle to it.
        unsafe { self.raw().as_ref() }
    }
}

impl<T: ?Sized + 'static> Clone for Gc<T> {
    #[inline(always)]
    fn clone(&self) -> Gc<T> {
        self.add_root();
        Gc {
            ptr: self.raw(),
            _owns: PhantomData,
        }
    }
}

impl<T: ?Sized + 'static> Drop for Gc<T> {
    #[inline(always)]
    fn drop(&mut self) {
        if Gc::is_root(self) {
            release_root(self.header());
        }
    }
}

impl<T: ?Sized + 'static> Finalize for Gc<T> {
    fn has_finalizer() -> bool {
        false
    }
}

// SAFETY: a handle's only edge is its object; root/unroot move exactly this handle's root.
unsafe impl<T: ?Sized + 'static> Trace for Gc<T> {
    #[inline(always)]
    fn trace(&self, tracer: &mut Tracer) {
        tracer.edge(self.header());
    }

    #[inline]
    unsafe fn root(&mut self) {
        if !Gc::is_root(self) {
            self.add_root();
            self.ptr = self.raw();
        }
    }

    #[inline(always)]
    unsafe fn unroot(&mut self) {
        if Gc::is_root(self) {
            let h = self.header() as *const Header;
            self.ptr = self.ptr.map_addr(|a| a | UNROOTED);
            // A 1→0 transition shades if the enclosing operation is marking.
            // SAFETY: the object is alive: we still owned a root on it until now.
            release_moved_root(unsafe { &*h });
        }
    }

    #[inline(always)]
    fn needs_sweep_drop() -> bool {
        false
    }

    /// A handle to a sized object is one pointer word; a handle to an unsized one is wider.
    /// (`AtomicPtr` may need more alignment than a pointer on some targets: checked too.)
    #[inline(always)]
    fn is_atomic_handle() -> bool {
        std::mem::size_of::<Gc<T>>() == std::mem::size_of::<AtomicPtr<u8>>()
            && std::mem::align_of::<Gc<T>>() >= std::mem::align_of::<AtomicPtr<u8>>()
    }

    /// A sized object's handle is one pointer word (the marker reads it atomically, as
    /// `trace_racy` does); an unsized one's is wider and is traced through `trace`.
    #[inline(always)]
    fn ptr_map() -> Option<u64> {
        Self::is_atomic_handle().then_some(1)
    }

    #[inline(always)]
    unsafe fn trace_racy(this: *const Self, tracer: &mut Tracer) {
        if !Self::is_atomic_handle() {
            // SAFETY: forwarded; a wide handle is never replaced racily (`is_atomic_handle`).
            return unsafe { (*this).trace(tracer) };
        }
        // SAFETY: one word, valid and aligned (forwarded), replaced only with atomic stores.
        let word = unsafe { AtomicPtr::from_ptr(this as *mut *mut u8) }.load(Ordering::Acquire);
        // SAFETY: the word is a handle's own bits (`is_atomic_handle`: same size), copied out
        // and never dropped, so the copy owns no root. Acquire pairs with `replace_racy`'s
        // Release: the replacing writer initialized the object's header before its store.
        let copy = ManuallyDrop::new(unsafe { std::mem::transmute_copy::<*mut u8, Gc<T>>(&word) });
        copy.trace(tracer);
    }

    #[inline(always)]
    unsafe fn replace_racy(slot: *mut Self, new: Self) -> Self {
        debug_assert!(Self::is_atomic_handle());
        // SAFETY: the caller's contract: `slot` is a valid, aligned handle of one word that
        // only this thread writes, and that others read only with atomic loads.
        let cell = unsafe { AtomicPtr::from_ptr(slot as *mut *mut u8) };
        let old = cell.load(Ordering::Relaxed);
        let new = ManuallyDrop::new(new);
        // SAFETY: the handle's own bits (one word); ownership moves into the slot.
        cell.store(
            unsafe { std::mem::transmute_copy::<ManuallyDrop<Gc<T>>, *mut u8>(&new) },
            Ordering::Release,
        );
        // SAFETY: the slot's former bits, whose ownership moves out to the caller.
        unsafe { std::mem::transmute_copy::<*mut u8, Gc<T>>(&old) }
    }

    #[inline(always)]
    unsafe fn store_racy(slot: *mut Self, new: Self) {
        debug_assert!(Self::is_atomic_handle());
        let new = ManuallyDrop::new(new);
        // SAFETY: as in `replace_racy`; the overwritten handle is forgotten (the caller's
        // contract: it is unrooted, and an unrooted handle's drop does nothing).
        unsafe { AtomicPtr::from_ptr(slot as *mut *mut u8) }.store(
            // SAFETY: the handle's own bits (one word); ownership moves into the slot.
            unsafe { std::mem::transmute_copy::<ManuallyDrop<Gc<T>>, *mut u8>(&new) },
            Ordering::Release,
        );
    }
}

impl<T: ?Sized + fmt::Debug + 'static> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display + 'static> fmt::Display for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + PartialEq + 'static> PartialEq for Gc<T> {
    fn eq(&self, other: &Gc<T>) -> bool {
        **self == **other
    }
}
impl<T: ?Sized + Eq + 'static> Eq for Gc<T> {}

impl<T: ?Sized + PartialOrd + 'static> PartialOrd for Gc<T> {
    fn partial_cmp(&self, other: &Gc<T>) -> Option<std::cmp::Ordering> {
        (**self).partial_cmp(&**other)
    }
}
impl<T: ?Sized + Ord + 'static> Ord for Gc<T> {
    fn cmp(&self, other: &Gc<T>) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl<T: ?Sized + Hash + 'static> Hash for Gc<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl<T: ?Sized + 'static> fmt::Pointer for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Pointer::fmt(&self.raw().as_ptr(), f)
    }
}

impl<T: ?Sized + 'static> AsRef<T> for Gc<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: ?Sized + 'static> std::borrow::Borrow<T> for Gc<T> {
    fn borrow(&self) -> &T {
        self
    }
}

impl<T: Trace + Send + Sync + Default + 'static> Default for Gc<T> {
    fn default() -> Gc<T> {
        Gc::new(T::default())
    }
}

impl<T: Trace + Send + Sync + 'static> From<T> for Gc<T> {
    fn from(v: T) -> Gc<T> {
        Gc::new(v)
    }
}

/// Moves the boxed value into a new object (the box's memory is freed), as `Rc::from(Box<T>)`.
/// For a boxed unsized value (`Box<dyn Trait>`, `Box<[T]>`, `Box<str>`) see [`Gc::from_box`]
/// and the `From<Box<[T]>>`/`From<Box<str>>` impls.
///
/// # Example
/// ```
/// use tricolor_gc::Gc;
/// let g: Gc<String> = Gc::from(Box::new(String::from("boxed")));
/// assert_eq!(*g, "boxed");
/// ```
impl<T: Trace + Send + Sync + 'static> From<Box<T>> for Gc<T> {
    fn from(b: Box<T>) -> Gc<T> {
        Gc::new(*b)
    }
}

impl Tracer {
    /// How many times a [`Tracer::recording`] tracer was given an edge to `g`'s object.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, Trace, Tracer};
    /// let a = Gc::new(1u8);
    /// let twice = (a.clone(), a.clone());
    /// let mut t = Tracer::recording();
    /// twice.trace(&mut t);
    /// assert_eq!(t.count_of(&a), 2);
    /// ```
    pub fn count_of<T: ?Sized + 'static>(&self, g: &Gc<T>) -> usize {
        let h = g.header() as *const Header as usize;
        self.recorded().iter().filter(|&&e| e == h).count()
    }
}

macro_rules! downcast {
    ($any:ty) => {
        impl Gc<$any> {
            /// The handle as a `Gc<T>` if the object's value is a `T`; the handle back
            /// otherwise. The root moves to the returned handle.
            ///
            /// # Example
            /// ```
            /// use std::any::Any;
            /// use tricolor_gc::Gc;
            #[doc = concat!("let a: Gc<", stringify!($any), "> = Gc::unsize(Gc::new(5u32), |v| v as _);")]
            /// let a = a.downcast::<String>().unwrap_err(); // not a String
            /// let n: Gc<u32> = a.downcast::<u32>().unwrap();
            /// assert_eq!(*n, 5);
            /// ```
            pub fn downcast<T: std::any::Any>(self) -> Result<Gc<T>, Gc<$any>> {
                if (*self).is::<T>() {
                    let root = Gc::into_root(self);
                    // SAFETY: the value is a `T`, so the object is a `GcBox<T>` (allocated as
                    // one and unsized, or moved from a box with `T`'s size and alignment, which
                    // give the same layout); `into_root` handed over the handle's root.
                    Ok(unsafe { Gc::from_root_header(root) })
                } else {
                    Err(self)
                }
            }
        }
    };
}
downcast!(dyn std::any::Any);
downcast!(dyn std::any::Any + Send);
downcast!(dyn std::any::Any + Send + Sync);
