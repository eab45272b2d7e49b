//! `mspan`: a run of pages holding objects of one span class, with its allocation and mark
//! bitmaps (Go's `mspan`, `allocBits`, `gcmarkBits`, `allocCache`).
//!
//! Ownership of the mutable allocation state (`SpanAlloc`) is exclusive and moves, never shared:
//! - the mcache that caches the span, inside an operation of its thread (module `barrier`);
//! - the collector during mark termination, when no operation runs (it flushes the mcaches);
//! - whoever holds the span in an mcentral list under that list's lock;
//! - the sweeper that won the `sweepgen` CAS (`h-2 → h-1`) until it publishes `h`.
//!
//! Other threads only read the atomics: `freeindex` and `alloc_bits` tell the root scan which
//! slots hold objects; `mark_bits` are set by markers with `fetch_or`.

use crate::header::header;
use crate::mspecial::{queue_finalizer, Specials};
use crate::protocol::weak::{publish_swept, reset_mark_word};
use crate::sizeclasses::{div_magic, CLASS_PAGES, CLASS_SIZE, PAGE_SIZE};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Span class: size class × 4 + noscan × 2 + nodrop. Go has scan/noscan; the nodrop bit is
/// tricolor's: spans of types without sweep-time drop glue are swept by bitmaps alone, and may be
/// swept lazily by an allocating thread because sweeping them runs no user code.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct SpanClass(pub u16);

/// Span classes in use: per size class, four with a header before an 8-aligned value, four
/// before a 16-aligned one, two without a header (they have no drop glue). Indexes of the
/// mcaches' and mcentrals' arrays ([`SpanClass::index`]): an mcache is two words per class,
/// and every thread has one.
pub(crate) const NUM_SPAN_CLASSES: usize = crate::sizeclasses::NUM_SIZE_CLASSES * 10;
/// A class's place among its size class's ten, by its low four bits (255: unused).
const DENSE: [u8; 16] = [0, 1, 2, 3, 255, 8, 255, 9, 4, 5, 6, 7, 255, 255, 255, 255];

/// Bit of a span class: objects without a header.
const BARE: u16 = 4;
/// Bit of a span class: objects with a header whose values are 16-aligned (the value at 16 bytes
/// into the slot, the header word just before it); without it, at 8.
const ALIGN16: u16 = 8;

impl SpanClass {
    /// The class of objects with a header whose values are at most 8-aligned.
    #[inline(always)]
    pub const fn new(sizeclass: usize, noscan: bool, nodrop: bool) -> Self {
        SpanClass((sizeclass * 16 + (noscan as usize) * 2 + nodrop as usize) as u16)
    }
    /// The class of objects with a header whose values have alignment `align` (at most 16 for
    /// a small class).
    #[inline(always)]
    pub const fn headered(sizeclass: usize, noscan: bool, nodrop: bool, align: usize) -> Self {
        let c = SpanClass::new(sizeclass, noscan, nodrop);
        if align > 8 {
            SpanClass(c.0 | ALIGN16)
        } else {
            c
        }
    }
    /// The class of objects without a header (module `malloc`): no drop glue, and for a
    /// scanned one a pointer map in the span's [`MSpan::ptr_bits`].
    #[inline(always)]
    pub const fn bare(sizeclass: usize, noscan: bool) -> Self {
        SpanClass((sizeclass * 16) as u16 | BARE | ((noscan as u16) * 2) | 1)
    }
    #[inline(always)]
    pub const fn sizeclass(self) -> usize {
        self.0 as usize / 16
    }
    /// The class's index in the mcaches' and mcentrals' arrays.
    #[inline(always)]
    pub const fn index(self) -> usize {
        self.sizeclass() * 10 + DENSE[self.0 as usize & 15] as usize
    }
    /// The class of array index `i` ([`SpanClass::index`]).
    pub const fn from_index(i: usize) -> SpanClass {
        let mut low = 0;
        while DENSE[low] as usize != i % 10 {
            low += 1;
        }
        SpanClass(((i / 10) * 16 + low) as u16)
    }
    /// Where a small object's value starts in its slot (module `header`).
    #[inline(always)]
    pub const fn value_off(self) -> usize {
        if self.0 & BARE != 0 {
            0
        } else if self.0 & ALIGN16 != 0 {
            16
        } else {
            8
        }
    }
    /// Objects of this class have no header.
    #[inline(always)]
    pub const fn is_bare(self) -> bool {
        self.0 & BARE != 0
    }
    #[inline(always)]
    pub const fn noscan(self) -> bool {
        self.0 & 2 != 0
    }
    #[inline(always)]
    pub const fn nodrop(self) -> bool {
        self.0 & 1 != 0
    }
}

/// Allocation state owned by one party at a time (see the module docs).
pub(crate) struct SpanAlloc {
    /// Go's `allocCache`: the free slots of bitmap word `cache_word` (the complement of its
    /// `alloc_bits`, without the bits past `nelems`), each bit cleared as its slot is taken, so
    /// that `trailing_zeros` finds the next free slot.
    pub alloc_cache: u64,
    /// Bitmap word the cache was loaded from.
    pub cache_word: usize,
    /// Objects allocated (live or not yet swept) in this span.
    pub alloc_count: usize,
    /// `alloc_count` when an mcache last cached the span (module `mcache`).
    pub cached_count: usize,
}

/// The bits of bitmap word `word` that stand for slots of a span of `nelems` slots.
#[inline]
fn slots_in_word(nelems: usize, word: usize) -> u64 {
    match nelems.saturating_sub(word * 64) {
        n if n >= 64 => !0,
        n => (1u64 << n) - 1,
    }
}

pub(crate) struct MSpan {
    pub base: usize,
    pub npages: usize,
    pub class: SpanClass,
    pub elemsize: usize,
    /// Where each object's value starts in its slot: its address, by which the runtime names
    /// it (module `header`). The class's for a small span; a large object's from its alignment.
    pub value_off: usize,
    pub nelems: usize,
    divmagic: u64,
    /// Go's sweepgen protocol, relative to the heap's `h`: h-2 needs sweeping, h-1 is being
    /// swept, h is swept.
    pub sweepgen: AtomicU32,
    /// Every slot below this index is allocated. Published with Release after the new object's
    /// header is written, so a root scan that reads it with Acquire sees initialized headers.
    pub freeindex: AtomicUsize,
    /// Whether a slot may hold an object with roots: set when an mcache caches the span and gives
    /// it back, at a large object's rooted birth and at each first root in the span; cleared by
    /// the root scan, which reads the headers of flagged spans only (`protocol::roots`).
    pub maybe_rooted: AtomicBool,
    pub alloc_bits: Box<[AtomicU64]>,
    pub mark_bits: Box<[AtomicU64]>,
    /// For a span of scanned objects without a header: one bit per word of the span, set
    /// where an object keeps a handle (its type's `Trace::ptr_map`, written when the object is
    /// allocated, Go's heap bitmap). Empty for other spans.
    pub ptr_bits: Box<[AtomicU64]>,
    pub alloc: UnsafeCell<SpanAlloc>,
    /// Weak counts and finalizers of the span's objects (module `mspecial`).
    pub specials: Specials,
    /// Position in `mheap`'s list of all spans, for O(1) removal.
    pub all_index: UnsafeCell<usize>,
}

// SAFETY: shared fields are atomics or immutable; `alloc` and `all_index` follow the exclusive
// ownership protocol of the module docs (`all_index` is only touched under the mheap lock).
unsafe impl Sync for MSpan {}
// SAFETY: as above; a span moves between threads only through locks or the sweepgen CAS.
unsafe impl Send for MSpan {}

fn bitmap(nelems: usize) -> Box<[AtomicU64]> {
    (0..nelems.div_ceil(64))
        .map(|_| AtomicU64::new(0))
        .collect()
}

impl MSpan {
    /// A span for `class` over `npages` pages at `base` (large objects: class 0, one element).
    pub fn new(
        base: usize,
        npages: usize,
        class: SpanClass,
        sweepgen: u32,
        value_off: usize,
    ) -> MSpan {
        let sc = class.sizeclass();
        let (elemsize, nelems) = if sc == 0 {
            (npages * PAGE_SIZE, 1)
        } else {
            debug_assert_eq!(npages, CLASS_PAGES[sc] as usize);
            let size = CLASS_SIZE[sc] as usize;
            (size, npages * PAGE_SIZE / size)
        };
        MSpan {
            base,
            npages,
            class,
            elemsize,
            value_off,
            nelems,
            divmagic: div_magic(elemsize.max(1)),
            sweepgen: AtomicU32::new(sweepgen),
            freeindex: AtomicUsize::new(0),
            maybe_rooted: AtomicBool::new(false),
            alloc_bits: bitmap(nelems),
            mark_bits: bitmap(nelems),
            ptr_bits: if class.is_bare() && !class.noscan() {
                bitmap(npages * PAGE_SIZE / 8)
            } else {
                Box::new([])
            },
            alloc: UnsafeCell::new(SpanAlloc {
                alloc_cache: slots_in_word(nelems, 0),
                cache_word: 0,
                alloc_count: 0,
                cached_count: 0,
            }),
            specials: Specials::new(nelems, sweepgen),
            all_index: UnsafeCell::new(usize::MAX),
        }
    }

    /// Index of the object starting at `addr`.
    #[inline(always)]
    pub fn index_of(&self, addr: usize) -> usize {
        if self.nelems == 1 {
            return 0;
        }
        (((addr - self.base) as u64 * self.divmagic) >> 32) as usize
    }

    #[inline(always)]
    pub fn addr_of(&self, idx: usize) -> usize {
        self.base + idx * self.elemsize
    }

    /// The object in slot `idx`: its value's address, as the runtime names objects.
    #[inline(always)]
    pub fn obj_of(&self, idx: usize) -> usize {
        self.addr_of(idx) + self.value_off
    }

    /// The type name of the object at `addr`, for diagnostics: an object without a header has
    /// none to read.
    ///
    /// # Safety
    /// `addr` is an allocated object of this span.
    pub unsafe fn type_name_at(&self, addr: usize) -> &'static str {
        if self.class.is_bare() {
            "(an object without a header)"
        } else {
            // SAFETY: forwarded: an allocated object with a header.
            unsafe { header(addr).type_name() }
        }
    }

    /// Writes the pointer map of a new object without a header at `addr` (bit `i`: its word
    /// `i` is a handle), a slot of `words` words. Only the span's allocating owner writes,
    /// before it publishes the object; markers read a published object's bits
    /// ([`MSpan::ptr_map_at`]). The allocation path passes its size class's size, a constant
    /// there, so that the mask and the test for a map that crosses into the next bitmap word
    /// fold away (callgrind: a `Gc::new` of a binary-trees node, 146 instructions, lost 22).
    ///
    /// # Safety
    /// The span is a scanned span without headers (its `ptr_bits` has a bit for every word of
    /// its pages, `MSpan::new`), `addr` is the start of one of its slots, and `words` is its
    /// `elemsize / 8`.
    #[inline(always)]
    pub unsafe fn set_ptr_map(&self, addr: usize, map: u64, words: usize) {
        debug_assert_eq!(words, self.elemsize / 8);
        let w = (addr - self.base) / 8;
        let (i, s) = (w / 64, w % 64);
        let mask = if words >= 64 { !0 } else { (1u64 << words) - 1 };
        debug_assert!(i + usize::from(s + words > 64) < self.ptr_bits.len());
        // SAFETY: the slot's words `w..w + words` lie inside the span's pages, each of which
        // has a bit in `ptr_bits` (caller): `i`, its first word's bitmap word, is in bounds, and
        // so is `i + 1` when the slot reaches into the next bitmap word (below).
        let lo = unsafe { self.ptr_bits.get_unchecked(i) };
        lo.store(
            (lo.load(Ordering::Relaxed) & !(mask << s)) | (map << s),
            Ordering::Relaxed,
        );
        if s + words > 64 {
            // SAFETY: as above.
            let hi = unsafe { self.ptr_bits.get_unchecked(i + 1) };
            let (m, v) = (mask >> (64 - s), map >> (64 - s));
            hi.store((hi.load(Ordering::Relaxed) & !m) | v, Ordering::Relaxed);
        }
    }

    /// The pointer map of the object without a header at `addr` ([`MSpan::set_ptr_map`]).
    #[inline(always)]
    pub fn ptr_map_at(&self, addr: usize) -> u64 {
        let words = self.elemsize / 8;
        let w = (addr - self.base) / 8;
        let (i, s) = (w / 64, w % 64);
        let mask = if words >= 64 { !0 } else { (1u64 << words) - 1 };
        let mut m = self.ptr_bits[i].load(Ordering::Relaxed) >> s;
        if s + words > 64 {
            m |= self.ptr_bits[i + 1].load(Ordering::Relaxed) << (64 - s);
        }
        m & mask
    }

    /// Sets the mark bit of slot `idx`; true if it was white.
    #[inline(always)]
    pub fn try_mark(&self, idx: usize) -> bool {
        // Loads first: most shades of a hot object find it marked already, and a plain load does
        // not take the cache line exclusive.
        crate::protocol::try_mark(&self.mark_bits[idx / 64], (idx % 64) as u32)
    }

    #[inline(always)]
    pub fn is_marked(&self, idx: usize) -> bool {
        self.mark_bits[idx / 64].load(Ordering::Acquire) & (1u64 << (idx % 64)) != 0
    }

    /// Whether slot `idx` holds an object (live, or dead and not yet swept).
    #[inline(always)]
    pub fn is_allocated(&self, idx: usize, freeindex: usize) -> bool {
        idx < freeindex
            || self.alloc_bits[idx / 64].load(Ordering::Relaxed) & (1u64 << (idx % 64)) != 0
    }

    /// Takes the next free slot. Only the span's owner calls this.
    ///
    /// # Safety
    /// The caller owns the span's allocation state (module docs).
    #[inline(always)]
    pub unsafe fn next_free(&self) -> Option<usize> {
        // SAFETY: the caller owns `alloc` (module docs).
        let a = unsafe { &mut *self.alloc.get() };
        loop {
            if a.alloc_cache != 0 {
                let idx = a.cache_word * 64 + a.alloc_cache.trailing_zeros() as usize;
                // The cache holds no slot past `nelems` (`refill_cache`).
                debug_assert!(idx < self.nelems);
                a.alloc_cache &= a.alloc_cache - 1;
                a.alloc_count += 1;
                return Some(idx);
            }
            let next_word = a.cache_word + 1;
            if next_word * 64 >= self.nelems {
                return None;
            }
            self.refill_cache(a, next_word);
        }
    }

    fn refill_cache(&self, a: &mut SpanAlloc, word: usize) {
        a.alloc_cache =
            !self.alloc_bits[word].load(Ordering::Relaxed) & slots_in_word(self.nelems, word);
        a.cache_word = word;
    }

    /// Makes slot `idx` visible to the root scan as allocated. Called after the header is
    /// written; everything below `idx + 1` is allocated because slots are handed out in order.
    ///
    /// Monotonic: an allocation nested inside another (a contract-violating `Trace` impl that
    /// allocates) takes and publishes a later slot first, and the outer publish must not move
    /// `freeindex` back below it, which would hide a live object from the root scan and the
    /// sweeper. Only the span's owner writes `freeindex` while the span is cached, so a load
    /// and a conditional store suffice (no read-modify-write on the allocation path).
    #[inline(always)]
    pub fn publish(&self, idx: usize) {
        if idx + 1 > self.freeindex.load(Ordering::Relaxed) {
            self.freeindex.store(idx + 1, Ordering::Release);
        }
    }

    /// Flags the span as holding a root (`protocol::roots::note`): after a count of one of its
    /// objects went 0→1.
    #[inline(always)]
    pub fn note_rooted(&self) {
        crate::protocol::roots::note(&self.maybe_rooted);
    }

    /// Flags a large object's span after the object, born rooted, was published in it, inside
    /// an operation that read `MARK` (`marking`) or `OFF`, which needs no fence
    /// (`protocol::roots`). Small objects' births are covered by their mcache's flags
    /// ([`MSpan::note_cached`]).
    #[inline(always)]
    pub fn note_born_rooted(&self, marking: bool) {
        if marking {
            crate::protocol::roots::note(&self.maybe_rooted);
        } else {
            crate::protocol::roots::note_unfenced(&self.maybe_rooted);
        }
    }

    /// Flags a span an mcache has just cached. With [`MSpan::note_given_back`], this covers
    /// every small object born in the span while cached (`protocol::roots`, "Births in cached
    /// spans"): a birth before the take of the cycle starting is in a span flagged when it was
    /// cached (a caching contains at most one take: each cycle's mark termination gives every
    /// cached span back), and a birth after it is black and in a span flagged again when given
    /// back, at the latest at that mark termination. No fence: births in operations that read
    /// `OFF` are ordered before the take by the handshake, and those that read `MARK` are black.
    #[inline]
    pub fn note_cached(&self) {
        crate::protocol::roots::note_unfenced(&self.maybe_rooted);
    }

    /// Flags a span an mcache gives back ([`MSpan::note_cached`]). The store is unconditional:
    /// a give-back during a mark that read the flag as set from before the take, which then
    /// cleared it without seeing the births, must not skip it (loom:
    /// `span_given_back_while_the_scan_takes_its_flag`).
    #[inline]
    pub fn note_given_back(&self) {
        crate::protocol::roots::keep(&self.maybe_rooted);
    }

    /// Free slots left for the owner to allocate.
    ///
    /// # Safety
    /// The caller owns the span's allocation state.
    pub unsafe fn free_slots(&self) -> usize {
        // SAFETY: forwarded.
        self.nelems - unsafe { (*self.alloc.get()).alloc_count }
    }

    /// How many of the span's slots are allocated: below `free_below` or with their allocation
    /// bit (the root scan's measure of the work it did).
    pub fn allocated_count(&self, free_below: usize) -> usize {
        (0..self.nelems.div_ceil(64))
            .map(|w| self.word_state(w, free_below).0.count_ones() as usize)
            .sum()
    }

    /// Bitmap word `w`'s objects: (allocated, marked). Allocated means below `free_below` or
    /// with its allocation bit, within the span.
    fn word_state(&self, w: usize, free_below: usize) -> (u64, u64) {
        let lo = w * 64;
        let below = if free_below >= lo + 64 {
            !0u64
        } else if free_below > lo {
            (1u64 << (free_below - lo)) - 1
        } else {
            0
        };
        let valid = if self.nelems >= lo + 64 {
            !0u64
        } else {
            (1u64 << (self.nelems - lo)) - 1
        };
        let allocated = (self.alloc_bits[w].load(Ordering::Relaxed) | below) & valid;
        (allocated, self.mark_bits[w].load(Ordering::Acquire) & valid)
    }

    /// The first part of a sweep, before anything is freed: a dead object whose type has a
    /// finalizer is kept (marked) and queued, with its weak references cleared (Go clears weak
    /// pointers when it queues the finalizer); a dead object that `Weak`s still count on has
    /// them cleared, its value dropped, and its memory kept (marked) for them. Each object's
    /// bit is set before its mark bit, as `protocol::weak` requires.
    fn sweep_specials(&self, free_below: usize, poison: bool) {
        let fin = self.specials.finalizer_bits();
        let weak = self.specials.weak_counts().is_some();
        let eph = self.specials.ephemeron_bits().is_some();
        if fin.is_none() && !weak && !eph {
            return;
        }
        let mut queued = Vec::new();
        let mut dead_keys = Vec::new();
        for w in 0..self.mark_bits.len() {
            let (allocated, marked) = self.word_state(w, free_below);
            let mut dead = allocated & !marked;
            if dead == 0 {
                continue;
            }
            if eph {
                // A dead key's values go with it, and so do those of a key kept only for its
                // finalizer (its weak references clear too): they were not marked through it, and
                // its entry must not outlive them.
                let mut keys = self.specials.clear_ephemeron_keys(w, dead);
                while keys != 0 {
                    let idx = w * 64 + keys.trailing_zeros() as usize;
                    keys &= keys - 1;
                    dead_keys.push(self.obj_of(idx));
                }
            }
            if let Some(f) = &fin {
                // Every dead object of a type not known yet was resurrected before the cycle's
                // end (module `finalizer`); a bit left here would be a collector bug, and must
                // not outlive its object into the slot's next one.
                let unknown = f.unknown[w].load(Ordering::Relaxed) & dead;
                debug_assert_eq!(
                    unknown, 0,
                    "a dead object of an unknown type was not resurrected"
                );
                if unknown != 0 {
                    f.unknown[w].fetch_and(!unknown, Ordering::Relaxed);
                }
                let mut known = f.known[w].load(Ordering::Acquire) & dead;
                dead &= !known;
                if known != 0 {
                    f.known[w].fetch_and(!known, Ordering::Relaxed);
                }
                while known != 0 {
                    let bit = known.trailing_zeros();
                    known &= known - 1;
                    let idx = w * 64 + bit as usize;
                    // SAFETY: the object is allocated and this sweeper owns it.
                    self.specials
                        .clear_weak(idx, unsafe { header(self.obj_of(idx)) });
                    self.mark_bits[w].fetch_or(1u64 << bit, Ordering::AcqRel);
                    queued.push(self.obj_of(idx));
                }
            }
            if weak {
                while dead != 0 {
                    let bit = dead.trailing_zeros();
                    dead &= dead - 1;
                    let idx = w * 64 + bit as usize;
                    if !self.specials.has_weaks(idx) {
                        continue;
                    }
                    // SAFETY: a dead object of this span, which this sweeper owns; kept below,
                    // so this is the one drop of its value this sweep (and a `()` afterwards).
                    unsafe { self.keep_for_weaks(idx, poison) };
                    self.mark_bits[w].fetch_or(1u64 << bit, Ordering::AcqRel);
                }
            }
        }
        crate::mspecial::drop_ephemerons(&dead_keys);
        for a in queued {
            // SAFETY: the object is allocated and now marked, so this sweep keeps it; it left
            // the finalizer bitmap above, so it is queued once.
            if unsafe { queue_finalizer(a) } {
                self.note_rooted();
            }
        }
    }

    /// A dead object that `Weak`s still count on: its weak references clear, its value is
    /// dropped (the first time; it is a `()` afterwards), and its memory stays for the `Weak`s
    /// (the caller marks it), which read its header until the last of them is dropped.
    ///
    /// # Safety
    /// Object `idx` is a dead object of this span, which the caller owns for sweeping and
    /// keeps.
    unsafe fn keep_for_weaks(&self, idx: usize, poison: bool) {
        let addr = self.obj_of(idx);
        // SAFETY: a dead object's header is readable, its slot not reused (caller).
        unsafe { self.check_unrooted(addr) };
        // SAFETY: as above.
        let h = unsafe { header(addr) };
        self.specials.clear_weak(idx, h);
        if !self.class.nodrop() {
            // SAFETY: dead, unreachable by anything but `Weak`s, which read only the header
            // and no longer upgrade (cleared above); its vtable becomes `()`'s right after.
            unsafe { self.drop_value(addr) };
        }
        if poison {
            // SAFETY: the value is dropped and nothing reads it; the header stays.
            unsafe { self.poison_value(addr) };
        }
        if !self.class.is_bare() {
            // SAFETY: this sweeper dropped the value above (or its class has no drop glue),
            // and the object has a header word (its class is not one without).
            unsafe { h.become_unit() };
        }
    }

    /// Sweeps the span for sweep generation `sg`: deals with the dead objects' specials, then
    /// frees every allocated object whose mark bit is clear, after checking its root count and
    /// running its drop glue if the class needs it, then makes the mark bits the new allocation
    /// bits (Go's `allocBits = gcmarkBits`). Returns (objects freed, objects left).
    ///
    /// # Safety
    /// The caller owns the span (won the sweepgen CAS) and no marking is in progress.
    pub unsafe fn sweep(&self, sg: u32, poison: bool, check_all: bool) -> (usize, usize) {
        let free_below = self.freeindex.load(Ordering::Acquire);
        // What the drop glue frees outside the heap tells the pacer what the dead owned.
        let _drops = (!self.class.nodrop()).then(crate::mstats::SweepDrops::begin);
        self.sweep_specials(free_below, poison);
        publish_swept(&self.specials.weak_gen, sg);
        // A `nodrop` span's sweep need not touch its objects at all, and reading a dead
        // object's root count is a cache and TLB miss on memory last touched a cycle ago: every
        // one cost 10% of binary-trees, one per span 5%. So the check covers every dead object
        // where the sweep touches them anyway (drop glue, poisoning) and under GCCHECKMARK, and
        // elsewhere one dead object in the spans whose page number is a multiple of 32: a
        // canary that moves over the heap as pages are reused by other objects.
        let touch_all = poison || check_all || !self.class.nodrop();
        let mut sampled = !(self.base / crate::sizeclasses::PAGE_SIZE).is_multiple_of(32);
        let mut freed = 0;
        let mut live = 0;
        for w in 0..self.alloc_bits.len() {
            let lo = w * 64;
            let (allocated, marked) = self.word_state(w, free_below);
            let mut dead = allocated & !marked;
            live += marked.count_ones() as usize;
            freed += dead.count_ones() as usize;
            if !touch_all && !sampled && dead != 0 {
                sampled = true;
                let idx = lo + dead.trailing_zeros() as usize;
                // SAFETY: a dead object's header stays readable until its slot is reused.
                unsafe { self.check_unrooted(self.obj_of(idx)) };
                dead = 0;
            }
            while dead != 0 {
                let idx = lo + dead.trailing_zeros() as usize;
                dead &= dead - 1;
                // SAFETY: the slot holds a dead object (allocated, unmarked) that only this sweeper
                // can reach; its header was written when it was allocated.
                unsafe { self.free_object(self.obj_of(idx), poison) };
            }
            self.alloc_bits[w].store(marked, Ordering::Relaxed);
            reset_mark_word(&self.mark_bits[w]);
        }
        // SAFETY: the caller owns the span.
        let a = unsafe { &mut *self.alloc.get() };
        a.alloc_count = live;
        self.refill_cache(a, 0);
        self.freeindex.store(0, Ordering::Release);
        (freed, live)
    }

    /// Aborts if a dead object still has roots: freeing it would be a use-after-free.
    ///
    /// # Safety
    /// `addr` is a dead object's address whose slot has not been reused.
    unsafe fn check_unrooted(&self, addr: usize) {
        // SAFETY: forwarded from the caller: a heap object's slot.
        let roots = unsafe { crate::mbitmap::side(addr) }.load(Ordering::Acquire)
            & crate::protocol::count::COUNT;
        if roots != 0 {
            crate::throw::throw(&format!(
                "collector bug: sweeping an unmarked object of type {} with {} root(s) at {:#x}",
                // SAFETY: forwarded from the caller.
                unsafe { self.type_name_at(addr) },
                roots,
                addr
            ));
        }
    }

    /// Frees the dead object at `addr`: checks its roots, runs its drop glue if the class has
    /// any, poisons the slot if asked.
    ///
    /// # Safety
    /// `addr` is a dead object (allocated, unmarked) of this span, which the caller owns for
    /// sweeping; called once per dead object.
    unsafe fn free_object(&self, addr: usize, poison: bool) {
        // SAFETY: the caller passes a dead object's address.
        unsafe { self.check_unrooted(addr) };
        if !self.class.nodrop() {
            // SAFETY: the object is dead and dropped exactly once, here.
            unsafe { self.drop_value(addr) };
        }
        if poison {
            // SAFETY: the slot is free and owned by the sweeper.
            unsafe { self.poison_value(addr) };
        }
    }

    /// Runs the drop glue of the dead object at `addr`.
    ///
    /// # Safety
    /// `addr` is a dead object of this span that the caller owns for sweeping, whose value has
    /// not been dropped (or is a `()`), and nothing reads the value afterwards.
    unsafe fn drop_value(&self, addr: usize) {
        // SAFETY: forwarded from the caller.
        let h = unsafe { header(addr) };
        // SAFETY: a class with drop glue has headers (objects without one have none).
        let vt = unsafe { h.vtable() };
        let (drop, name) = (vt.drop, vt.type_name);
        // A panicking drop must not leave the span half swept: catch it, report it, go on.
        // SAFETY: the object is dead and its value dropped exactly once, here (caller).
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
            drop(addr as *mut _)
        }));
        if r.is_err() {
            crate::throw::report_once(&format!(
                "tricolor: a drop of a dead {} panicked during sweep; the panic was caught",
                name()
            ));
        }
        // A payload whose own drop panics would unwind out of the sweep half-way.
        crate::throw::forget_payload(r);
    }

    /// Fills the value part of the slot at `addr` with the poison byte (`GCPOISON=1`).
    ///
    /// # Safety
    /// The caller owns the slot for sweeping and its value is dropped; the header stays
    /// readable with a zero root count so that the root scan still skips it.
    unsafe fn poison_value(&self, addr: usize) {
        // SAFETY: forwarded from the caller: `addr` is the object's value, `value_off` bytes
        // into its slot of `elemsize` bytes; the header word before it stays.
        unsafe {
            std::ptr::write_bytes(
                addr as *mut u8,
                crate::config::POISON_BYTE,
                self.elemsize - self.value_off,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sizeclasses::CLASS_PAGES;

    /// Every class hands out exactly its slots, in order, fresh and after a sweep left a
    /// pattern of live objects (whose slots are skipped), and nothing past `nelems`.
    #[test]
    fn next_free_takes_exactly_the_free_slots() {
        for (sc, &pages) in CLASS_PAGES.iter().enumerate().skip(1) {
            let class = SpanClass::new(sc, false, false);
            let s = MSpan::new(1 << 20, pages as usize, class, 0, class.value_off());
            let mut got = Vec::new();
            // SAFETY: the test owns the span.
            while let Some(i) = unsafe { s.next_free() } {
                got.push(i);
            }
            assert_eq!(got, (0..s.nelems).collect::<Vec<_>>(), "class {sc}");
            // As a sweep leaves it: every third slot live, the cache reloaded from word 0.
            for (w, bits) in s.alloc_bits.iter().enumerate() {
                let live = (0..64)
                    .filter(|b| (w * 64 + b) % 3 == 0 && w * 64 + b < s.nelems)
                    .fold(0u64, |m, b| m | 1 << b);
                bits.store(live, Ordering::Relaxed);
            }
            // SAFETY: as above.
            let a = unsafe { &mut *s.alloc.get() };
            s.refill_cache(a, 0);
            got.clear();
            // SAFETY: as above.
            while let Some(i) = unsafe { s.next_free() } {
                got.push(i);
            }
            let free: Vec<_> = (0..s.nelems).filter(|i| i % 3 != 0).collect();
            assert_eq!(got, free, "class {sc} after a sweep");
        }
    }
}
