//! The object header, one word: the type's static vtable (compressed) and the atomic root count.
//!
//! Mark and allocation bits live in the span's bitmaps, not here, so that sweeping a span whose
//! type needs no drop glue never touches the objects' memory beyond the root-count check.

use crate::trace::{Trace, Tracer};
use std::sync::atomic::{AtomicU32, Ordering};

/// Everything the collector needs to know about an object's type, reached from its header.
/// Each function takes the address of the header it was found in; a vtable is only ever stored
/// in the header of an object of its own type.
pub(crate) struct VTable {
    /// The type's name, for diagnostics and for learning which types have finalizers.
    pub type_name: fn() -> &'static str,
    /// Reports the object's edges.
    ///
    /// Safety: the header starts a live object of this vtable's type, which cannot be freed
    /// during the call (marking is on, or the object is registered, or rooted).
    pub trace: unsafe fn(*const Header, &mut Tracer),
    /// Runs the value's drop glue in place (the slot is freed afterwards, not by this).
    ///
    /// Safety: the object is dead (unreachable, no roots), this is the one call of it, and
    /// nothing reads the value afterwards.
    pub drop: unsafe fn(*mut Header),
    /// Runs `Finalize::finalize` on the value.
    ///
    /// Safety: the caller holds a root on the object for the call's duration.
    pub finalize: unsafe fn(*const Header),
}

/// The first word of every object: its type, as a compressed vtable pointer, and its root count.
///
/// Eight bytes, where a vtable pointer and a word-sized count took sixteen: a two-handle node
/// (binary-trees, a cons cell) fits a 24-byte slot instead of 32, as Go's 16 bytes plus its
/// 8-byte-per-object heap bitmap would. The vtable is stored as its distance from [`ANCHOR`], a
/// vtable of this crate, in units of 8 bytes (a vtable is a table of function pointers, so
/// 8-aligned): 32 signed bits reach 16 GiB either way, and every vtable is a promoted constant
/// in the read-only data of the binary that instantiated `Gc<T>`, which is the binary that links
/// this crate in (the one exception, a `dylib` build of this crate loaded far from the code that
/// uses it, is refused with a message at the first allocation rather than misread). The count is
/// 32 bits: more than `i32::MAX` roots on one object is refused, as `Arc` refuses to wrap.
#[repr(C)]
pub(crate) struct Header {
    vtable: i32,
    /// How many rooted handles point at this object. Root-count transitions carry the write
    /// barrier (see `barrier`): 1→0 while marking shades the object.
    pub roots: AtomicU32,
}

// A vtable's address is a multiple of 8, so distances in units of 8 bytes are exact.
const _: () = assert!(std::mem::align_of::<VTable>() >= 8);

/// The vtable that others are stored relative to (`Header`).
static ANCHOR: VTable = VTableOf::<()>::VTABLE;

impl Header {
    /// A header for a new object of the type of `vt`, with one root.
    #[inline(always)]
    pub fn new(vt: &'static VTable) -> Header {
        let anchor = (&ANCHOR as *const VTable).expose_provenance() as isize;
        let at = (vt as *const VTable).expose_provenance() as isize;
        // Exact: both are 8-aligned (asserted beside `ANCHOR`), so a shift, not a division.
        let delta = (at - anchor) >> 3;
        if delta as i32 as isize != delta {
            vtable_out_of_range();
        }
        Header {
            vtable: delta as i32,
            roots: AtomicU32::new(1),
        }
    }

    /// The header of an object that is not in the heap: a static that handles may point at,
    /// which the collector never scans or frees (nothing looks it up in a span), and whose
    /// vtable is never read. One root, held by the static itself, so the count never falls to
    /// zero. Only for types whose handles touch nothing but the header and the value (weak
    /// slots: `Weak::new`).
    pub const fn outside_heap() -> Header {
        Header {
            vtable: 0,
            roots: AtomicU32::new(1),
        }
    }

    /// The object's vtable.
    #[inline(always)]
    pub fn vtable(&self) -> &'static VTable {
        let anchor = (&ANCHOR as *const VTable).addr() as isize;
        let at = anchor + self.vtable as isize * 8;
        // SAFETY: `vtable` was made by `Header::new` from a `&'static VTable` whose address was
        // exposed there, and it is never written afterwards.
        unsafe { &*std::ptr::with_exposed_provenance::<VTable>(at as usize) }
    }
}

#[cold]
#[inline(never)]
fn vtable_out_of_range() -> ! {
    crate::throw::throw(
        "a type's vtable lies more than 16 GiB from tricolor's own code (tricolor built as a \
         separate dylib?): link tricolor into the same binary as the code that allocates",
    )
}

/// An object as laid out in its slot.
#[repr(C)]
pub(crate) struct GcBox<T: ?Sized> {
    pub header: Header,
    pub value: T,
}

/// More rooted handles than this is a leak of `clone`s; stop before the count can wrap.
const MAX_ROOTS: u32 = i32::MAX as u32;

impl Header {
    /// Adds a root. Needs no barrier: the object is reachable by whoever holds the handle being
    /// cloned, so the snapshot argument (module `barrier`) already covers it.
    #[inline(always)]
    pub fn inc_roots(&self) {
        let old = self.roots.fetch_add(1, Ordering::Relaxed);
        if old >= MAX_ROOTS {
            // The count would eventually wrap and free a live object: refuse, as `Arc` does.
            std::process::abort();
        }
    }

    /// The type's name, for diagnostics.
    pub fn type_name(&self) -> &'static str {
        (self.vtable().type_name)()
    }
}

/// `VTable::trace` for a sized `T`.
///
/// # Safety
/// As `VTable::trace`: `h` starts a live `GcBox<T>`.
unsafe fn trace_glue<T: Trace>(h: *const Header, t: &mut Tracer) {
    // SAFETY: the vtable of a `GcBox<T>` is only ever paired with a header that starts a live
    // `GcBox<T>`; the caller (marker) reads it while the object cannot be freed (marking is on).
    unsafe { (*(h as *const GcBox<T>)).value.trace(t) }
}

/// `VTable::drop` for a sized `T`.
///
/// # Safety
/// As `VTable::drop`: `h` starts a dead `GcBox<T>` dropped exactly once.
unsafe fn drop_glue<T: Trace>(h: *mut Header) {
    // SAFETY: called once, by the sweeper, on a dead `GcBox<T>` that nothing can reach again.
    unsafe { std::ptr::drop_in_place(&mut (*(h as *mut GcBox<T>)).value) }
}

/// `VTable::finalize` for a sized `T`.
///
/// # Safety
/// As `VTable::finalize`: `h` starts a `GcBox<T>` the caller holds a root on.
unsafe fn finalize_glue<T: Trace>(h: *const Header) {
    // SAFETY: called by the finalizer thread while it holds a root on the object.
    unsafe { (*(h as *const GcBox<T>)).value.finalize() }
}

pub(crate) struct VTableOf<T>(std::marker::PhantomData<T>);

impl<T: Trace> VTableOf<T> {
    pub const VTABLE: VTable = VTable {
        type_name: std::any::type_name::<T>,
        trace: trace_glue::<T>,
        drop: drop_glue::<T>,
        finalize: finalize_glue::<T>,
    };
}

/// The vtable of `T`, promoted to a static.
#[inline(always)]
pub(crate) fn vtable_of<T: Trace>() -> &'static VTable {
    &VTableOf::<T>::VTABLE
}

/// Reads the header at `addr`.
///
/// # Safety
/// `addr` must be the start of an allocated object whose slot is not being freed, for as long
/// as the returned reference is used (the caller picks the lifetime).
#[inline(always)]
pub(crate) unsafe fn header<'a>(addr: usize) -> &'a Header {
    // SAFETY: forwarded to the caller.
    unsafe { &*(addr as *const Header) }
}

/// The header is one word; objects of a class start on the class's slot boundaries.
pub(crate) const HEADER_SIZE: usize = std::mem::size_of::<Header>();
const _: () = assert!(HEADER_SIZE == 8);

/// The offset of the value in a `GcBox` whose value has alignment `align`.
pub(crate) fn value_offset(align: usize) -> usize {
    HEADER_SIZE.next_multiple_of(align)
}

/// Asks the CPU to start loading the object at `addr` into the cache.
#[inline(always)]
pub(crate) fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and has no effect on the program's
    // state, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}
