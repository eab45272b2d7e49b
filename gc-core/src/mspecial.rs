//! Specials (Go's `mspan.specials`, in `mheap.go`): what the collector keeps about some objects
//! besides the objects, in tables hung off their span, so that each span's sweeper deals with
//! them together with its objects (Go's `mspan.sweep` frees specials and queues finalizers)
//! and the root scan finds finalizers span by span (Go's `markrootSpans`). Nothing here is ever
//! walked as a whole, and nothing is done in the stop.
//!
//! Two kinds, each made at its span's first use:
//! - **weak handles**: `nelems` entries; entry `i` holds the [`WeakSlot`] that every `Weak` to
//!   object `i` shares (a 16-byte object of the heap, one root owned by the entry: [`SlotRef`]).
//!   `Gc::downgrade` installs it with a CAS and otherwise only adds a root: no lock, one
//!   allocation per object.
//! - **finalizers**: two bitmaps, objects whose type is known to override `finalize`, and
//!   objects whose type is not known yet (module `finalizer`); set with `fetch_or` when the
//!   object is allocated.
//!
//! # Who touches them
//! - The allocating thread sets finalizer bits for the objects it allocates.
//! - `downgrade` reads and installs weak entries of an object it holds, so its span is in use and
//!   its entry is not cleared (only unreachable objects' entries are).
//! - The root scan reads finalizer bits and converts those of types learned since (marking).
//! - The collector clears the entry of each object it resurrects (marking, module `finalizer`).
//! - The span's sweeper, which owns the span: for each dead object, before anything is freed,
//!   it clears the weak entry, or (a known finalizer) keeps the object, clears its entry and
//!   queues it; then it publishes `weak_gen` (module `protocol::weak`).
//! - `free_span` releases the tables with the span (the owner; nothing else can be reading them:
//!   `Weak::upgrade` never reads a table, only its own slot and the span's mark bits).

use crate::header::{header, value_offset, Header};
use crate::locks::Mutex;
use crate::trace::{Finalize, Trace, Tracer};
use crossbeam_channel::{unbounded, Receiver, Sender};
use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::LazyLock;

/// One object's weak handle, shared by its `Weak`s: a 16-byte object of the collector's heap
/// (Go's weak handle is an 8-byte heap object too), reached through [`SlotRef`]s.
pub(crate) struct WeakSlot {
    /// The object's header address, or 0 once it was found unreachable. Never non-zero again.
    pub addr: AtomicUsize,
}

// SAFETY: a slot holds no handle: nothing to trace, root or unroot.
unsafe impl Trace for WeakSlot {
    fn trace(&self, _: &mut Tracer) {}
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
    fn is_noscan() -> bool {
        true
    }
}

impl Finalize for WeakSlot {
    fn has_finalizer() -> bool {
        false
    }
}

/// One root on a [`WeakSlot`], owned by a `Weak` or by the slot's span entry; the slot lives in
/// the collector's heap and is freed by a sweep once no `SlotRef` is left.
///
/// Why a slot's roots, unlike an object's, go without the write barrier (and so without an
/// operation, which the sweeper and the resurrection pass that drop entries' roots need not
/// enter): a slot is reachable only through its roots, never through an edge of the heap, and a
/// root is only ever made from another one (`Weak::clone`), or from the entry's while the
/// object is held by the caller, so its entry is not cleared (`Specials::downgrade`). Its
/// count never goes from 0 back up, so a slot whose count is 0 can never be reached again; the
/// root scan marks it exactly when its count is above 0 (`protocol::has_roots`, Acquire, pairs
/// with the Release of `protocol::weak::drop_slot_root`, so every access through the last root
/// happens before the sweep that frees the slot; loom:
/// `a_weak_slot_is_reused_only_after_its_last_holder_is_done` and its Relaxed twin). A slot whose count falls to 0 during marking dies
/// this cycle if the root scan had not read it yet, else (marked, or allocated black) the next.
///
/// Why not an `Arc` (the design before): `Arc<WeakSlot>` is 24 bytes that `malloc` rounds to a
/// 32-byte chunk and allocates under its own locks; this is 16 bytes from the thread's mcache,
/// counted by the pacer as Go counts its weak handles. First downgrades took half the time
/// (`benches/weak.rs`, 100,000 objects, alternating with the build before: 49–65 ns against
/// 112–121 ns). Random upgrades over 1,000,000 objects did not change (about 200 ns either
/// way): their cost is the third dependent miss (the `Weak`, its slot, the object's header),
/// which a smaller slot does not remove.
pub(crate) struct SlotRef(NonNull<WeakSlot>);

// SAFETY: a slot is atomics only, and its root count is atomic.
unsafe impl Send for SlotRef {}
// SAFETY: as above.
unsafe impl Sync for SlotRef {}

impl SlotRef {
    /// The slot's address, keeping the root: give it back with [`SlotRef::from_raw`].
    pub fn into_raw(self) -> *const WeakSlot {
        let p = self.0.as_ptr() as *const WeakSlot;
        std::mem::forget(self);
        p
    }

    /// Takes over the root that [`SlotRef::into_raw`] kept.
    ///
    /// # Safety
    /// `p` came from `into_raw`, from [`SlotRef::add_root`], or from `Gc::into_raw` of a new
    /// `Gc<WeakSlot>` (the handles' layer makes slots), and that root is given back once.
    pub unsafe fn from_raw(p: *const WeakSlot) -> SlotRef {
        // SAFETY: none of those returns null.
        SlotRef(unsafe { NonNull::new_unchecked(p as *mut WeakSlot) })
    }

    /// Adds a root to the slot at `p`; `from_raw` takes it over.
    ///
    /// # Safety
    /// `p` is a slot on which the caller holds a root for the duration of the call.
    pub unsafe fn add_root(p: *const WeakSlot) {
        // SAFETY: forwarded: the slot is alive.
        unsafe { slot_header(p) }.inc_roots();
    }
}

/// The header of the slot whose value is at `p`.
///
/// # Safety
/// `p` is a live slot (a root on it is held).
#[inline(always)]
unsafe fn slot_header<'a>(p: *const WeakSlot) -> &'a Header {
    // SAFETY: a slot is a `GcBox<WeakSlot>` whose value follows the one-word header
    // (`value_offset` of an 8-aligned value is 8); alive by the caller's root.
    unsafe { &*(p.byte_sub(value_offset(std::mem::align_of::<WeakSlot>())) as *const Header) }
}

impl Clone for SlotRef {
    fn clone(&self) -> SlotRef {
        // SAFETY: `self` holds a root.
        unsafe { SlotRef::add_root(self.0.as_ptr()) };
        SlotRef(self.0)
    }
}

impl Drop for SlotRef {
    fn drop(&mut self) {
        // SAFETY: `self` holds a root until this decrement.
        let old =
            crate::protocol::weak::drop_slot_root(&unsafe { slot_header(self.0.as_ptr()) }.roots);
        assert!(old > 0, "tricolor: weak slot root count underflow");
    }
}

impl std::ops::Deref for SlotRef {
    type Target = WeakSlot;
    #[inline(always)]
    fn deref(&self) -> &WeakSlot {
        // SAFETY: alive by the root `self` holds.
        unsafe { self.0.as_ref() }
    }
}

/// A span's specials. See the module docs for the protocol.
pub(crate) struct Specials {
    nelems: usize,
    /// `nelems` entries of `SlotRef::into_raw` pointers (null: none), or null before the first.
    weak: AtomicPtr<AtomicPtr<WeakSlot>>,
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
pub(crate) type Ephemerons = HashMap<usize, Vec<(u64, usize)>>;

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

/// Total weak slots cleared (their objects found unreachable) since start.
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
    Layout::array::<AtomicPtr<WeakSlot>>(nelems).expect("a span's weak table fits in memory")
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

    /// The weak entries, if any object of the span was ever downgraded.
    #[inline]
    pub fn weak_entries(&self) -> Option<&[AtomicPtr<WeakSlot>]> {
        let p = self.weak.load(Ordering::Acquire);
        // SAFETY: a non-null table has `nelems` zero-initialized (null) or published entries
        // and lives until `release`, which only the span's last owner calls.
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

    /// The weak handle of object `idx`, made by `make` on first use (a new slot reading the
    /// object's address: allocating it is the handles' layer's business).
    ///
    /// # Safety
    /// The object is alive and reachable by the caller (a handle to it is held), so its entry
    /// is not cleared during the call.
    #[inline]
    pub unsafe fn downgrade(&self, idx: usize, make: impl FnOnce() -> SlotRef) -> SlotRef {
        let table = get_or_make(&self.weak, weak_layout(self.nelems));
        // SAFETY: `idx < nelems` for an object of this span; the table lives as long as the span.
        let entry = unsafe { &*table.add(idx) };
        let mut p = entry.load(Ordering::Acquire);
        if p.is_null() {
            let new = make().into_raw();
            match entry.compare_exchange(
                std::ptr::null_mut(),
                new as *mut WeakSlot,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => p = new as *mut WeakSlot,
                Err(winner) => {
                    // SAFETY: `new` came from `into_raw` above and was never published.
                    drop(unsafe { SlotRef::from_raw(new) });
                    p = winner;
                }
            }
        }
        // SAFETY: `p` came from `into_raw`, and the entry's root is held until the entry is
        // cleared, which happens only to objects found unreachable: not this one (caller), so
        // the slot is alive while we add ours.
        unsafe {
            SlotRef::add_root(p);
            SlotRef::from_raw(p)
        }
    }

    /// Installs `slot` as the weak handle of the new object `idx`, which has none.
    pub fn adopt(&self, idx: usize, slot: SlotRef) {
        let table = get_or_make(&self.weak, weak_layout(self.nelems));
        // SAFETY: `idx < nelems` for an object of this span; the table lives as long as the span.
        let entry = unsafe { &*table.add(idx) };
        let new = slot.into_raw() as *mut WeakSlot;
        if entry
            .compare_exchange(
                std::ptr::null_mut(),
                new,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // A new object's entry was cleared by the sweep that freed its slot's last object.
            crate::throw::throw("a new object already had a weak handle");
        }
    }

    /// Clears the weak handle of object `idx` (it was found unreachable): every `Weak` to it
    /// reads 0 from now on. True if it had one.
    pub fn clear_weak(&self, idx: usize) -> bool {
        let Some(t) = self.weak_entries() else {
            return false;
        };
        let p = t[idx].swap(std::ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            return false;
        }
        // SAFETY: a non-null entry is a `SlotRef::into_raw` pointer whose root the entry owned;
        // the swap moved that ownership here.
        let slot = unsafe { SlotRef::from_raw(p) };
        slot.addr.store(0, Ordering::Release);
        WEAK_CLEARED.fetch_add(1, Ordering::Relaxed);
        true
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
        if self.weak_entries().is_some() {
            // Every entry was cleared when its object was found dead; one left over would be a
            // collector bug, and its `Weak`s must still read "gone" rather than leak a count.
            for i in 0..self.nelems {
                let left = self.clear_weak(i);
                debug_assert!(!left, "a weak handle outlived its span's objects");
            }
        }
        let w = self.weak.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !w.is_null() {
            // SAFETY: the table came from `get_or_make` with this layout, its entries are all
            // null (above), and nothing else reads it (caller).
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
/// next cycles' root scans, all it reaches) until the finalizer has run.
///
/// # Safety
/// The object is allocated and stays so this cycle (marked), and it is queued once.
pub(crate) unsafe fn queue_finalizer(addr: usize) {
    // SAFETY: the object is allocated (caller).
    unsafe { header(addr) }.inc_roots();
    PENDING.fetch_add(1, Ordering::AcqRel);
    QUEUED.fetch_add(1, Ordering::Relaxed);
    let _ = FINQ.0.send(addr);
}
