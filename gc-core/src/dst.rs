//! Dynamically sized objects: `Gc<str>`, `Gc<[T]>`, `Gc<dyn Trait>`.
//!
//! A handle to a dynamically sized value is a fat pointer (address plus length or trait vtable),
//! as `Rc<str>` is. The collector, though, reaches objects from their header's address alone, so
//! an object that has to be traced or dropped keeps a copy of its own fat pointer in the last
//! [`TRAILER_SIZE`] bytes of its slot; its header's vtable is [`DstVTableOf`], whose glue finds
//! the slot's end through the span (`span_of(h).elemsize`) and rebuilds the value from there.
//! Leaf values (`str`, `[u8]`, `[f64]`: nothing to trace, nothing to drop) carry no trailer and
//! get a vtable of no-ops. Either way the object is one allocation: header, value, trailer.
//!
//! Why not a length word in the header, as some collectors do: every object would pay a third
//! header word. Why not a prefix before the header: the sweeper and the marker find objects by
//! slot index, and a prefix would need per-span layout flags in every one of those paths. The
//! trailer costs only the objects that need it, and only the glue reads it.
//!
//! `Gc<dyn Trait>` made from a `Gc<T>` ([`Gc::unsize`]) needs nothing of this: the object was
//! allocated as a `T` and its header keeps `T`'s vtable; only the handle is fat.

use crate::handle::Gc;
use crate::header::{Header, HeaderWord, VTable, HEADER_SIZE};
use crate::malloc;
use crate::mheap::{span_of, AllocError, AllocFailure};
use crate::mspan::SpanClass;
use crate::operation::with_op;
use crate::sizeclasses::size_to_class;
use crate::trace::{Trace, Tracer};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

/// Bytes reserved at the end of a traced or dropped DST's slot for its fat pointer.
pub(crate) const TRAILER_SIZE: usize = 16;

/// A pointer to the object at `addr` with the metadata (length or vtable) of `src`.
pub(crate) fn place<U: ?Sized>(src: *const U, addr: usize) -> *mut U {
    with_addr(src as *mut U, addr)
}

/// `p` with its address replaced by `addr`, keeping its metadata (a length, a vtable): how
/// `place`, `Gc::unsize` and `Weak::upgrade` point a handle at an object the heap addresses.
pub(crate) fn with_addr<U: ?Sized>(p: *mut U, addr: usize) -> *mut U {
    let mut fat = p;
    // Stable Rust cannot yet build a fat pointer from parts (`ptr::from_raw_parts` is unstable),
    // so the address word is overwritten in place. Every Rust pointer, thin or fat, keeps its
    // address in its first word; the assertion below turns a change of that layout into a
    // panic instead of a wild pointer. The address comes from the heap's own integer-to-pointer
    // conversion, as every object address does (the heap exposes its mappings' provenance).
    // SAFETY: `fat` is a local pointer value at least one word long; the write replaces its
    // address word with another pointer-sized value.
    unsafe { *(&mut fat as *mut *mut U as *mut *mut u8) = addr as *mut u8 };
    assert_eq!(
        fat as *mut u8 as usize, addr,
        "fat pointers keep their address first"
    );
    fat
}

/// Stores `obj`'s fat pointer in the last `TRAILER_SIZE` bytes before `slot_end`.
///
/// # Safety
/// `slot_end` is the end of `obj`'s slot, and the slot was sized with room for the trailer.
pub(crate) unsafe fn write_trailer<U: ?Sized>(obj: *mut U, slot_end: usize) {
    const { assert!(std::mem::size_of::<*mut U>() <= TRAILER_SIZE) };
    // SAFETY: the trailer lies inside the slot, past the value, and is 8-aligned (slot ends
    // are multiples of 8).
    unsafe { ((slot_end - TRAILER_SIZE) as *mut *mut U).write(obj) }
}

/// Reads back the fat pointer of the object `h`.
///
/// # Safety
/// `h` is a live object allocated by `alloc_dst` with a trailer.
unsafe fn read_trailer<U: ?Sized>(h: *const Header) -> *mut U {
    // SAFETY: the span entry of a live object's page is its span, whose slot holding `h` ends
    // `elemsize` bytes after its start; the trailer was written there at allocation.
    unsafe {
        let span = span_of(h as usize);
        let end = span.addr_of(span.index_of(h as usize)) + span.elemsize;
        ((end - TRAILER_SIZE) as *const *mut U).read()
    }
}

/// `VTable::trace` for a dynamically sized `U` with a trailer.
///
/// # Safety
/// As `VTable::trace`, and the object was allocated by `alloc_dst` with a trailer.
unsafe fn trace_dst<U: ?Sized + Trace>(h: *const Header, t: &mut Tracer) {
    // SAFETY: this vtable is only installed on objects with a trailer; the marker calls it on a
    // live object.
    unsafe { (*read_trailer::<U>(h)).trace(t) }
}

/// `VTable::drop` for a dynamically sized `U` with a trailer.
///
/// # Safety
/// As `VTable::drop`, and the object was allocated by `alloc_dst` with a trailer.
unsafe fn drop_dst<U: ?Sized + Trace>(h: *mut Header) {
    // SAFETY: called once, by the sweeper, on a dead object that nothing can reach again; its
    // slot (and trailer) is untouched until the sweeper frees it after this returns.
    unsafe { std::ptr::drop_in_place(read_trailer::<U>(h)) }
}

/// `VTable::trace` of a leaf value (nothing to trace); unsafe only to fit the vtable.
///
/// # Safety
/// None: it reads nothing.
unsafe fn trace_leaf(_: *const Header, _: &mut Tracer) {}
/// `VTable::drop` of a leaf value (nothing to drop); unsafe only to fit the vtable.
///
/// # Safety
/// None: it touches nothing.
unsafe fn drop_leaf(_: *mut Header) {}
/// `VTable::finalize` of dynamically sized objects, which never register a finalizer. Says
/// "overridden" were it ever called: the finalizer thread would learn the answer under the
/// value type's `TypeId`, which a sized `Gc::new` type may share (`Gc::from_box`), and "not
/// overridden" would skip that type's finalizers (review note, 2026-12-07).
///
/// # Safety
/// None: it touches nothing.
unsafe fn finalize_none(_: *const Header) -> bool {
    true
}

/// The vtables of dynamically sized objects. DSTs never register finalizers (see
/// [`Gc::from_box`]), so `finalize` is never called.
pub(crate) struct DstVTableOf<U: ?Sized>(std::marker::PhantomData<U>);

impl<U: ?Sized + Trace + 'static> DstVTableOf<U> {
    const TRAILED: VTable = VTable {
        type_name: std::any::type_name::<U>,
        type_id: std::any::TypeId::of::<U>,
        trace: trace_dst::<U>,
        drop: drop_dst::<U>,
        finalize: finalize_none,
    };
    const LEAF: VTable = VTable {
        type_name: std::any::type_name::<U>,
        type_id: std::any::TypeId::of::<U>,
        trace: trace_leaf,
        drop: drop_leaf,
        finalize: finalize_none,
    };
}

/// The vtable for a `U` object with (`trailer`) or without a trailer.
pub(crate) fn vtable_of<U: ?Sized + Trace + 'static>(trailer: bool) -> &'static VTable {
    if trailer {
        &DstVTableOf::<U>::TRAILED
    } else {
        &DstVTableOf::<U>::LEAF
    }
}

/// Moves the dynamically sized value at `src` into a new object (see module `dst` for the
/// layout: the value after the header, and, unless the object is both noscan and nodrop, its own
/// fat pointer in the last two words of the slot, so that the marker and the sweeper can rebuild
/// it from the header's address alone).
///
/// On success the bytes of `*src` now belong to the object: the caller must free `src`'s memory
/// without dropping the value. On failure nothing was moved.
///
/// # Safety
/// `src` points at a valid `U` that the caller owns (it is unrooted and re-rooted in place, so
/// it must be writable unless `noscan`). `noscan` may be true only if the value holds no `Gc`,
/// `nodrop` only if dropping it does nothing at sweep time.
unsafe fn alloc_dst<U: ?Sized + Trace + Send + Sync + 'static>(
    src: *mut U,
    noscan: bool,
    nodrop: bool,
) -> Result<NonNull<U>, AllocError> {
    // SAFETY: `src` is a valid `U` (caller).
    let value = std::alloc::Layout::for_value(unsafe { &*src });
    let unsupported = AllocError::new(AllocFailure::Unsupported {
        size: value.size().saturating_add(HEADER_SIZE),
        align: value.align(),
    });
    let trailer = !(noscan && nodrop);
    let mut l = malloc::headered_layout(value.size(), value.align(), noscan, nodrop);
    // The header and at least a byte of value (`header::headered_size`), saturated: a
    // `Layout`'s size is at most `isize::MAX`, so only the trailer's steps can overflow.
    let mut size = l.size;
    if trailer {
        size = size
            .checked_next_multiple_of(8)
            .and_then(|s| s.checked_add(TRAILER_SIZE))
            .ok_or(unsupported)?;
    }
    // The trailer makes the slot larger than `headered_layout` counted.
    l.size = size;
    if l.sc != 0 {
        l.sc = size_to_class(size, l.align);
        l.class = SpanClass::headered(l.sc, noscan, nodrop, l.align);
    }
    let r = with_op(|op| {
        // Unrooted in place before a slot is taken, as in `alloc`.
        if !noscan {
            // SAFETY: `src` is valid and about to become heap contents (caller).
            unsafe { (*src).unroot() };
        }
        let (addr, idx, span) = match malloc::slot(op, &l) {
            Ok(s) => s,
            Err(e) => {
                if !noscan {
                    // SAFETY: the value stays the caller's: its handles are roots again.
                    unsafe { (*src).root() };
                }
                return Err(e);
            }
        };
        let at = addr + l.value_off;
        let obj = place(src, at);
        // SAFETY: the slot is free, owned by this operation, at least `size` bytes long and
        // aligned for the header word and the value after it (its class was chosen for both);
        // `src` is valid for `value.size()` bytes and cannot overlap a free slot.
        unsafe {
            ((at - HEADER_SIZE) as *mut HeaderWord).write(HeaderWord::of(vtable_of::<U>(trailer)));
            crate::mbitmap::init(at, 1, false);
            std::ptr::copy_nonoverlapping(src as *const u8, at as *mut u8, value.size());
            if trailer {
                write_trailer(obj, addr + span.elemsize);
            }
        }
        malloc::publish_new(op, span, idx, l.sc, true);
        // SAFETY: `obj` has an address inside the slot: non-null.
        Ok(unsafe { NonNull::new_unchecked(obj) })
    });
    crate::mgc::hold_at_goal();
    r
}

fn slice_from_vec<T: Trace + Send + Sync + 'static>(v: Vec<T>) -> Result<Gc<[T]>, AllocError> {
    let mut v = ManuallyDrop::new(v);
    let src = std::ptr::slice_from_raw_parts_mut(v.as_mut_ptr(), v.len());
    // SAFETY: `src` is the vector's initialized elements; the classification follows `T`'s.
    match unsafe { alloc_dst(src, T::is_noscan(), !T::needs_sweep_drop()) } {
        Ok(p) => {
            // SAFETY: the elements were moved into the object: free the buffer only.
            unsafe { v.set_len(0) };
            drop(ManuallyDrop::into_inner(v));
            // SAFETY: a new object holds exactly one root, for this handle.
            Ok(unsafe { Gc::from_root(p) })
        }
        Err(e) => {
            drop(ManuallyDrop::into_inner(v));
            Err(e)
        }
    }
}

impl<T: Trace + Send + Sync + 'static> Gc<[T]> {
    /// Moves the elements of `v` into one new object, reporting allocation failure. The
    /// handles inside stop being roots, as with [`Gc::new`].
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a: Gc<[u32]> = Gc::try_from_vec(vec![1, 2, 3]).expect("memory");
    /// assert_eq!(&*a, &[1, 2, 3]);
    /// ```
    pub fn try_from_vec(v: Vec<T>) -> Result<Gc<[T]>, AllocError> {
        slice_from_vec(v)
    }
}

impl<T: Trace + Send + Sync + 'static> From<Vec<T>> for Gc<[T]> {
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let names: Gc<[Gc<str>]> = Gc::from(vec![Gc::from("a"), Gc::from("b")]);
    /// assert_eq!(&*names[1], "b");
    /// ```
    fn from(v: Vec<T>) -> Gc<[T]> {
        slice_from_vec(v).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl<T: Trace + Send + Sync + 'static> From<Box<[T]>> for Gc<[T]> {
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let b: Box<[i64]> = vec![7, 8].into_boxed_slice();
    /// assert_eq!(Gc::<[i64]>::from(b)[0], 7);
    /// ```
    fn from(b: Box<[T]>) -> Gc<[T]> {
        Gc::from(b.into_vec())
    }
}

impl<T: Trace + Clone + Send + Sync + 'static> From<&[T]> for Gc<[T]> {
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a: Gc<[f64]> = Gc::from(&[0.5, 1.5][..]);
    /// assert_eq!(a.len(), 2);
    /// ```
    fn from(s: &[T]) -> Gc<[T]> {
        Gc::from(s.to_vec())
    }
}

impl<T: Trace + Send + Sync + 'static, const N: usize> From<[T; N]> for Gc<[T]> {
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let a: Gc<[u8]> = Gc::from([1, 2, 3]);
    /// assert_eq!(a.iter().sum::<u8>(), 6);
    /// ```
    fn from(a: [T; N]) -> Gc<[T]> {
        Gc::from(Vec::from(a))
    }
}

impl<T: Trace + Send + Sync + 'static> FromIterator<T> for Gc<[T]> {
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let squares: Gc<[u64]> = (1..=4).map(|i| i * i).collect();
    /// assert_eq!(&*squares, &[1, 4, 9, 16]);
    /// ```
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Gc<[T]> {
        Gc::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl Gc<str> {
    /// Copies `s` into one new object (header and bytes, no separate buffer), reporting
    /// allocation failure.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let s: Gc<str> = Gc::try_from_str("hello").expect("memory");
    /// assert_eq!(&*s, "hello");
    /// ```
    pub fn try_from_str(s: &str) -> Result<Gc<str>, AllocError> {
        // SAFETY: `s` is a valid `str`; it holds no `Gc` and has no drop glue, and copying its
        // bytes leaves the source intact (a `str` is `Copy`-like as bytes).
        // The pointer is only read: a noscan source is never unrooted in place.
        let p = unsafe { alloc_dst(s as *const str as *mut str, true, true) }?;
        // SAFETY: a new object holds exactly one root, for this handle.
        Ok(unsafe { Gc::from_root(p) })
    }
}

impl From<&str> for Gc<str> {
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let s: Gc<str> = Gc::from("lox");
    /// assert_eq!(s.len(), 3);
    /// ```
    fn from(s: &str) -> Gc<str> {
        Gc::try_from_str(s).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl From<String> for Gc<str> {
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let s: Gc<str> = Gc::from(format!("{}-{}", 1, 2));
    /// assert_eq!(&*s, "1-2");
    /// ```
    fn from(s: String) -> Gc<str> {
        Gc::from(s.as_str())
    }
}

impl From<Box<str>> for Gc<str> {
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let b: Box<str> = "boxed".into();
    /// assert_eq!(&*Gc::<str>::from(b), "boxed");
    /// ```
    fn from(s: Box<str>) -> Gc<str> {
        Gc::from(&*s)
    }
}

impl Default for Gc<str> {
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// assert_eq!(&*Gc::<str>::default(), "");
    /// ```
    fn default() -> Gc<str> {
        Gc::from("")
    }
}

impl<U: ?Sized + Trace + Send + Sync + 'static> Gc<U> {
    /// Moves a boxed value, typically a `Box<dyn Trait>` whose trait has `Trace` as a
    /// supertrait, into a new object. The box's memory is freed; its handles stop being roots.
    ///
    /// The value's concrete type is erased, so its [`Finalize::finalize`](crate::Finalize)
    /// does **not** run when the object dies. Allocate with [`Gc::new`] and convert with
    /// [`Gc::unsize`] to keep a finalizer.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, Trace, Finalize};
    /// trait Shape: Trace + Send + Sync { fn area(&self) -> f64; }
    /// #[derive(Trace, Finalize)]
    /// struct Square(f64);
    /// impl Shape for Square { fn area(&self) -> f64 { self.0 * self.0 } }
    ///
    /// let b: Box<dyn Shape> = Box::new(Square(3.0));
    /// let s: Gc<dyn Shape> = Gc::from_box(b);
    /// assert_eq!(s.area(), 9.0);
    /// ```
    pub fn from_box(b: Box<U>) -> Gc<U> {
        Gc::try_from_box(b).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Gc::from_box`], but reports allocation failure; the box is dropped then.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::Gc;
    /// let s: Gc<[u8]> = Gc::try_from_box(Box::from(&b"abc"[..])).expect("memory");
    /// assert_eq!(&*s, b"abc");
    /// ```
    pub fn try_from_box(b: Box<U>) -> Result<Gc<U>, AllocError> {
        let src = Box::into_raw(b);
        // SAFETY: `src` is a valid `U`; nothing is known of its type, so it is scanned and
        // dropped (the conservative classification).
        match unsafe { alloc_dst(src, false, false) } {
            Ok(p) => {
                // SAFETY: the value's bytes moved into the object; free the box's memory
                // without dropping it (`ManuallyDrop<U>` has `U`'s layout and metadata).
                drop(unsafe { Box::from_raw(src as *mut ManuallyDrop<U>) });
                // SAFETY: a new object holds exactly one root, for this handle.
                Ok(unsafe { Gc::from_root(p) })
            }
            Err(e) => {
                // SAFETY: nothing was moved; the box is still whole.
                drop(unsafe { Box::from_raw(src) });
                Err(e)
            }
        }
    }
}

impl<T: ?Sized + 'static> Gc<T> {
    /// Converts the handle by an unsizing coercion done in `f`: `Gc<T>` to `Gc<dyn Trait>`,
    /// `Gc<[T; N]>` to `Gc<[T]>`, `Gc<dyn A>` to `Gc<dyn B>` (trait upcasting). Stable Rust
    /// does not let a library type coerce implicitly, so the closure does it: it must return the
    /// value it was given, viewed as `U`.
    ///
    /// The object is unchanged (it keeps its type's drop glue and finalizer); the root moves to
    /// the new handle.
    ///
    /// # Panics
    /// If `f` returns a reference to anything but the start of the same value with the same
    /// alignment.
    ///
    /// # Example
    /// ```
    /// use std::fmt::Debug;
    /// use tricolor_gc::Gc;
    /// let n: Gc<Vec<u8>> = Gc::new(vec![1, 2]);
    /// let d: Gc<dyn Debug + Send + Sync> = Gc::unsize(n, |v| v as _);
    /// assert_eq!(format!("{d:?}"), "[1, 2]");
    ///
    /// let a: Gc<[u32; 3]> = Gc::new([1, 2, 3]);
    /// let s: Gc<[u32]> = Gc::unsize(a, |a| a as &[u32]);
    /// assert_eq!(s.len(), 3);
    /// ```
    pub fn unsize<U, F>(this: Gc<T>, f: F) -> Gc<U>
    where
        U: ?Sized + 'static,
        F: for<'a> FnOnce(&'a T) -> &'a U,
    {
        let before: &T = &this;
        let after: &U = f(before);
        assert!(
            std::ptr::addr_eq(before, after)
                && std::mem::align_of_val(before) == std::mem::align_of_val(after),
            "Gc::unsize: the closure must return the value it was given, coerced"
        );
        debug_assert_eq!(
            after as *const U as *const u8 as usize,
            Gc::box_ptr(&this).as_ptr() as *const u8 as usize
        );
        let meta: *const U = after;
        let root = Gc::into_root(this);
        // The new handle's pointer takes the object's address from the heap, as every object
        // pointer does (`place`), and only its metadata from `after`: a pointer derived from
        // `after`, a shared reference to the value alone, would carry that reference's
        // permissions only (Miri's Tree Borrows rejected that when the header was written
        // through it).
        let obj = place(meta, root as usize);
        // SAFETY: `obj` is the live object (`root`, its value's address, where `after` is) with
        // `U`'s metadata, and `into_root` handed over one root for it.
        unsafe { Gc::from_root(NonNull::new_unchecked(obj)) }
    }
}
