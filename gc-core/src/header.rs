//! The object header, one word: the type's static vtable (compressed), the "weak references
//! cleared" bit, and the atomic root count.
//!
//! Mark and allocation bits live in the span's bitmaps, not here, so that sweeping a span whose
//! type needs no drop glue never touches the objects' memory beyond the root-count check.

use crate::protocol::weak::CLEARED;
use crate::trace::{Trace, Tracer};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// Everything the collector needs to know about an object's type, reached from its header.
/// Each function takes the address of the header it was found in; a vtable is only ever stored
/// in the header of an object of its own type (an object whose value the sweeper dropped while
/// `Weak`s still pointed at it becomes a `()`: [`Header::become_unit`]).
///
/// Aligned to 16 so that a vtable's distance from [`ANCHOR`] is a multiple of 16 and the
/// compressed word has its low bit free for [`CLEARED`] (five function pointers are 40 bytes,
/// padded to 48: one such static per type).
#[repr(C, align(16))]
pub(crate) struct VTable {
    /// The type's name, for diagnostics.
    pub type_name: fn() -> &'static str,
    /// The type's identity, for learning which types have finalizers (module `finalizer`):
    /// names are not unique (two versions of one crate), and a vtable's address is not either
    /// (one type may have a copy per codegen unit).
    pub type_id: fn() -> std::any::TypeId,
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
    /// Runs `Finalize::finalize` on the value and says whether it was the type's own (false:
    /// the trait's default ran for this value; `trace::finalize_overrides`).
    ///
    /// Safety: the caller holds a root on the object for the call's duration.
    pub finalize: unsafe fn(*const Header) -> bool,
}

/// The first word of every object: its type, as a compressed vtable pointer with the "weak
/// references cleared" bit, and its root count.
///
/// Eight bytes, where a vtable pointer and a word-sized count took sixteen: a two-handle node
/// (binary-trees, a cons cell) fits a 24-byte slot instead of 32, as Go's 16 bytes plus its
/// 8-byte-per-object heap bitmap would. The vtable is stored as its distance from [`ANCHOR`], a
/// vtable of this crate, in units of 16 bytes (vtables are 16-aligned), shifted left by one:
/// 31 signed bits reach 16 GiB either way, and every vtable is a promoted constant in the
/// read-only data of the binary that instantiated `Gc<T>`, which is the binary that links this
/// crate in (the one exception, a `dylib` build of this crate loaded far from the code that uses
/// it, is refused with a message at the first allocation rather than misread). The count is 32
/// bits: more than `i32::MAX` roots on one object is refused, as `Arc` refuses to wrap.
///
/// The low bit of the vtable word is [`CLEARED`]: the object's weak references no longer
/// upgrade (module `weakhandle`). It shares the word so that `Weak::upgrade` decides from the
/// cache line whose root count it then raises: a `Weak` points at its object, as an
/// `std::sync::Weak` points at its `ArcInner`, and the one cache miss of a random upgrade is the
/// header's. It lives in the vtable word rather than the count so that the root-count paths
/// (every clone and drop of a handle) stay a bare `lock xadd` and compare.
#[repr(C)]
pub(crate) struct Header {
    /// `(distance to the vtable in 16-byte units) << 1 | CLEARED`. Written at allocation, and
    /// afterwards only by the collector (`CLEARED`, and the unit vtable of a dropped value) and
    /// by `Gc::new_cyclic` (its vtable, once the value is built): atomic for those writes.
    vtable: AtomicI32,
    /// How many rooted handles point at this object. Root-count transitions carry the write
    /// barrier (see `barrier`): 1→0 while marking shades the object.
    pub roots: AtomicU32,
}

// A vtable's address is a multiple of 16, so distances in units of 16 bytes are exact.
const _: () = assert!(std::mem::align_of::<VTable>() >= 16);

/// The vtable that others are stored relative to (`Header`): the unit type's, so that word 0
/// (with or without `CLEARED`) is a `()`, which has nothing to trace, drop or finalize.
static ANCHOR: VTable = VTableOf::<()>::VTABLE;

/// The vtable word of `vt` (without `CLEARED`).
#[inline(always)]
fn vtable_word(vt: &'static VTable) -> i32 {
    let anchor = (&ANCHOR as *const VTable).expose_provenance() as isize;
    let at = (vt as *const VTable).expose_provenance() as isize;
    // Exact: both are 16-aligned (asserted beside `ANCHOR`), so shifts, not divisions.
    let word = ((at - anchor) >> 4) << 1;
    if word as i32 as isize != word {
        vtable_out_of_range();
    }
    word as i32
}

impl Header {
    /// A header for a new object of the type of `vt`, with one root.
    #[inline(always)]
    pub fn new(vt: &'static VTable) -> Header {
        Header::with_roots(vt, 1)
    }

    /// A header for a new object of the type of `vt` with `roots` roots (0 for an object whose
    /// only handle goes straight into the heap: `malloc::alloc_in`).
    #[inline(always)]
    pub fn with_roots(vt: &'static VTable, roots: u32) -> Header {
        Header {
            vtable: AtomicI32::new(vtable_word(vt)),
            roots: AtomicU32::new(roots),
        }
    }

    /// The header of an object `Gc::new_cyclic` has allocated and not built yet: a `()` whose
    /// weak references are cleared, with the one root of the builder, which holds it until the
    /// value is in place and [`Header::publish_built`] gives it its type.
    pub fn unbuilt() -> Header {
        // Word 0 is `ANCHOR`: expose its address as `vtable_word` would, for `vtable()` to take
        // back (the program's first object may be this one).
        let _ = (&ANCHOR as *const VTable).expose_provenance();
        Header {
            vtable: AtomicI32::new(CLEARED),
            roots: AtomicU32::new(1),
        }
    }

    /// The header of an object that is not in the heap: the target of every `Weak::new()`,
    /// which the collector never scans or frees (nothing looks it up in a span). Its weak
    /// references are cleared from the start; one root, held by the static itself, so the count
    /// never falls to zero.
    pub const fn outside_heap() -> Header {
        Header {
            vtable: AtomicI32::new(CLEARED),
            roots: AtomicU32::new(1),
        }
    }

    /// The object's vtable. Acquire: the vtable of an object `Gc::new_cyclic` has just built
    /// was published after its value (`publish_built`), and a marker that reads it must see
    /// the value (a plain load on x86 and a `ldar` on ARM, as a Relaxed load is not).
    #[inline(always)]
    pub fn vtable(&self) -> &'static VTable {
        let anchor = (&ANCHOR as *const VTable).addr() as isize;
        let word = self.vtable.load(Ordering::Acquire) & !CLEARED;
        let at = anchor + word as isize * 8;
        // SAFETY: the word was made by `vtable_word` from a `&'static VTable` whose address was
        // exposed there, or is 0 (`ANCHOR`, exposed by every `vtable_word` and by `unbuilt`,
        // one of which made every header that reads 0: `become_unit` follows a `Header::new`,
        // and the outside-the-heap header's vtable is never read); and it is only ever replaced
        // by another such.
        unsafe { &*std::ptr::with_exposed_provenance::<VTable>(at as usize) }
    }

    /// The word whose [`CLEARED`] bit says whether the object's weak references still upgrade
    /// (module `protocol::weak`).
    #[inline(always)]
    pub fn weak_word(&self) -> &AtomicI32 {
        &self.vtable
    }

    /// Gives a built `Gc::new_cyclic` object its type and lets its weak references upgrade.
    ///
    /// # Safety
    /// The header is an unbuilt object's ([`Header::unbuilt`]) whose value of the type of `vt`
    /// has just been written, and this is called once.
    pub unsafe fn publish_built(&self, vt: &'static VTable) {
        if !crate::protocol::weak::publish_built(&self.vtable, vtable_word(vt)) {
            crate::throw::throw("collector bug: an unbuilt object's weak references were cleared");
        }
    }

    /// Makes a dead object whose value the sweeper has just dropped a `()` (its weak references
    /// were cleared before), so that each later sweep that keeps its memory for its `Weak`s,
    /// and the one that frees it, find nothing to drop.
    ///
    /// # Safety
    /// The caller is the object's sweeper and has dropped its value.
    pub unsafe fn become_unit(&self) {
        self.vtable.store(CLEARED, Ordering::Release);
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

/// Whether a root count that was `old` before an increment is off the common path: a first
/// root (0) or too many ([`first_or_too_many`]).
#[inline(always)]
pub(crate) fn uncommon_root(old: u32) -> bool {
    old.wrapping_sub(1) >= MAX_ROOTS - 1
}

/// The uncommon root: true for a first root (`old == 0`); aborts past [`MAX_ROOTS`], as the
/// count would eventually wrap and free a live object (`Arc` refuses the same way).
#[inline(always)]
pub(crate) fn first_or_too_many(old: u32) -> bool {
    if old >= MAX_ROOTS {
        std::process::abort();
    }
    true
}

impl Header {
    /// Adds a root; true if it is the object's first (0→1), when the caller must flag the
    /// object's span for the root scan (the finalizer queue's root, `mspecial::queue_finalizer`;
    /// handles use [`Header::inc_roots_raw`] through `mheap::add_root`, which flags it).
    #[inline(always)]
    #[must_use = "a first root must flag its span (`mheap::add_root`)"]
    pub fn inc_roots(&self) -> bool {
        let old = self.inc_roots_raw();
        uncommon_root(old) && first_or_too_many(old)
    }

    /// [`Header::inc_roots`] for a caller that takes the uncommon case itself: returns the old
    /// count, which [`uncommon_root`] tells apart (one compare on the common path, as before
    /// the first-root case existed: an interpreter clones handles in its dispatch loop).
    #[inline(always)]
    #[must_use = "the old count tells a first root (`uncommon_root`)"]
    pub fn inc_roots_raw(&self) -> u32 {
        self.roots.fetch_add(1, Ordering::Relaxed)
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
unsafe fn finalize_glue<T: Trace>(h: *const Header) -> bool {
    // SAFETY: called by the finalizer thread while it holds a root on the object.
    let value = unsafe { &(*(h as *const GcBox<T>)).value };
    let at = value as *const T as *const () as usize;
    crate::trace::finalize_overrides(std::any::type_name::<T>(), at, || value.finalize())
}

pub(crate) struct VTableOf<T>(std::marker::PhantomData<T>);

impl<T: Trace + 'static> VTableOf<T> {
    pub const VTABLE: VTable = VTable {
        type_name: std::any::type_name::<T>,
        type_id: std::any::TypeId::of::<T>,
        trace: trace_glue::<T>,
        drop: drop_glue::<T>,
        finalize: finalize_glue::<T>,
    };
}

/// The vtable of `T`, promoted to a static.
#[inline(always)]
pub(crate) fn vtable_of<T: Trace + 'static>() -> &'static VTable {
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
