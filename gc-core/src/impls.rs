//! `Trace` and `Finalize` for the std types users put in a heap.
//!
//! Deliberately absent: `Cell`, `RefCell`, `Mutex`, `RwLock`, `OnceCell` and friends. Their
//! contents can change behind the marker's back without a barrier, so a `Gc` inside one would be
//! freed while reachable; `GcCell` and `GcSlot` are the ways to mutate. `Rc` is absent because it
//! is not `Send`. `Arc<T>` is traced but never unrooted (it cannot hand out `&mut T`): handles
//! inside an `Arc` stay roots for the `Arc`'s life, so cycles through an `Arc` are not collected.

use crate::trace::{Finalize, Trace, Tracer};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::sync::Arc;

macro_rules! leaf {
    ($($t:ty),* $(,)?) => {$(
        impl Finalize for $t {
            #[inline(always)]
            fn has_finalizer() -> bool { false }
        }
        // SAFETY: the type holds no `Gc`.
        unsafe impl Trace for $t {
            crate::unsafe_empty_trace!();
        }
    )*};
}

leaf!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    std::time::Duration,
    std::time::Instant,
    std::time::SystemTime,
    std::path::PathBuf,
    std::ffi::OsString,
    std::num::NonZeroU8,
    std::num::NonZeroU16,
    std::num::NonZeroU32,
    std::num::NonZeroU64,
    std::num::NonZeroU128,
    std::num::NonZeroUsize,
    std::num::NonZeroI8,
    std::num::NonZeroI16,
    std::num::NonZeroI32,
    std::num::NonZeroI64,
    std::num::NonZeroI128,
    std::num::NonZeroIsize,
    std::sync::atomic::AtomicBool,
    std::sync::atomic::AtomicUsize,
    std::sync::atomic::AtomicIsize,
    std::sync::atomic::AtomicU8,
    std::sync::atomic::AtomicU16,
    std::sync::atomic::AtomicU32,
    std::sync::atomic::AtomicU64,
    std::sync::atomic::AtomicI8,
    std::sync::atomic::AtomicI16,
    std::sync::atomic::AtomicI32,
    std::sync::atomic::AtomicI64,
    std::cmp::Ordering,
    std::sync::atomic::Ordering,
    std::ops::RangeFull,
    std::ffi::CString,
    std::any::TypeId,
    std::alloc::Layout,
    std::thread::ThreadId,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr,
    std::net::SocketAddr,
    std::net::SocketAddrV4,
    std::net::SocketAddrV6,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::string::FromUtf8Error,
    std::char::ParseCharError,
    std::str::Utf8Error,
    std::fmt::Error,
);

impl<T: ?Sized> Finalize for &'static T {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: a shared reference owns nothing; whatever it points at lives for `'static` anyway
// (a `Gc` in a static is a root).
unsafe impl<T: ?Sized> Trace for &'static T {
    crate::unsafe_empty_trace!();
}

impl<T> Finalize for std::hash::BuildHasherDefault<T> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: a zero-sized marker.
unsafe impl<T> Trace for std::hash::BuildHasherDefault<T> {
    crate::unsafe_empty_trace!();
}

/// Function pointers hold no data.
macro_rules! fn_ptr {
    ($($a:ident)*) => {
        impl<R $(, $a)*> Finalize for fn($($a),*) -> R {
            fn has_finalizer() -> bool { false }
        }
        // SAFETY: a code address owns nothing.
        unsafe impl<R $(, $a)*> Trace for fn($($a),*) -> R {
            crate::unsafe_empty_trace!();
        }
    };
}
fn_ptr!();
fn_ptr!(A);
fn_ptr!(A B);
fn_ptr!(A B C);
fn_ptr!(A B C D);
fn_ptr!(A B C D E);
fn_ptr!(A B C D E F);

/// Unsized leaves, for `Box<Path>`, `Gc<OsStr>` and the like.
macro_rules! unsized_leaf {
    ($($t:ty),*) => {$(
        impl Finalize for $t {}
        // SAFETY: holds no `Gc`.
        unsafe impl Trace for $t {
            fn trace(&self, _: &mut Tracer) {}
            unsafe fn root(&mut self) {}
            unsafe fn unroot(&mut self) {}
        }
    )*};
}
unsized_leaf!(std::path::Path, std::ffi::OsStr, std::ffi::CStr);

/// Structs whose fields are public: each listed field is visited.
macro_rules! fields {
    ($($c:ident { $($f:tt),+ }),* $(,)?) => {$(
        impl<T: Trace> Finalize for $c<T> {
            fn has_finalizer() -> bool { false }
        }
        // SAFETY: visits every field that can hold a value of `T`.
        unsafe impl<T: Trace> Trace for $c<T> {
            #[inline]
            fn trace(&self, t: &mut Tracer) { $(self.$f.trace(t);)+ }
            #[inline]
            unsafe fn root(&mut self) {
                // SAFETY: forwarded.
                unsafe { $(self.$f.root();)+ }
            }
            #[inline]
            unsafe fn unroot(&mut self) {
                // SAFETY: forwarded.
                unsafe { $(self.$f.unroot();)+ }
            }
            #[inline(always)]
            fn is_noscan() -> bool { T::is_noscan() }
            #[inline(always)]
            fn needs_sweep_drop() -> bool { T::needs_sweep_drop() }
        }
    )*};
}
use std::cmp::Reverse;
use std::num::{Saturating, Wrapping};
use std::ops::{Range, RangeFrom, RangeTo, RangeToInclusive};
fields!(
    Range { start, end },
    RangeFrom { start },
    RangeTo { end },
    RangeToInclusive { end },
    Wrapping { 0 },
    Saturating { 0 },
    Reverse { 0 },
);

impl<T: Trace + Copy> Finalize for std::ops::RangeInclusive<T> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: `RangeInclusive` gives no `&mut` to its bounds, so it is traced only for `Copy` bounds,
// which cannot own a handle (`Gc` is not `Copy`): `root` and `unroot` have nothing to visit.
unsafe impl<T: Trace + Copy> Trace for std::ops::RangeInclusive<T> {
    fn trace(&self, t: &mut Tracer) {
        self.start().trace(t);
        self.end().trace(t);
    }
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
    fn is_noscan() -> bool {
        T::is_noscan()
    }
}

impl<T: Trace> Finalize for std::ops::Bound<T> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: visits the bound's value, if any.
unsafe impl<T: Trace> Trace for std::ops::Bound<T> {
    fn trace(&self, t: &mut Tracer) {
        use std::ops::Bound::*;
        if let Included(x) | Excluded(x) = self {
            x.trace(t)
        }
    }
    unsafe fn root(&mut self) {
        use std::ops::Bound::*;
        if let Included(x) | Excluded(x) = self {
            // SAFETY: forwarded.
            unsafe { x.root() }
        }
    }
    unsafe fn unroot(&mut self) {
        use std::ops::Bound::*;
        if let Included(x) | Excluded(x) = self {
            // SAFETY: forwarded.
            unsafe { x.unroot() }
        }
    }
    fn is_noscan() -> bool {
        T::is_noscan()
    }
    fn needs_sweep_drop() -> bool {
        T::needs_sweep_drop()
    }
}

impl<B: ?Sized + ToOwned> Finalize for std::borrow::Cow<'_, B>
where
    B::Owned: Trace,
{
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: an owned value is visited; a borrowed one belongs to someone else, who keeps its
// handles alive for at least the borrow.
unsafe impl<B: ?Sized + ToOwned> Trace for std::borrow::Cow<'_, B>
where
    B::Owned: Trace,
{
    fn trace(&self, t: &mut Tracer) {
        if let std::borrow::Cow::Owned(x) = self {
            x.trace(t)
        }
    }
    unsafe fn root(&mut self) {
        if let std::borrow::Cow::Owned(x) = self {
            // SAFETY: forwarded.
            unsafe { x.root() }
        }
    }
    unsafe fn unroot(&mut self) {
        if let std::borrow::Cow::Owned(x) = self {
            // SAFETY: forwarded.
            unsafe { x.unroot() }
        }
    }
    fn is_noscan() -> bool {
        B::Owned::is_noscan()
    }
}

impl Finalize for str {}
// SAFETY: holds no `Gc`.
unsafe impl Trace for str {
    fn trace(&self, _: &mut Tracer) {}
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
}

impl<T: ?Sized> Finalize for std::marker::PhantomData<T> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: holds nothing.
unsafe impl<T: ?Sized> Trace for std::marker::PhantomData<T> {
    crate::unsafe_empty_trace!();
}

/// Containers with one element type, iterable by `&` and `&mut`.
macro_rules! seq {
    ($($c:ident),*) => {$(
        impl<T: Trace> Finalize for $c<T> {
            #[inline(always)]
            fn has_finalizer() -> bool { false }
        }
        // SAFETY: visits every element, which owns every handle the container holds.
        unsafe impl<T: Trace> Trace for $c<T> {
            #[inline]
            fn trace(&self, t: &mut Tracer) {
                if !T::is_noscan() {
                    for x in self.iter() { x.trace(t) }
                }
            }
            #[inline]
            unsafe fn root(&mut self) {
                if !T::is_noscan() {
                    // SAFETY: forwarded.
                    for x in self.iter_mut() { unsafe { x.root() } }
                }
            }
            #[inline]
            unsafe fn unroot(&mut self) {
                if !T::is_noscan() {
                    // SAFETY: forwarded.
                    for x in self.iter_mut() { unsafe { x.unroot() } }
                }
            }
            #[inline(always)]
            fn is_noscan() -> bool { T::is_noscan() }
        }
    )*};
}
seq!(Vec, VecDeque, LinkedList);

impl<T: Trace> Finalize for [T] {}
// SAFETY: visits every element.
unsafe impl<T: Trace> Trace for [T] {
    fn trace(&self, t: &mut Tracer) {
        if !T::is_noscan() {
            for x in self {
                x.trace(t)
            }
        }
    }
    unsafe fn root(&mut self) {
        if !T::is_noscan() {
            for x in self {
                // SAFETY: forwarded.
                unsafe { x.root() }
            }
        }
    }
    unsafe fn unroot(&mut self) {
        if !T::is_noscan() {
            for x in self {
                // SAFETY: forwarded.
                unsafe { x.unroot() }
            }
        }
    }
}

impl<T: Trace, const N: usize> Finalize for [T; N] {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: visits every element.
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    fn trace(&self, t: &mut Tracer) {
        self[..].trace(t)
    }
    unsafe fn root(&mut self) {
        // SAFETY: forwarded.
        unsafe { self[..].root() }
    }
    unsafe fn unroot(&mut self) {
        // SAFETY: forwarded.
        unsafe { self[..].unroot() }
    }
    fn is_noscan() -> bool {
        T::is_noscan()
    }
    fn needs_sweep_drop() -> bool {
        N > 0 && T::needs_sweep_drop()
    }
    /// The element's map repeated at each element's offset: an array of handles or of plain
    /// data inside a derived struct leaves it without a header (a message of eight handles
    /// took a 72-byte slot for its 64 bytes, Go's 64). `None` if the map would not fit 64
    /// words, or if an element with handles is not a whole number of words.
    #[inline]
    fn ptr_map() -> Option<u64> {
        let m = T::ptr_map()?;
        if m == 0 {
            return Some(0);
        }
        let words = size_of::<T>() / 8;
        if !size_of::<T>().is_multiple_of(8) || words.checked_mul(N).is_none_or(|w| w > 64) {
            return None;
        }
        Some((0..N).fold(0, |map, i| map | m << (i * words)))
    }
}

impl<T: Trace> Finalize for Option<T> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: visits the value if present.
unsafe impl<T: Trace> Trace for Option<T> {
    #[inline]
    fn trace(&self, t: &mut Tracer) {
        if let Some(x) = self {
            x.trace(t)
        }
    }
    #[inline]
    unsafe fn root(&mut self) {
        if let Some(x) = self {
            // SAFETY: forwarded.
            unsafe { x.root() }
        }
    }
    #[inline]
    unsafe fn unroot(&mut self) {
        if let Some(x) = self {
            // SAFETY: forwarded.
            unsafe { x.unroot() }
        }
    }
    #[inline(always)]
    fn is_noscan() -> bool {
        T::is_noscan()
    }
    #[inline(always)]
    fn needs_sweep_drop() -> bool {
        T::needs_sweep_drop()
    }
    #[inline(always)]
    fn ptr_map() -> Option<u64> {
        if T::is_atomic_handle() {
            // `Option<Gc<U>>` for a sized `U`: the handle's own word, null for `None` (`Gc`
            // is `repr(transparent)` over a `NonNull`, so the null-pointer layout is
            // guaranteed).
            Some(1)
        } else if T::ptr_map() == Some(0) {
            Some(0)
        } else {
            None
        }
    }
}

impl<T: Trace, E: Trace> Finalize for Result<T, E> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: visits whichever value is present.
unsafe impl<T: Trace, E: Trace> Trace for Result<T, E> {
    fn trace(&self, t: &mut Tracer) {
        match self {
            Ok(x) => x.trace(t),
            Err(e) => e.trace(t),
        }
    }
    unsafe fn root(&mut self) {
        match self {
            // SAFETY: forwarded.
            Ok(x) => unsafe { x.root() },
            // SAFETY: forwarded.
            Err(e) => unsafe { e.root() },
        }
    }
    unsafe fn unroot(&mut self) {
        match self {
            // SAFETY: forwarded.
            Ok(x) => unsafe { x.unroot() },
            // SAFETY: forwarded.
            Err(e) => unsafe { e.unroot() },
        }
    }
    fn is_noscan() -> bool {
        T::is_noscan() && E::is_noscan()
    }
    fn needs_sweep_drop() -> bool {
        T::needs_sweep_drop() || E::needs_sweep_drop()
    }
}

impl<T: ?Sized + Trace> Finalize for Box<T> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: the box owns its value.
unsafe impl<T: ?Sized + Trace> Trace for Box<T> {
    #[inline]
    fn trace(&self, t: &mut Tracer) {
        (**self).trace(t)
    }
    #[inline]
    unsafe fn root(&mut self) {
        // SAFETY: forwarded.
        unsafe { (**self).root() }
    }
    #[inline]
    unsafe fn unroot(&mut self) {
        // SAFETY: forwarded.
        unsafe { (**self).unroot() }
    }
}

impl<T: ?Sized + Trace> Finalize for Arc<T> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: traced for the marker's sake; root/unroot are no-ops because the contents may be shared
// with Rust code that relies on them being roots (see the module docs).
unsafe impl<T: ?Sized + Trace> Trace for Arc<T> {
    fn trace(&self, t: &mut Tracer) {
        (**self).trace(t)
    }
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
}

macro_rules! tuple {
    ($($n:tt $t:ident),+) => {
        impl<$($t: Trace),+> Finalize for ($($t,)+) {
            fn has_finalizer() -> bool { false }
        }
        // SAFETY: visits every field.
        unsafe impl<$($t: Trace),+> Trace for ($($t,)+) {
            #[inline]
            fn trace(&self, t: &mut Tracer) { $(self.$n.trace(t);)+ }
            #[inline]
            unsafe fn root(&mut self) {
                // SAFETY: forwarded from the caller, field by field.
                $(unsafe { self.$n.root() };)+
            }
            #[inline]
            unsafe fn unroot(&mut self) {
                // SAFETY: forwarded from the caller, field by field.
                $(unsafe { self.$n.unroot() };)+
            }
            #[inline(always)]
            fn is_noscan() -> bool { true $(&& $t::is_noscan())+ }
            #[inline(always)]
            fn needs_sweep_drop() -> bool { false $(|| $t::needs_sweep_drop())+ }
            /// The fields' maps at their offsets, as the derive builds a struct's.
            #[inline]
            fn ptr_map() -> Option<u64> {
                if size_of::<Self>() > 512 {
                    return None;
                }
                let map = 0u64;
                $(
                    let map = crate::__private::ptr_map_with_field(
                        map,
                        $t::ptr_map(),
                        std::mem::offset_of!(Self, $n),
                    )?;
                )+
                Some(map)
            }
            #[inline]
            unsafe fn trace_racy(this: *const Self, t: &mut Tracer) {
                // SAFETY: forwarded field by field, through raw projections: no reference to
                // the whole tuple covers a field that a writer may be replacing (a map's value).
                $(unsafe { $t::trace_racy(&raw const (*this).$n, t) };)+
            }
        }
    };
}
tuple!(0 A);
tuple!(0 A, 1 B);
tuple!(0 A, 1 B, 2 C);
tuple!(0 A, 1 B, 2 C, 3 D);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K);
tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L);

/// Maps: values are rooted and unrooted in place. Keys are not: a map gives no `&mut` to its
/// keys, and rebuilding it around re-rooted keys would run the user's `Hash`/`Eq`/`Ord` inside a
/// collector operation (module `trace`). Handles in keys stay roots while the map holds them,
/// as the contents of an `Arc` do: always safe, and a cycle through a key is not collected.
/// Sets and `BinaryHeap` hold only keys, so their `root`/`unroot` do nothing.
macro_rules! map_values {
    ($self:ident, $method:ident) => {{
        if !V::is_noscan() {
            for v in $self.values_mut() {
                // SAFETY: forwarded.
                unsafe { v.$method() }
            }
        }
    }};
}

impl<K: Trace, V: Trace, S> Finalize for HashMap<K, V, S> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: traces every key and value; keys stay roots (see `map_values!`).
unsafe impl<K: Trace, V: Trace, S> Trace for HashMap<K, V, S> {
    fn trace(&self, t: &mut Tracer) {
        if K::is_noscan() && V::is_noscan() {
            return;
        }
        for (k, v) in self {
            k.trace(t);
            v.trace(t);
        }
    }
    unsafe fn root(&mut self) {
        map_values!(self, root)
    }
    unsafe fn unroot(&mut self) {
        map_values!(self, unroot)
    }
    fn is_noscan() -> bool {
        K::is_noscan() && V::is_noscan()
    }
}

impl<K: Trace, V: Trace> Finalize for BTreeMap<K, V> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: traces every key and value; keys stay roots (see `map_values!`).
unsafe impl<K: Trace, V: Trace> Trace for BTreeMap<K, V> {
    fn trace(&self, t: &mut Tracer) {
        if K::is_noscan() && V::is_noscan() {
            return;
        }
        for (k, v) in self {
            k.trace(t);
            v.trace(t);
        }
    }
    unsafe fn root(&mut self) {
        map_values!(self, root)
    }
    unsafe fn unroot(&mut self) {
        map_values!(self, unroot)
    }
    fn is_noscan() -> bool {
        K::is_noscan() && V::is_noscan()
    }
}

impl<T: Trace, S> Finalize for HashSet<T, S> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: traces every element; elements stay roots (see `map_values!`).
unsafe impl<T: Trace, S> Trace for HashSet<T, S> {
    fn trace(&self, t: &mut Tracer) {
        if !T::is_noscan() {
            for k in self {
                k.trace(t)
            }
        }
    }
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
    fn is_noscan() -> bool {
        T::is_noscan()
    }
}

impl<T: Trace> Finalize for BTreeSet<T> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: traces every element; elements stay roots (see `map_values!`).
unsafe impl<T: Trace> Trace for BTreeSet<T> {
    fn trace(&self, t: &mut Tracer) {
        if !T::is_noscan() {
            for k in self {
                k.trace(t)
            }
        }
    }
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
    fn is_noscan() -> bool {
        T::is_noscan()
    }
}

impl<T: Trace> Finalize for BinaryHeap<T> {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: visits every element; its handles stay roots (see `map_values!`).
unsafe impl<T: Trace> Trace for BinaryHeap<T> {
    fn trace(&self, t: &mut Tracer) {
        if !T::is_noscan() {
            for k in self {
                k.trace(t)
            }
        }
    }
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
    fn is_noscan() -> bool {
        T::is_noscan()
    }
}
