//! Specials (Go's `mspan.specials`, in `mheap.go`): what the collector keeps about some objects
//! besides the objects, in tables hung off their span, so that each span's sweeper deals with
//! them together with its objects (Go's `mspan.sweep` frees specials and queues finalizers)
//! and the root scan finds finalizers span by span (Go's `markrootSpans`). Nothing here is ever
//! walked as a whole, and nothing is done in the stop.
//!
//! Two kinds, each made at its span's first use:
//! - **weak counts**: `nelems` counters; counter `i` is how many `Weak`s point at object `i`.
//!   A `Weak` points at its object (module `weakhandle`), and the count keeps the object's
//!   memory from being reused while one does: `Gc::downgrade` and `Weak::clone` add one with a
//!   `fetch_add`, `Weak::drop` takes it back. No lock, no allocation per `Weak`.
//! - **finalizers**: two bitmaps, objects whose type is known to override `finalize`, and
//!   objects whose type is not known yet (module `finalizer`); set with `fetch_or` when the
//!   object is allocated.
//!
//! # Who touches them
//! - The allocating thread sets finalizer bits for the objects it allocates.
//! - `downgrade`, `Weak::clone` and `Weak::drop` change the count of an object whose memory
//!   their handle keeps (a strong handle, or the `Weak`'s own count), so the span is in use.
//! - The root scan reads finalizer bits and converts those of types learned since (marking).
//! - The span's sweeper, which owns the span: for each dead object, before anything is freed,
//!   it reads the weak count; an object with `Weak`s left has its weak references cleared
//!   (`protocol::weak::CLEARED`), its value dropped and its memory kept (marked) for another
//!   cycle; an object of a known finalizer is kept (marked), cleared and queued. Then it
//!   publishes `weak_gen` (module `protocol::weak`).
//! - `free_span` releases the tables with the span (the owner: no object is left, so no
//!   `Weak` counts on it).

use crate::alg::GcHashState;
use crate::header::header;
use crate::locks::Mutex;
use crossbeam_channel::{unbounded, Receiver, Sender};
use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::LazyLock;

/// A span's specials. See the module docs for the protocol.
pub(crate) struct Specials {
    nelems: usize,
    /// `nelems` weak counts, or null before the span's first `Weak`.
    weak: AtomicPtr<AtomicU32>,
    /// `2 * words` bitmap words: known finalizers, then unknown ones; or null before the first.
    fin: AtomicPtr<AtomicU64>,
    /// The sweep generation whose weak clearing this span has finished (`protocol::weak`).
    pub weak_gen: AtomicU32,
    /// `words` bitmap words: objects that are keys of a `GcWeakMap` (their ephemeron values are
    /// in `EPHEMERONS`); or null before the first.
    eph: AtomicPtr<AtomicU64>,
}

/// The ephemerons of the heap: for each key object (header address) whose span bit is set,
/// the (map id, value header address) pairs that the key keeps alive. The marker visits a key's
/// values when it marks the key (module `mark`); the sweeper drops the entry of a key it finds
/// dead (or keeps only for its finalizer) before the key's slot can be reused, so an address
/// here is always the live key it was filed under. Lock order: a leaf.
pub(crate) static EPHEMERONS: Mutex<Option<Ephemerons>> = Mutex::new(None);

/// Key header address → (map id, value header address) pairs.
pub(crate) type Ephemerons = HashMap<usize, Vec<(u64, usize)>, GcHashState>;

/// Set (for good) when the first `GcWeakMap` key is made: until then a marker does not look
/// at the key bitmaps at all, so a program without weak maps pays one load of a read-mostly
/// global per newly marked object. (GCBench, alternating with the build before ephemerons
/// existed: 1.03–1.23 s for both, this machine's spread that day; no difference measurable.)
/// A marker that reads it false while an `insert` sets the first bit is covered as any
/// marker that marks a key before its bit is set: `insert` shades the value while marking.
static ANY_EPHEMERON: AtomicBool = AtomicBool::new(false);

/// Ephemeron entries dropped because their key died (or was resurrected), since start.
pub(crate) static EPHEMERONS_DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Drops the ephemerons of the keys at `keys` (dead, or resurrected for a finalizer).
pub(crate) fn drop_ephemerons(keys: &[usize]) {
    if keys.is_empty() {
        return;
    }
    let mut e = EPHEMERONS.lock();
    if let Some(map) = e.as_mut() {
        for k in keys {
            if let Some(v) = map.remove(k) {
                EPHEMERONS_DROPPED.fetch_add(v.len(), Ordering::Relaxed);
            }
        }
    }
}

/// A span's finalizer bitmaps.
pub(crate) struct FinBits<'a> {
    /// Objects whose type overrides `finalize`: their referents are roots while they wait.
    pub known: &'a [AtomicU64],
    /// Objects whose type is not known yet to override it or not.
    pub unknown: &'a [AtomicU64],
}

/// Total objects whose weak references were cleared (found unreachable) since start.
pub(crate) static WEAK_CLEARED: AtomicUsize = AtomicUsize::new(0);
/// Total finalizers queued since start.
pub(crate) static QUEUED: AtomicUsize = AtomicUsize::new(0);
/// Finalizers queued and not yet run.
pub(crate) static PENDING: AtomicUsize = AtomicUsize::new(0);
/// The finalizer queue: addresses of objects whose finalizer is due, each holding a root the
/// finalizer thread (module `finalizer`) releases.
pub(crate) static FINQ: LazyLock<(Sender<usize>, Receiver<usize>)> = LazyLock::new(unbounded);

fn words(nelems: usize) -> usize {
    nelems.div_ceil(64)
}

fn weak_layout(nelems: usize) -> Layout {
    Layout::array::<AtomicU32>(nelems).expect("a span's weak counts fit in memory")
}

fn eph_layout(nelems: usize) -> Layout {
    Layout::array::<AtomicU64>(words(nelems)).expect("a span's bitmaps fit in memory")
}

fn fin_layout(nelems: usize) -> Layout {
    Layout::array::<AtomicU64>(2 * words(nelems)).expect("a span's bitmaps fit in memory")
}

/// The table at `p`, made (zeroed) if there is none yet; concurrent makers agree on one.
fn get_or_make<T>(p: &AtomicPtr<T>, layout: Layout) -> *mut T {
    let cur = p.load(Ordering::Acquire);
    if !cur.is_null() {
        return cur;
    }
    // SAFETY: the layout is non-zero (a span has at least one element).
    let new = unsafe { alloc_zeroed(layout) } as *mut T;
    if new.is_null() {
        handle_alloc_error(layout);
    }
    match p.compare_exchange(
        std::ptr::null_mut(),
        new,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => new,
        Err(winner) => {
            // SAFETY: `new` is ours: allocated above with this layout and never published.
            unsafe { dealloc(new as *mut u8, layout) };
            winner
        }
    }
}

impl Specials {
    /// No specials, swept as of generation `sweepgen` (a new span).
    pub fn new(nelems: usize, sweepgen: u32) -> Specials {
        Specials {
            nelems,
            weak: AtomicPtr::new(std::ptr::null_mut()),
            fin: AtomicPtr::new(std::ptr::null_mut()),
            weak_gen: AtomicU32::new(sweepgen),
            eph: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The ephemeron-key bitmap, if any object of the span was ever a `GcWeakMap` key.
    #[inline]
    pub fn ephemeron_bits(&self) -> Option<&[AtomicU64]> {
        let p = self.eph.load(Ordering::Acquire);
        // SAFETY: a non-null bitmap has `words` words and lives until `release`.
        (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, words(self.nelems)) })
    }

    /// Whether object `idx` is a `GcWeakMap` key (its values are in `EPHEMERONS`).
    #[inline]
    pub fn is_ephemeron_key(&self, idx: usize) -> bool {
        ANY_EPHEMERON.load(Ordering::Relaxed)
            && self.ephemeron_bits().is_some_and(|b| {
                crate::protocol::ephemeron::is_key(&b[idx / 64], (idx % 64) as u32)
            })
    }

    /// Marks object `idx` as a `GcWeakMap` key. Release: a marker that sees the bit sees the
    /// entry the caller filed before (under `EPHEMERONS`' lock).
    pub fn set_ephemeron_key(&self, idx: usize) {
        if !ANY_EPHEMERON.load(Ordering::Relaxed) {
            ANY_EPHEMERON.store(true, Ordering::Release);
        }
        get_or_make(&self.eph, eph_layout(self.nelems));
        let b = self.ephemeron_bits().expect("made above");
        crate::protocol::ephemeron::set_key(&b[idx / 64], (idx % 64) as u32);
    }

    /// Clears the key bits of `mask` in word `w`; returns those that were set.
    pub fn clear_ephemeron_keys(&self, w: usize, mask: u64) -> u64 {
        match self.ephemeron_bits() {
            Some(b) => b[w].fetch_and(!mask, Ordering::AcqRel) & mask,
            None => 0,
        }
    }

    /// The weak counts, if any object of the span was ever downgraded.
    #[inline]
    pub fn weak_counts(&self) -> Option<&[AtomicU32]> {
        let p = self.weak.load(Ordering::Acquire);
        // SAFETY: a non-null table has `nelems` zero-initialized counters and lives until
        // `release`, which only the span's last owner calls.
        (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, self.nelems) })
    }

    /// The finalizer bitmaps, if any object of the span was ever registered.
    #[inline]
    pub fn finalizer_bits(&self) -> Option<FinBits<'_>> {
        let p = self.fin.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        let n = words(self.nelems);
        // SAFETY: a non-null bitmap has `2 * n` words and lives until `release`.
        let all = unsafe { std::slice::from_raw_parts(p, 2 * n) };
        let (known, unknown) = all.split_at(n);
        Some(FinBits { known, unknown })
    }

    /// Counts one more `Weak` on object `idx`.
    ///
    /// # Safety
    /// The caller holds a strong handle to the object or a `Weak` that counts on it, so its
    /// memory stays allocated (and `idx < nelems`).
    #[inline]
    pub unsafe fn add_weak(&self, idx: usize) {
        let table = get_or_make(&self.weak, weak_layout(self.nelems));
        // SAFETY: `idx < nelems` (caller); the table lives as long as the span.
        let count = unsafe { &*table.add(idx) };
        if crate::protocol::weak::add_weak(count) >= i32::MAX as u32 {
            // The count would eventually wrap and free memory a `Weak` still points at.
            std::process::abort();
        }
    }

    /// Takes back the count of a `Weak` on object `idx` that is being dropped.
    ///
    /// # Safety
    /// The caller's `Weak` counted on the object ([`Specials::add_weak`]) and gives its count
    /// back once; it does not touch the object afterwards.
    #[inline]
    pub unsafe fn drop_weak(&self, idx: usize) {
        // The `Weak`'s count was added to this table, which lives while it is above 0.
        let counts = self
            .weak_counts()
            .expect("tricolor: a Weak's span has no weak counts");
        let old = crate::protocol::weak::drop_weak(&counts[idx]);
        assert!(old > 0, "tricolor: weak count underflow");
    }

    /// Clears the weak references of object `idx`, whose header is `h` (the collector found it
    /// unreachable, or keeps it only for its finalizer): every `Weak` to it reads cleared from
    /// now on. Counted in [`WEAK_CLEARED`] the first time, if it had `Weak`s. Before the
    /// object's mark bit is set, if it is kept (`protocol::weak`).
    pub fn clear_weak(&self, idx: usize, h: &crate::header::Header) {
        // SAFETY: the caller's object `idx` of this span is a heap object, allocated.
        if crate::protocol::weak::clear(unsafe { h.weak_word() }) && self.has_weaks(idx) {
            WEAK_CLEARED.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether a `Weak` still counts on object `idx` (the sweeper, for a dead object: if so,
    /// its memory stays).
    #[inline]
    pub fn has_weaks(&self, idx: usize) -> bool {
        self.weak_counts()
            .is_some_and(|c| !crate::protocol::weak::no_weaks(&c[idx]))
    }

    /// Records that object `idx` waits for its finalizer (`known`: its type is known to have
    /// one). Called by the allocating thread after the object is published.
    #[inline]
    pub fn add_finalizer(&self, idx: usize, known: bool) {
        get_or_make(&self.fin, fin_layout(self.nelems));
        let f = self.finalizer_bits().expect("made above");
        let words = if known { f.known } else { f.unknown };
        words[idx / 64].fetch_or(1u64 << (idx % 64), Ordering::Release);
    }

    /// Frees the tables.
    ///
    /// # Safety
    /// The caller owns the span with no object left in it, so nothing else reads the tables.
    pub unsafe fn release(&self) {
        // A count left over would be a collector bug: a `Weak` pointing at memory being
        // given back (the sweeper keeps every object that has one). One pass per freed span
        // that ever had a `Weak`: checked in release builds too.
        if self
            .weak_counts()
            .is_some_and(|c| c.iter().any(|n| n.load(Ordering::Acquire) != 0))
        {
            crate::throw::throw("collector bug: a weak reference outlived its span's objects");
        }
        let w = self.weak.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !w.is_null() {
            // SAFETY: the table came from `get_or_make` with this layout, and nothing else reads
            // it (caller: no object is left, so no `Weak` counts on one).
            unsafe { dealloc(w as *mut u8, weak_layout(self.nelems)) };
        }
        let f = self.fin.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !f.is_null() {
            // SAFETY: the bitmaps came from `get_or_make` with this layout.
            unsafe { dealloc(f as *mut u8, fin_layout(self.nelems)) };
        }
        let e = self.eph.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !e.is_null() {
            // SAFETY: the bitmap came from `get_or_make` with this layout.
            unsafe { dealloc(e as *mut u8, eph_layout(self.nelems)) };
        }
    }
}

impl Drop for Specials {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nothing else can read the tables.
        unsafe { self.release() };
    }
}

/// Queues the object at `addr` for its finalizer, with a root that keeps it (and, through the
/// next cycles' root scans, all it reaches) until the finalizer has run. Returns true if that
/// root is the object's first: the caller flags its span (`MSpan::note_rooted`).
///
/// # Safety
/// The object is allocated and stays so this cycle (marked), and it is queued once.
#[must_use = "a first root must flag its span"]
pub(crate) unsafe fn queue_finalizer(addr: usize) -> bool {
    // SAFETY: the object is allocated (caller).
    let first = unsafe { header(addr).inc_roots() };
    PENDING.fetch_add(1, Ordering::AcqRel);
    QUEUED.fetch_add(1, Ordering::Relaxed);
    let _ = FINQ.0.send(addr);
    first
}
