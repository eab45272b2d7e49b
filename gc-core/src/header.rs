//! An object's layout and its header word.
//!
//! # Layout
//! A handle (`Gc<T>`, one word) points at the object's **value**, whatever the layout, so that
//! a dereference is the pointer itself. The runtime names an object by that address too (a
//! zero-sized [`Header`]). What the collector keeps about the object lives elsewhere:
//!
//! | what | where | why there |
//! |---|---|---|
//! | type (compressed vtable) | the [`HeaderWord`], the 8 bytes before the value, if the object has one | read by the marker and the sweeper, once per object per cycle |
//! | root count, weak references cleared | a side byte per 16-byte granule, keyed by the value's address (`mbitmap`) | changed by every clone and drop of a rooted handle; the root scan reads 64 objects' counts per cache line |
//! | mark and allocation bits | the span's bitmaps (`mspan`) | as in Go: sweeping a span whose type has no drop glue never touches its objects |
//! | layout: header or not, value offset, pointer map | the span's class (`SpanClass`, `MSpan::value_off`, `MSpan::set_ptr_map`) | one class per layout, so a slot's address alone says where its value is |
//!
//! Three layouts, by span class:
//! - **with a header, 8-aligned value**: `[HeaderWord][value]`, the value at +8 in its slot;
//! - **with a header, 16-aligned value**: `[8 bytes unused][HeaderWord][value]`, the value at
//!   +16 (types aligned above 16 take the large-object path, whose span keeps its own offset);
//! - **without a header** ("bare"): `[value]`, for small types (512 bytes or less, 8-aligned)
//!   whose `Trace::ptr_map` describes every handle in them, with no drop glue to run at sweep
//!   and no finalizer. The marker traces them by the span's pointer bitmap, as Go's heap
//!   bitmap does, and they need no type at all.
//!
//! A value's address lies inside its own slot, even for an empty value: an object with a
//! header has at least one byte of value after it ([`headered_size`]), and a bare one starts
//! its slot.
//!
//! A binary-trees node (two `Option<Gc<Node>>`) is a bare 16-byte object where it took 24
//! bytes with a one-word header, and Go's takes 16; with a header an object costs 8 bytes more
//! than its value, 16 for a 16-aligned one (Go: none, its type lives in the span or the heap
//! bitmap).
//!
//! # Why not a header with the count in it
//! Measured on branches before this layout (DESIGN-NOTES.md, "Objects without a header" and
//! "Handles that point at the value"): a tag bit in the handle saying "no header" cost the Lox
//! VM 13–22% (a test on every dereference); a handle pointing at the header, as before, would
//! need the object's layout to find its value once objects have several layouts. Pointing at
//! the value and moving the count to a side byte costs the count path a few instructions (an
//! address computed from the chunk's base, a compare-and-swap loop that keeps the spill
//! sentinel, and a cache line apart from the value): the Lox VM, whose every object has a
//! header, ran 7–17% slower against the same VM on `Rc` than before. binary-trees 18's peak
//! RSS fell from 86 to 57 MiB (Go: 40). DESIGN-NOTES ("Landed") says how the count byte of an
//! object with a header could move back beside its value.

use crate::mbitmap;
#[cfg(doc)]
use crate::protocol::weak::CLEARED;
use crate::trace::{Trace, Tracer};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU8, Ordering};

/// Everything the collector needs to know about an object's type, reached from its header.
/// Each function takes the address of the header it was found in; a vtable is only ever stored
/// in the header of an object of its own type (an object whose value the sweeper dropped while
/// `Weak`s still pointed at it becomes a `()`: [`Header::become_unit`]).
///
/// Aligned to 16 so that a vtable's distance from [`ANCHOR`] is a multiple of 16, which lets
/// 32 bits of [`HeaderWord`] reach 32 GiB either way (five function pointers are 40 bytes,
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

/// An object, as the runtime names it: a `&Header` points at the object's value, which is where
/// its handles point (so that a dereference is the pointer itself, whatever the layout). The
/// object's header word ([`HeaderWord`]), if it has one, is the 8 bytes before; its root count
/// and weak-cleared bit are its side byte (module `mbitmap`), keyed by this address; its layout
/// (with or without a header, and where the value starts in the slot) is its span's
/// (`SpanClass`, `MSpan::value_off`). Zero-sized: a reference to it claims no bytes of the
/// value, which other threads may be writing (a `GcSlot`'s swap).
#[repr(C)]
pub(crate) struct Header {
    _object: [u8; 0],
}

/// The word before the value of an object with a header: its type, as a compressed vtable
/// pointer.
///
/// The vtable is stored as its distance from [`ANCHOR`], a vtable of this crate, in units of 16
/// bytes (vtables are 16-aligned): 32 signed bits reach 32 GiB either way, and every vtable is a
/// promoted constant in the read-only data of the binary that instantiated `Gc<T>`, which is
/// the binary that links this crate in (the one exception, a `dylib` build of this crate loaded
/// far from the code that uses it, is refused with a message at the first allocation rather
/// than misread).
#[repr(C)]
pub(crate) struct HeaderWord {
    /// The distance to the vtable in 16-byte units. Written at allocation, and afterwards only
    /// by the sweeper (the unit vtable of a dropped value) and by `Gc::new_cyclic` (its vtable,
    /// once the value is built): atomic for those writes.
    vtable: AtomicI32,
    _spare: AtomicU32,
}

// A vtable's address is a multiple of 16, so distances in units of 16 bytes are exact.
const _: () = assert!(std::mem::align_of::<VTable>() >= 16);

/// The vtable that others are stored relative to (`Header`): the unit type's, so that word 0
/// is a `()`, which has nothing to trace, drop or finalize.
static ANCHOR: VTable = VTableOf::<()>::VTABLE;

/// The vtable word of `vt`.
#[inline(always)]
fn vtable_word(vt: &'static VTable) -> i32 {
    let anchor = (&ANCHOR as *const VTable).expose_provenance() as isize;
    let at = (vt as *const VTable).expose_provenance() as isize;
    // Exact: both are 16-aligned (asserted beside `ANCHOR`), so a shift, not a division.
    let word = (at - anchor) >> 4;
    if word as i32 as isize != word {
        vtable_out_of_range();
    }
    word as i32
}

impl HeaderWord {
    /// The header word of a new object of the type of `vt` (its side byte is written apart:
    /// `mbitmap::init`).
    #[inline(always)]
    pub fn of(vt: &'static VTable) -> HeaderWord {
        HeaderWord {
            vtable: AtomicI32::new(vtable_word(vt)),
            _spare: AtomicU32::new(0),
        }
    }

    /// The header word of an object `Gc::new_cyclic` has allocated and not built yet: a `()`
    /// (its side byte says one root, the builder's, and weak references cleared, until
    /// [`Header::publish_built`] gives it its type).
    pub fn unbuilt() -> HeaderWord {
        // Word 0 is `ANCHOR`: expose its address as `vtable_word` would, for `vtable()` to take
        // back (the program's first object may be this one).
        let _ = (&ANCHOR as *const VTable).expose_provenance();
        HeaderWord {
            vtable: AtomicI32::new(0),
            _spare: AtomicU32::new(0),
        }
    }
}

impl Header {
    /// The target of every `Weak::new()`, which is not in the heap: it has no header word and
    /// no side byte, and nothing but its address is ever used (`Weak` checks for it first).
    pub const fn outside_heap() -> Header {
        Header { _object: [] }
    }

    /// The object's header word.
    ///
    /// # Safety
    /// The object has a header (its span's class is not `bare`) and is allocated while the
    /// reference is used.
    #[inline(always)]
    unsafe fn word(&self) -> &HeaderWord {
        // SAFETY: forwarded: the word lies just before the value, in the same slot, and the
        // chunk's provenance was exposed when the chunk was made.
        unsafe { &*std::ptr::with_exposed_provenance::<HeaderWord>(self.addr() - HEADER_SIZE) }
    }

    /// The object's vtable. Acquire: the vtable of an object `Gc::new_cyclic` has just built
    /// was published after its value (`publish_built`), and a marker that reads it must see
    /// the value (a plain load on x86 and a `ldar` on ARM, as a Relaxed load is not).
    ///
    /// # Safety
    /// As [`Header::word`].
    #[inline(always)]
    pub unsafe fn vtable(&self) -> &'static VTable {
        let anchor = (&ANCHOR as *const VTable).addr() as isize;
        // SAFETY: forwarded.
        let word = unsafe { self.word() }.vtable.load(Ordering::Acquire);
        let at = anchor + word as isize * 16;
        // SAFETY: the word was made by `vtable_word` from a `&'static VTable` whose address was
        // exposed there, or is 0 (`ANCHOR`, exposed by every `vtable_word` and by `unbuilt`,
        // one of which made every header that reads 0: `become_unit` follows a `HeaderWord::of`,
        // and the outside-the-heap header's vtable is never read); and it is only ever replaced
        // by another such.
        unsafe { &*std::ptr::with_exposed_provenance::<VTable>(at as usize) }
    }

    /// The object's address.
    #[inline(always)]
    fn addr(&self) -> usize {
        self as *const Header as usize
    }

    /// The object's side byte, whose [`CLEARED`] bit says whether its weak references still
    /// upgrade (module `protocol::weak`).
    ///
    /// # Safety
    /// The header is a heap object's (not the outside-the-heap one), allocated while the
    /// reference is used.
    #[inline(always)]
    pub unsafe fn weak_word(&self) -> &AtomicU8 {
        // SAFETY: forwarded.
        unsafe { mbitmap::side(self.addr()) }
    }

    /// Gives a built `Gc::new_cyclic` object its type and lets its weak references upgrade.
    ///
    /// # Safety
    /// The header is an unbuilt object's ([`HeaderWord::unbuilt`]) whose value of the type of `vt`
    /// has just been written, and this is called once.
    pub unsafe fn publish_built(&self, vt: &'static VTable) {
        // The type first, Release: a marker that reads it (Acquire) sees the value.
        // SAFETY: an unbuilt object has a header (caller).
        unsafe { self.word() }
            .vtable
            .store(vtable_word(vt), Ordering::Release);
        // SAFETY: a heap object's header (caller).
        if !crate::protocol::weak::publish_built(unsafe { self.weak_word() }) {
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
        // SAFETY: an object whose value the sweeper dropped had drop glue, so a header.
        unsafe { self.word() }.vtable.store(0, Ordering::Release);
    }
}

#[cold]
#[inline(never)]
fn vtable_out_of_range() -> ! {
    crate::throw::throw(
        "a type's vtable lies more than 32 GiB from tricolor's own code (tricolor built as a \
         separate dylib?): link tricolor into the same binary as the code that allocates",
    )
}

/// The object address in a handle's word (without the handle's unrooted bit, bit 0: values
/// are at least 8-aligned in their slots, which start on 8-byte boundaries).
#[inline(always)]
pub(crate) const fn untagged(word: usize) -> usize {
    word & !1
}

/// Whether a root count that was `old` before an increment is off the common path: a first
/// root, which must flag the object's span (counts too high abort in `mbitmap`).
#[inline(always)]
pub(crate) fn uncommon_root(old: u64) -> bool {
    old == 0
}

impl Header {
    /// Adds a root; true if it is the object's first (0→1), when the caller must flag the
    /// object's span for the root scan (the finalizer queue's root, `mspecial::queue_finalizer`;
    /// handles use [`Header::inc_roots_raw`] through `mheap::add_root`, which flags it).
    ///
    /// # Safety
    /// As `mbitmap::add_root`: a heap object's header, kept allocated by the caller.
    #[inline(always)]
    #[must_use = "a first root must flag its span (`mheap::add_root`)"]
    pub unsafe fn inc_roots(&self) -> bool {
        // SAFETY: forwarded.
        uncommon_root(unsafe { self.inc_roots_raw() })
    }

    /// [`Header::inc_roots`] for a caller that takes the uncommon case itself: returns the old
    /// count, which [`uncommon_root`] tells apart (one compare on the common path: an
    /// interpreter clones handles in its dispatch loop).
    ///
    /// # Safety
    /// As [`Header::inc_roots`].
    #[inline(always)]
    #[must_use = "the old count tells a first root (`uncommon_root`)"]
    pub unsafe fn inc_roots_raw(&self) -> u64 {
        // SAFETY: forwarded.
        unsafe { mbitmap::add_root(self.addr()) }
    }

    /// Removes a root unless it is the last: true if done (`protocol::count`).
    ///
    /// # Safety
    /// As [`Header::inc_roots`]; the root removed is the caller's.
    #[inline(always)]
    pub unsafe fn release_if_not_last(&self) -> bool {
        // SAFETY: forwarded.
        unsafe { mbitmap::release_if_not_last(self.addr()) }
    }

    /// Removes a root inside an operation: true if it was the last.
    ///
    /// # Safety
    /// As [`Header::release_if_not_last`].
    #[inline(always)]
    pub unsafe fn release_last(&self) -> bool {
        // SAFETY: forwarded.
        unsafe { mbitmap::release_last(self.addr()) }
    }

    /// Whether the object has roots (the root scan's question).
    ///
    /// # Safety
    /// As [`Header::weak_word`].
    #[inline(always)]
    pub unsafe fn has_roots(&self) -> bool {
        // SAFETY: forwarded.
        unsafe { mbitmap::has_roots(self.addr()) }
    }

    /// The object's root count.
    ///
    /// # Safety
    /// As [`Header::weak_word`].
    pub unsafe fn root_count(&self) -> u64 {
        // SAFETY: forwarded.
        unsafe { mbitmap::root_count(self.addr()) }
    }

    /// The type's name, for diagnostics.
    ///
    /// # Safety
    /// As [`Header::word`].
    pub unsafe fn type_name(&self) -> &'static str {
        // SAFETY: forwarded.
        (unsafe { self.vtable() }.type_name)()
    }
}

/// `VTable::trace` for a sized `T`.
///
/// # Safety
/// As `VTable::trace`: `h` is a live object of type `T` (its value's address).
unsafe fn trace_glue<T: Trace>(h: *const Header, t: &mut Tracer) {
    // SAFETY: the vtable of `T` is only ever in the header of a `T`; the caller (marker) reads
    // it while the object cannot be freed (marking is on).
    unsafe { (*(h as *const T)).trace(t) }
}

/// `VTable::drop` for a sized `T`.
///
/// # Safety
/// As `VTable::drop`: `h` is a dead object of type `T`, dropped exactly once.
unsafe fn drop_glue<T: Trace>(h: *mut Header) {
    // SAFETY: called once, by the sweeper, on a dead `T` that nothing can reach again.
    unsafe { std::ptr::drop_in_place(h as *mut T) }
}

/// `VTable::finalize` for a sized `T`.
///
/// # Safety
/// As `VTable::finalize`: `h` is an object of type `T` the caller holds a root on.
unsafe fn finalize_glue<T: Trace>(h: *const Header) -> bool {
    // SAFETY: called by the finalizer thread while it holds a root on the object.
    let value = unsafe { &*(h as *const T) };
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

/// The object at `addr` (its value's address), as the runtime names it.
///
/// # Safety
/// `addr` must be an allocated object whose slot is not being freed, for as long as the
/// returned reference is used (the caller picks the lifetime).
#[inline(always)]
pub(crate) unsafe fn header<'a>(addr: usize) -> &'a Header {
    // SAFETY: forwarded to the caller.
    unsafe { &*(addr as *const Header) }
}

/// The header word's size.
pub(crate) const HEADER_SIZE: usize = std::mem::size_of::<HeaderWord>();
const _: () = assert!(HEADER_SIZE == 8);

/// Where the value of an object with a header starts in its slot, for a value of alignment
/// `align`: after the header word, which ends where the value starts.
pub(crate) const fn value_offset(align: usize) -> usize {
    if align > HEADER_SIZE {
        align
    } else {
        HEADER_SIZE
    }
}

/// The bytes a slot needs for a value of `size` bytes after its header: at least one byte of
/// value, so that the value's address, which names the object, lies inside its slot. An empty
/// value at the slot's end would be named by the next slot's (or the next page's) first
/// granule, and share that object's side byte and span (review finding, 2026-12-07: a
/// 16-aligned zero-sized type filled 16-byte slots exactly).
pub(crate) const fn headered_size(size: usize, align: usize) -> usize {
    let size = if size == 0 { 1 } else { size };
    value_offset(align).saturating_add(size)
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
