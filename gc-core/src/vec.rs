//! `GcVec<T>`: a growable array inside the heap whose every store costs O(1) barrier and rooting
//! work, and the element store it shares with `GcMap`.
//!
//! A `GcCell<Vec<T>>` hands out `&mut Vec<T>`, so safe code could move any element out without
//! the collector seeing it: the cell must root every element when it is borrowed and unroot
//! every element when the borrow ends, O(len) per store. Here elements move only through
//! methods, and each method applies the hybrid barrier to the elements it moves: a stored
//! element is unrooted (a 1→0 transition shades it while marking: Dijkstra), an element handed
//! out is rooted and, while marking, shaded (Yuasa: the removed reference may be the only path
//! the marker had to it, since shared views let code clone a handle without an operation).
//!
//! # Locking
//! Two levels. A blocking reader-writer lock orders the users' threads: methods that move
//! elements take it exclusively, `get` and views take it shared. It is biased (module
//! `biaslock`): a thread that uses the container alone comes to own it and enters with plain
//! stores, so a store outside marking does no atomic read-modify-write at all when its element
//! is born unrooted (`put_new`, `push_new`). It is taken *before* the
//! method's collector operation and never inside one, and never by a marker, so a thread waiting
//! for it (or holding it in user code, with a view) delays no stop and no marker. Inside the
//! operation, the method holds the `ContainerState` word's writer bit while it moves elements
//! (except one-word handles replaced in place: below);
//! markers hold it shared while they trace a chunk. Both hold it for bounded work and wait on
//! nothing else, and in mark termination's stop no operation runs, so nobody waits long.
//!
//! A writer whose operation read `OFF` skips the state word: no marker can read the buffer
//! before the `OFF → MARK` handshake has seen that operation end, and mutators' assists wait
//! for it too (`protocol::ScanGate`, modelled in `gc-core/tests/loom.rs`). That saves two
//! read-modify-writes on every store made outside marking.
//!
//! # Handles replaced without the state word
//! A method that replaces one element of a `GcVec<Gc<_>>` (`set`, `put`, `put_new`), or one value
//! of a `GcMap<_, Gc<_>>`, never takes the state word, whatever the phase: a handle to a sized
//! object is one word, so the writer replaces it with one atomic store and markers read every
//! element through `Trace::trace_racy` (an atomic load for such a handle, raw projections
//! through tuples, never a reference over a handle that may be replaced). Go's slices and maps
//! work this way: the marker reads pointer slots while the program stores into them, and the
//! barrier makes whichever value it reads safe. Here: while marking, the replaced handle is
//! shaded (Yuasa: a `get` may have cloned it after the root scan, with no barrier, and the
//! scan may not have reached its slot) and the new one is born black or shaded when unrooted
//! (Dijkstra); outside marking no marker reads the buffer (as above), so the slot is written
//! blind. A store during marking then costs an atomic store and a shade, where it waited for
//! the marker's chunk (up to `CHUNK` elements traced) behind three read-modify-writes.
//! Methods that move elements or change the length, and elements of any other type, keep the
//! writer bit. Modelled in loom (`gc_vec_handle_replaced_without_the_state_word_loses_nothing`
//! and the twin without the old handle's shade) and run under Miri's race detector.
//!
//! Taking the lock before the operation also orders the operations on one container by lock
//! acquisition, and the phase only moves forward: an operation that read `OFF` cannot move an
//! element after one that read `MARK` has cloned it (the race `GcSlot::get` needs a shade for).
//! So `get` and views clone under the lock without any barrier.
//!
//! # The buffer and the marker
//! The elements live in a `Vec` on the system heap (not the collector's), read by markers only
//! under the state word, so a growing buffer is copied by the writer while no marker reads it:
//! no epoch and no deferred free are needed (crossbeam-epoch would be the tool if markers read
//! without the word). Its bytes are not counted by the pacer; the issue about memory adds an
//! allocator that counts them.
//!
//! A marker traces the elements `CHUNK` at a time, releasing the word between chunks, so a
//! writer waits for one chunk at most, never for a whole scan. Between chunks a writer may
//! move elements, and the scan keeps a cursor: positions below it are done. An element that
//! moves from the unscanned part to below the cursor (the one `remove` shifts left across it,
//! the one `swap` or `swap_remove` puts there) is shaded by the writer; one that moves up is
//! only scanned twice. Removed elements are shaded unless they sat below the cursor (traced
//! already). `gc-core/tests/loom.rs` models the shifting remove against a chunked scan.

use crate::biaslock::{self, BiasedRwLock};
use crate::handle::Gc;
use crate::malloc;
use crate::mheap::AllocError;
use crate::operation::{in_operation, with_op, Op};
use crate::protocol::{cursor, writer_excludes_markers, ContainerState};
use crate::trace::{Finalize, Trace, Tracer};
use std::cell::UnsafeCell;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Elements a marker traces per hold of the state word.
const CHUNK: usize = 256;

/// The element store of `GcVec` and `GcMap` (see the module docs).
pub(crate) struct Elements<E> {
    lock: BiasedRwLock,
    state: ContainerState,
    /// While a gray scan of this store is in progress: the positions below it are traced and
    /// will not be visited again. 0 otherwise. Written by the scanning marker and read by the
    /// writer, each under the state word.
    cursor: AtomicUsize,
    /// Mirror of the length, for `len` without the lock.
    len: AtomicUsize,
    /// True while the store is not inside a GC object: its elements are then ordinary roots.
    rooted: bool,
    buf: UnsafeCell<Vec<E>>,
}

// SAFETY: the buffer is written only by the holder of the exclusive lock: inside the writer
// section of the state word, or in an operation that read OFF, or, for a one-word handle,
// with one atomic store (`WriteGuard::replace_handle`); it is read under the shared lock or
// the marker section (atomically where such a store may meet it); so `E: Send + Sync`
// suffices, as for `RwLock<Vec<E>>`.
unsafe impl<E: Send + Sync> Sync for Elements<E> {}

impl<E> Elements<E> {
    pub(crate) fn from_vec(v: Vec<E>) -> Elements<E> {
        Elements {
            lock: BiasedRwLock::new(),
            state: ContainerState::new(),
            cursor: AtomicUsize::new(0),
            len: AtomicUsize::new(v.len()),
            rooted: true,
            buf: UnsafeCell::new(v),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Shared access for the users' threads (blocks while a method moves elements).
    pub(crate) fn read(&self) -> ReadGuard<'_, E> {
        not_in_an_operation();
        ReadGuard {
            _lock: self.lock.read(),
            // SAFETY: the shared lock excludes the writer, the only one that mutates.
            elements: unsafe { &*self.buf.get() },
        }
    }

    /// Exclusive access for one method (blocks while other methods or views run).
    pub(crate) fn write(&self) -> WriteGuard<'_, E> {
        not_in_an_operation();
        WriteGuard {
            _lock: self.lock.write(),
            store: self,
        }
    }

    pub(crate) fn into_vec(self) -> Vec<E> {
        self.buf.into_inner()
    }
}

/// A method called from inside an operation (a hand-written `Trace` that touches a container)
/// would take the container's lock inside the operation, where a stop could wait for it.
#[inline(always)]
fn not_in_an_operation() {
    if in_operation() {
        called_in_an_operation();
    }
}

#[cold]
#[inline(never)]
fn called_in_an_operation() -> ! {
    panic!(
        "tricolor: a GcVec/GcMap method called inside a collector operation (from a Trace \
         impl?): its lock cannot be taken there"
    );
}

impl<E: Trace> Elements<E> {
    /// `Trace::trace` of the store: chunked with the cursor for a gray scan, whole under one
    /// hold of the state word for any other tracer (a barrier's shade, the verification).
    pub(crate) fn trace(&self, t: &mut Tracer) {
        if E::is_noscan() {
            return;
        }
        if self.rooted && t.is_marking() {
            // A store outside the heap holds every element as a root, so marking needs none of
            // them from here. A marker reaches one only through a value whose `Trace` traces
            // contents it never unroots (an `Arc`), and such a store may be shared with a thread
            // whose operation read OFF and is moving its elements without the state word: a
            // barrier's shade of that value during the cycle's handshake would read the buffer
            // as it is reallocated (`protocol::ScanGate`; loom:
            // `a_shade_never_reads_a_store_outside_the_heap`).
            return;
        }
        if !t.gray_scan() {
            // A recording tracer is a user's test of a `Trace` impl, on a user's thread, at
            // any time: writers that read OFF do not take the state word, so it excludes them
            // with the users' lock instead of the marker section.
            let recording = t.is_recording();
            let _shared = recording.then(|| {
                not_in_an_operation();
                self.lock.read_recursive()
            });
            if !recording {
                self.state.acquire_marker();
            }
            // SAFETY: the users' shared lock or the marker section excludes every writer but
            // one replacing handles atomically, which `trace_elements` reads atomically.
            unsafe { trace_elements(&*self.buf.get(), 0, usize::MAX, t) };
            if !recording {
                self.state.release_marker();
            }
            return;
        }
        let mut at = 0;
        loop {
            self.state.acquire_marker();
            // SAFETY: the marker section excludes every writer that changes the `Vec` itself
            // (its buffer, length, capacity); a racy handle replacement writes one element,
            // through a raw pointer, and the elements are read through `trace_elements`.
            let v = unsafe { &*self.buf.get() };
            if at >= v.len() {
                self.cursor.store(0, Ordering::Relaxed);
                self.state.release_marker();
                return;
            }
            let end = (at + CHUNK).min(v.len());
            // SAFETY: as above.
            unsafe { trace_elements(v, at, end, t) };
            self.cursor.store(end, Ordering::Relaxed);
            self.state.release_marker();
            at = end;
        }
    }

    /// `Trace::root` / `unroot` of the store, with exclusive access (the store is moving).
    pub(crate) fn set_rooted(&mut self, rooted: bool) {
        if self.rooted == rooted {
            return;
        }
        // The flag claims that every element is a root (which lets markers skip the store,
        // `trace`) only once that holds: set after rooting, cleared before unrooting, so that a
        // hand-written `root` or `unroot` that unwinds half-way leaves the store traced.
        if !rooted {
            self.rooted = false;
        }
        if !E::is_noscan() {
            for e in self.buf.get_mut() {
                // SAFETY: forwarded from the caller of `root`/`unroot`.
                unsafe {
                    if rooted {
                        e.root()
                    } else {
                        e.unroot()
                    }
                }
            }
        }
        self.rooted = rooted;
    }
}

/// Traces the elements at positions `from..to` (clamped to the length) of a buffer whose
/// handles a writer may be replacing atomically meanwhile (`WriteGuard::replace_handle`): through
/// raw pointers and `Trace::trace_racy`, so that no reference covers a handle being replaced.
/// The buffer comes as a `Vec` (its header, which no such writer changes), not as a slice: a
/// slice would be a reference covering every element. `as_ptr` makes none, and the pointer is
/// only read through.
///
/// # Safety
/// No writer but such a replacing one runs meanwhile (the caller holds the marker section or
/// the users' shared lock).
#[inline(always)]
#[allow(clippy::ptr_arg)]
unsafe fn trace_elements<E: Trace>(v: &Vec<E>, from: usize, to: usize, t: &mut Tracer) {
    let base = v.as_ptr();
    for k in from..to.min(v.len()) {
        // SAFETY: in bounds; the caller's exclusion leaves only atomic replacements.
        unsafe { E::trace_racy(base.add(k), t) };
    }
}

/// Shared access to a store's elements.
pub(crate) struct ReadGuard<'a, E> {
    _lock: biaslock::ReadGuard<'a>,
    elements: &'a [E],
}

impl<E> Deref for ReadGuard<'_, E> {
    type Target = [E];
    fn deref(&self) -> &[E] {
        self.elements
    }
}

/// Exclusive access to a store for one method: read the elements (user code may run, outside
/// any operation), then move them in `edit`.
pub(crate) struct WriteGuard<'a, E> {
    _lock: biaslock::WriteGuard<'a>,
    store: &'a Elements<E>,
}

impl<E: Trace> WriteGuard<'_, E> {
    /// Starts loading the cache line of element `at` (in bounds), so that its miss overlaps the
    /// work a method does before it stores there (`put_new`'s allocation).
    #[inline(always)]
    pub(crate) fn prefetch(&self, at: usize) {
        crate::header::prefetch(&self.elements()[at] as *const E as usize);
    }

    /// The elements, for lookups (markers may read them at the same time; nobody writes).
    pub(crate) fn elements(&self) -> &[E] {
        // SAFETY: the exclusive lock excludes every other writer and every view.
        unsafe { &*self.store.buf.get() }
    }

    /// Whether a handle of type `H` inside this store's elements is replaced with
    /// [`replace_handle`](WriteGuard::replace_handle): a one-word handle in a store inside the
    /// heap. A rooted store keeps the ordinary path: its elements are roots, which no marking
    /// tracer reads (`Elements::trace`), though an `Arc` in the heap can lead a tracer to it
    /// (its `Trace` traces contents it never unroots). The tracers that do read it run when no
    /// writer can skip the state word: the verification in the stop, the resurrection pass
    /// after the phase is MARK again (every writer holds the word), and a user's recording
    /// tracer under the users' lock.
    #[inline(always)]
    pub(crate) fn replaces_racily<H: Trace>(&self) -> bool {
        H::is_atomic_handle() && !self.store.rooted
    }

    /// Replaces the handle that `field` picks out of the element at `at` (in bounds) with the
    /// one `new` makes, in one operation and without the state word, whatever the phase: the
    /// store is one atomic word, which markers read atomically (`trace_elements`), so they need
    /// not be excluded and a store never waits for a marker's chunk. While marking, the
    /// replaced handle is shaded (Yuasa: a view may have cloned it after the root scan, with no
    /// barrier, and the scan may not have reached it) and the new one is black or shaded by
    /// its unroot (Dijkstra), so a marker that reads either handle, or neither, loses nothing.
    /// Returns the replaced handle: rooted if `hand_out`, else unrooted (its drop does nothing)
    /// or, outside marking, not even read (`None`: the slot is written blind, as
    /// [`Edit::overwrite`] does). `new` may allocate (and so assist, and scan this store: this
    /// holds nothing a marker waits for).
    #[inline(always)]
    pub(crate) fn replace_handle<H: Trace>(
        &mut self,
        at: usize,
        field: impl FnOnce(*mut E) -> *mut H,
        new: impl FnOnce(&Op<'_>) -> Result<H, AllocError>,
        hand_out: bool,
    ) -> Result<Option<H>, AllocError> {
        debug_assert!(self.replaces_racily::<H>() && at < self.elements().len());
        let store = self.store;
        with_op(|op| {
            let mut h = new(op)?;
            // SAFETY: the handle becomes heap contents, owned by the store; a 1→0 transition
            // shades it while marking.
            unsafe { h.unroot() };
            // SAFETY: `at` is in bounds, and the buffer neither moves nor shrinks while the
            // users' exclusive lock is held. `as_ptr` makes no reference to the elements (a
            // `&mut Vec` from `as_mut_ptr` would clash with a marker's `&Vec`), and the pointer
            // keeps the buffer's own provenance; the one write through it below is an atomic
            // store, a write inside an `UnsafeCell`, which is what `as_ptr`'s rule allows.
            let slot = field(unsafe { (*store.buf.get()).as_ptr().cast_mut().add(at) });
            if !op.marking() && !hand_out && !H::needs_sweep_drop() {
                // SAFETY: as below; the handle overwritten is unrooted (heap contents) and of a
                // type whose unrooted drop does nothing.
                unsafe { H::store_racy(slot, h) };
                return Ok(None);
            }
            // SAFETY: the users' exclusive lock makes this thread the slot's only writer and
            // excludes the views; markers read it only with `trace_racy`; `is_atomic_handle`.
            let mut old = unsafe { H::replace_racy(slot, h) };
            if op.marking() {
                shade(&old);
            }
            if hand_out {
                // SAFETY: the handle leaves the heap for the caller.
                unsafe { old.root() };
            }
            Ok(Some(old))
        })
    }

    /// Moves elements inside one operation, with the writer bit held. `f` must run no user
    /// code but `root`/`unroot`; what it removes it returns, to be dropped after the guard.
    #[inline(always)]
    pub(crate) fn edit<R>(&mut self, f: impl FnOnce(&mut Edit<'_, E>) -> R) -> R {
        self.edit_after(|_, _| (), |e, ()| f(e))
    }

    /// [`edit`](WriteGuard::edit) with a first step in the same operation, before the writer
    /// bit: `first(op, rooted)` may allocate, and an allocation may assist the markers, which could
    /// scan this very store and wait for the bit.
    #[inline(always)]
    pub(crate) fn edit_after<X, R>(
        &mut self,
        first: impl FnOnce(&Op<'_>, bool) -> X,
        f: impl FnOnce(&mut Edit<'_, E>, X) -> R,
    ) -> R {
        let store = self.store;
        with_op(|op| {
            let x = first(op, store.rooted);
            /// Releases the writer bit even if a contract-violating `unroot` unwinds.
            struct Release<'a>(&'a ContainerState);
            impl Drop for Release<'_> {
                fn drop(&mut self) {
                    self.0.release_writer();
                }
            }
            // Outside marking no marker can be reading the buffer (`protocol::ScanGate`).
            let _release = writer_excludes_markers(op.phase).then(|| {
                store.state.acquire_writer();
                Release(&store.state)
            });
            /// Publishes the new length when the edit ends, also if a hand-written `root` or
            /// `unroot` unwinds after the buffer changed (review finding, 2026-12-07: `len()`
            /// kept the old length). Declared before the `Edit`, so dropped after it.
            struct PublishLen<'a, E> {
                store: &'a Elements<E>,
                before: usize,
            }
            impl<E> Drop for PublishLen<'_, E> {
                #[inline(always)]
                fn drop(&mut self) {
                    // SAFETY: the exclusive lock is still held (the `WriteGuard` outlives
                    // this), and the `Edit`'s borrow of the buffer has ended.
                    let now = unsafe { (*self.store.buf.get()).len() };
                    // Stores that keep the length write nothing here: one store fewer per
                    // `put` in the store buffer, where each waits for its slot's cache miss
                    // (module `biaslock`).
                    if now != self.before {
                        self.store.len.store(now, Ordering::Release);
                    }
                }
            }
            let _publish = PublishLen {
                store,
                // SAFETY: the exclusive lock excludes the users' threads, the only writers of
                // the buffer's length (markers only read it), and no reference to it is live.
                before: unsafe { (*store.buf.get()).len() },
            };
            let mut e = Edit {
                // SAFETY: the exclusive lock excludes the users' threads; the writer bit (or,
                // in an operation that read OFF, the ScanGate rule) excludes the markers.
                v: unsafe { &mut *store.buf.get() },
                marking: op.marking(),
                rooted: store.rooted,
                cursor: store.cursor.load(Ordering::Relaxed),
            };
            f(&mut e, x)
        })
    }
}

/// The moves a method may make, each with its barrier (module docs).
pub(crate) struct Edit<'a, E> {
    v: &'a mut Vec<E>,
    /// The operation's phase is MARK.
    marking: bool,
    rooted: bool,
    cursor: usize,
}

impl<E: Trace> Edit<'_, E> {
    /// An element (or an entry's value) enters the store: it stops being a root (shaded at
    /// 1→0 while marking).
    fn store<T: Trace>(&self, e: &mut T) {
        if !self.rooted && !T::is_noscan() {
            // SAFETY: the element becomes heap contents, owned by the store.
            unsafe { e.unroot() };
        }
    }

    /// The element that sat at `at` leaves the store for the caller: it becomes a root, and
    /// while marking it is shaded unless the scan in progress has traced it already.
    fn hand_out<T: Trace>(&self, mut e: T, at: usize) -> T {
        self.shade_removed(&e, at);
        if !self.rooted && !T::is_noscan() {
            // SAFETY: the element leaves the heap for the caller.
            unsafe { e.root() };
        }
        e
    }

    /// The element (or value) that sat at `at` has left the store: while marking, shade it
    /// unless the scan in progress has traced it already (Yuasa).
    fn shade_removed<T: Trace>(&self, e: &T, at: usize) {
        if !self.rooted && self.marking && !T::is_noscan() && !cursor::traced(at, self.cursor) {
            shade(e);
        }
    }

    /// The element now at `at` came from the unscanned part of a scan in progress to below its
    /// cursor: shade it, or the scan would miss it.
    fn crossed(&self, at: usize) {
        if !self.rooted && self.marking && !E::is_noscan() {
            shade(&self.v[at]);
        }
    }

    pub(crate) fn push(&mut self, mut e: E) {
        self.store(&mut e);
        self.v.push(e);
    }

    pub(crate) fn pop(&mut self) -> Option<E> {
        let e = self.v.pop()?;
        let at = self.v.len();
        Some(self.hand_out(e, at))
    }

    pub(crate) fn replace(&mut self, at: usize, mut e: E) -> E {
        self.store(&mut e);
        let old = std::mem::replace(&mut self.v[at], e);
        self.hand_out(old, at)
    }

    /// Stores `e` at `at` and returns the element it replaced *without* handing it out: it is
    /// not rooted, only shaded while marking (Yuasa), and must just be dropped, after the
    /// operation (its handles, unrooted, drop as no-ops). Saves touching the old element's
    /// header, a cache miss on a large container. Outside marking, in a store in the heap, an
    /// element whose unrooted value drops as a no-op is not even read (`None`): the slot is
    /// written blind, so the store need not wait for its cache line, as Go's plain store.
    pub(crate) fn overwrite(&mut self, at: usize, mut e: E) -> Option<E> {
        self.store(&mut e);
        let slot = &mut self.v[at];
        // Nothing to shade unless marking (and a noscan element holds nothing to shade).
        let no_shade = !self.marking || E::is_noscan();
        if !self.rooted && !E::needs_sweep_drop() && no_shade {
            // SAFETY: `slot` is a valid element, overwritten without being read or dropped:
            // the store is in the heap, so the element's handles are unrooted, and dropping an
            // unrooted value of a type with no sweep drop does nothing (`Trace::needs_sweep_drop`).
            unsafe { std::ptr::write(slot, e) };
            return None;
        }
        let old = std::mem::replace(slot, e);
        self.shade_removed(&old, at);
        Some(old)
    }

    pub(crate) fn insert(&mut self, at: usize, mut e: E) {
        self.store(&mut e);
        // Shifting right moves elements up only: at most one is scanned twice.
        self.v.insert(at, e);
    }

    pub(crate) fn remove(&mut self, at: usize) -> E {
        let e = self.v.remove(at);
        if let Some(c) = cursor::crossed_by_remove(at, self.cursor, self.v.len()) {
            self.crossed(c);
        }
        self.hand_out(e, at)
    }

    pub(crate) fn swap_remove(&mut self, at: usize) -> E {
        let last = self.v.len() - 1;
        let e = self.v.swap_remove(at);
        if let Some(c) = cursor::crossed_by_exchange(at, last, self.cursor) {
            self.crossed(c);
        }
        self.hand_out(e, at)
    }

    pub(crate) fn swap(&mut self, a: usize, b: usize) {
        let (lo, hi) = (a.min(b), a.max(b));
        self.v.swap(lo, hi);
        if let Some(c) = cursor::crossed_by_exchange(lo, hi, self.cursor) {
            self.crossed(c);
        }
    }

    /// Removes the elements from `at` on, handed out in order.
    pub(crate) fn truncate(&mut self, at: usize) -> Vec<E> {
        let tail = self.v.split_off(at.min(self.v.len()));
        tail.into_iter()
            .enumerate()
            .map(|(k, e)| self.hand_out(e, at + k))
            .collect()
    }
}

impl<K: Trace, V: Trace> WriteGuard<'_, (K, V)> {
    /// [`replace_handle`](WriteGuard::replace_handle) of an entry's value (a map's): the entry
    /// keeps its key, which a marker may be reading meanwhile through its own reference.
    #[inline(always)]
    pub(crate) fn replace_value_handle(
        &mut self,
        at: usize,
        new: impl FnOnce(&Op<'_>) -> Result<V, AllocError>,
        hand_out: bool,
    ) -> Result<Option<V>, AllocError> {
        // SAFETY: `replace_handle` passes a pointer to its in-bounds element; a raw projection
        // reads nothing and makes no reference to the entry.
        let value = |e: *mut (K, V)| unsafe { &raw mut (*e).1 };
        self.replace_handle(at, value, new, hand_out)
    }
}

impl<K: Trace, V: Trace> Edit<'_, (K, V)> {
    /// [`replace`](Edit::replace) of an entry's value alone: the entry keeps its key.
    pub(crate) fn replace_value(&mut self, at: usize, mut v: V) -> V {
        self.store(&mut v);
        let old = std::mem::replace(&mut self.v[at].1, v);
        self.hand_out(old, at)
    }

    /// [`overwrite`](Edit::overwrite) of an entry's value alone (always read): the entry keeps
    /// its key, and the old value is returned unrooted, to be dropped after the operation.
    pub(crate) fn overwrite_value(&mut self, at: usize, mut v: V) -> V {
        self.store(&mut v);
        let old = std::mem::replace(&mut self.v[at].1, v);
        self.shade_removed(&old, at);
        old
    }
}

/// Shades what `e` holds (a removed or crossing element, while marking).
fn shade<E: Trace>(e: &E) {
    let mut t = Tracer::marker();
    e.trace(&mut t);
    t.flush();
}

/// A growable array for the heap: `Vec`'s operations, each costing O(1) barrier work (the
/// handles of the one element it moves), safe to share between threads.
///
/// Elements move in and out only through methods; `get` clones one out; `view` lends them all
/// for reading. Calls from several threads take turns (a blocking lock); a view blocks the
/// methods that move elements until it is dropped, and a thread that calls one of them while it
/// holds a view of the same vector deadlocks, as with `RwLock`.
///
/// Use it for arrays that grow or change often, or that are large (an interpreter's lists);
/// `GcCell<Vec<T>>` costs O(len) per `borrow_mut`.
///
/// # Example
/// ```
/// use tricolor_gc::{Gc, GcVec};
/// let list: Gc<GcVec<Gc<u64>>> = Gc::new(GcVec::new());
/// for i in 0..10 {
///     list.push(Gc::new(i));
/// }
/// assert_eq!(*list.get(3).unwrap(), 3);
/// assert_eq!(list.view().iter().map(|g| **g).sum::<u64>(), 45);
/// ```
pub struct GcVec<T> {
    store: Elements<T>,
}

impl<T> GcVec<T> {
    /// An empty vector.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::<u8>::new();
    /// assert!(v.is_empty());
    /// ```
    pub fn new() -> GcVec<T> {
        GcVec::with_capacity(0)
    }

    /// An empty vector with room for `n` elements.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::<u8>::with_capacity(16);
    /// assert_eq!(v.len(), 0);
    /// ```
    pub fn with_capacity(n: usize) -> GcVec<T> {
        GcVec {
            store: Elements::from_vec(Vec::with_capacity(n)),
        }
    }

    /// The number of elements (read without the lock).
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2]);
    /// assert_eq!(v.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// True if there are no elements.
    ///
    /// # Example
    /// ```
    /// assert!(tricolor_gc::GcVec::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the elements out of a vector that is not in the heap.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2]);
    /// assert_eq!(v.into_vec(), vec![1, 2]);
    /// ```
    pub fn into_vec(self) -> Vec<T> {
        self.store.into_vec()
    }
}

impl<T: Trace> GcVec<T> {
    /// Appends `value`.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::new();
    /// v.push(1);
    /// assert_eq!(v.get(0), Some(1));
    /// ```
    pub fn push(&self, value: T) {
        self.store.write().edit(|e| e.push(value));
    }

    /// Removes the last element and returns it.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2]);
    /// assert_eq!(v.pop(), Some(2));
    /// ```
    pub fn pop(&self) -> Option<T> {
        self.store.write().edit(|e| e.pop())
    }

    /// A clone of the element at `index` (a clone of a handle is a root).
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter(["a", "b"]);
    /// assert_eq!(v.get(1), Some("b"));
    /// assert_eq!(v.get(2), None);
    /// ```
    pub fn get(&self, index: usize) -> Option<T>
    where
        T: Clone,
    {
        self.store.read().get(index).cloned()
    }

    /// Stores `value` at `index` and returns the element it replaces.
    ///
    /// # Panics
    /// If `index` is out of bounds.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2]);
    /// assert_eq!(v.set(0, 10), 1);
    /// assert_eq!(v.get(0), Some(10));
    /// ```
    #[track_caller]
    pub fn set(&self, index: usize, value: T) -> T {
        let mut w = self.store.write();
        check_index(index, w.elements().len());
        if w.replaces_racily::<T>() {
            let old = w.replace_handle(index, |e| e, move |_| Ok(value), true);
            return infallible(old).expect("handed out, so read");
        }
        w.edit(|e| e.replace(index, value))
    }

    /// Stores `value` at `index`, dropping the element it replaces: `vec[index] = value`.
    /// Cheaper than [`set`](GcVec::set) when the old element is not wanted: it is not handed
    /// out, so its object is not touched (only marked, while a cycle is marking).
    ///
    /// # Panics
    /// If `index` is out of bounds.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2]);
    /// v.put(1, 20);
    /// assert_eq!(v.get(1), Some(20));
    /// ```
    #[track_caller]
    pub fn put(&self, index: usize, value: T) {
        let old = {
            let mut w = self.store.write();
            check_index(index, w.elements().len());
            if w.replaces_racily::<T>() {
                infallible(w.replace_handle(index, |e| e, move |_| Ok(value), false))
            } else {
                w.edit(|e| e.overwrite(index, value))
            }
        };
        // Dropped after the operation and the lock: its drop glue is user code (its handles
        // are unrooted and drop as no-ops).
        drop(old);
    }

    /// Inserts `value` at `index`, shifting the elements after it.
    ///
    /// # Panics
    /// If `index > len`.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 3]);
    /// v.insert(1, 2);
    /// assert_eq!(v.into_vec(), vec![1, 2, 3]);
    /// ```
    #[track_caller]
    pub fn insert(&self, index: usize, value: T) {
        let mut w = self.store.write();
        check_index(index, w.elements().len() + 1);
        w.edit(|e| e.insert(index, value));
    }

    /// Removes the element at `index`, shifting the elements after it, and returns it.
    ///
    /// # Panics
    /// If `index` is out of bounds.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2, 3]);
    /// assert_eq!(v.remove(0), 1);
    /// assert_eq!(v.into_vec(), vec![2, 3]);
    /// ```
    #[track_caller]
    pub fn remove(&self, index: usize) -> T {
        let mut w = self.store.write();
        check_index(index, w.elements().len());
        w.edit(|e| e.remove(index))
    }

    /// Removes the element at `index` and returns it, moving the last element into its place
    /// (O(1), no shifting).
    ///
    /// # Panics
    /// If `index` is out of bounds.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2, 3]);
    /// assert_eq!(v.swap_remove(0), 1);
    /// assert_eq!(v.into_vec(), vec![3, 2]);
    /// ```
    #[track_caller]
    pub fn swap_remove(&self, index: usize) -> T {
        let mut w = self.store.write();
        check_index(index, w.elements().len());
        w.edit(|e| e.swap_remove(index))
    }

    /// Swaps two elements.
    ///
    /// # Panics
    /// If either index is out of bounds.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2]);
    /// v.swap(0, 1);
    /// assert_eq!(v.into_vec(), vec![2, 1]);
    /// ```
    #[track_caller]
    pub fn swap(&self, a: usize, b: usize) {
        let mut w = self.store.write();
        let len = w.elements().len();
        check_index(a, len);
        check_index(b, len);
        w.edit(|e| e.swap(a, b));
    }

    /// Keeps the first `len` elements and drops the rest.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2, 3]);
    /// v.truncate(1);
    /// assert_eq!(v.into_vec(), vec![1]);
    /// ```
    pub fn truncate(&self, len: usize) {
        let removed = {
            let mut w = self.store.write();
            w.edit(|e| e.truncate(len))
        };
        // Dropped here: after the operation and the lock (their drop glue is user code).
        drop(removed);
    }

    /// Drops every element.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2]);
    /// v.clear();
    /// assert!(v.is_empty());
    /// ```
    pub fn clear(&self) {
        self.truncate(0);
    }

    /// Appends every element of `iter` (collected first: the iterator is user code, and runs
    /// before the lock is taken).
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::new();
    /// v.extend([1, 2, 3]);
    /// assert_eq!(v.len(), 3);
    /// ```
    pub fn extend(&self, iter: impl IntoIterator<Item = T>) {
        let items: Vec<T> = iter.into_iter().collect();
        self.store.write().edit(|e| {
            for x in items {
                e.push(x);
            }
        });
    }

    /// A shared view of the elements, for iteration and indexing; methods that move elements
    /// wait until it is dropped.
    ///
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from_iter([1, 2, 3]);
    /// let sum: i32 = v.view().iter().sum();
    /// assert_eq!(sum, 6);
    /// ```
    pub fn view(&self) -> GcVecView<'_, T> {
        GcVecView {
            guard: self.store.read(),
        }
    }
}

impl<U: Trace + Send + Sync + 'static> GcVec<Gc<U>> {
    /// Stores a new object holding `value` at `index`, dropping the element it replaces:
    /// `vec[index] = Gc::new(value)` in one step, as Go's `s[i] = &v`. The new object's handle
    /// goes straight into the vector, so it never holds a root: no root is taken and given up,
    /// which saves the read-modify-write of `put(index, Gc::new(value))`.
    ///
    /// # Panics
    /// If `index` is out of bounds (`value` is dropped), or if the heap cannot grow.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcVec};
    /// let v = GcVec::from_iter([Gc::new(1), Gc::new(2)]);
    /// v.put_new(1, 20);
    /// assert_eq!(*v.get(1).unwrap(), 20);
    /// ```
    #[track_caller]
    pub fn put_new(&self, index: usize, value: U) {
        let mut value = malloc::Pending::new(value);
        let old = {
            let mut w = self.store.write();
            check_index(index, w.elements().len());
            w.prefetch(index);
            if w.replaces_racily::<Gc<U>>() {
                let new = |op: &Op<'_>| new_element(op, false, &mut value);
                w.replace_handle(index, |e| e, new, false)
            } else {
                w.edit_after(
                    |op, rooted| new_element(op, rooted, &mut value),
                    |e, new| new.map(|g| e.overwrite(index, g)),
                )
            }
        };
        moved_in(old);
    }

    /// Appends a new object holding `value`: `push(Gc::new(value))` in one step, without the
    /// root that `Gc::new` takes and `push` gives up (see [`put_new`](GcVec::put_new)).
    ///
    /// # Panics
    /// If the heap cannot grow (`value` is dropped).
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcVec};
    /// let v: GcVec<Gc<String>> = GcVec::new();
    /// v.push_new("a".to_string());
    /// assert_eq!(v.get(0).unwrap().as_str(), "a");
    /// ```
    pub fn push_new(&self, value: U) {
        let mut value = malloc::Pending::new(value);
        let pushed = self.store.write().edit_after(
            |op, rooted| new_element(op, rooted, &mut value),
            |e, new| new.map(|g| e.push(g)),
        );
        moved_in(pushed);
    }
}

/// A new object holding `value`'s value, with its handle as a store holds its elements:
/// unrooted (the object is born with no root) in a store inside the heap, rooted in one
/// outside. The first step of an `edit_after`: inside the operation that stores the handle,
/// before the writer bit (the method's `store` then finds the handle unrooted already: no
/// read-modify-write). The value is marked moved as soon as it is, so that nothing the method
/// does afterwards can drop it a second time; if it did not move, the caller's `Pending` drops
/// it outside the operation (its drop is user code).
#[inline(always)]
pub(crate) fn new_element<U: Trace + Send + Sync + 'static>(
    op: &Op<'_>,
    rooted: bool,
    value: &mut malloc::Pending<U>,
) -> Result<Gc<U>, AllocError> {
    let ptr = malloc::alloc_in(op, &mut value.value, rooted as u8)?;
    value.moved = true;
    // SAFETY: `ptr` is the new object, with one root if `rooted` and none otherwise, and this
    // is its only handle.
    Ok(unsafe { Gc::from_new(ptr, rooted) })
}

/// After a method that moved a new object in (`new_element`), outside its lock and operation:
/// the thread waits if the heap is past its hard goal (`malloc::alloc`'s wait), then what the
/// method replaced is dropped; an allocation failure is raised as `Gc::new` raises it (the
/// caller's `Pending` drops the value).
#[track_caller]
pub(crate) fn moved_in<R>(r: Result<R, AllocError>) {
    match r {
        Ok(replaced) => {
            crate::mgc::hold_at_goal();
            drop(replaced);
        }
        Err(e) => panic!("{e}"),
    }
}

/// The result of a [`WriteGuard::replace_handle`] whose `new` makes no allocation.
#[inline(always)]
pub(crate) fn infallible<T>(r: Result<T, AllocError>) -> T {
    match r {
        Ok(x) => x,
        Err(_) => unreachable!("no allocation, no allocation failure"),
    }
}

#[track_caller]
#[inline(always)]
fn check_index(index: usize, len: usize) {
    if index >= len {
        index_out_of_bounds(index, len);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn index_out_of_bounds(index: usize, len: usize) -> ! {
    panic!("GcVec: index {index} out of bounds (len {len})");
}

/// A shared view of a [`GcVec`]'s elements: derefs to `[T]`.
///
/// # Example
/// ```
/// let v = tricolor_gc::GcVec::from_iter(["x", "y"]);
/// let view: tricolor_gc::GcVecView<'_, &str> = v.view();
/// assert_eq!(view[1], "y");
/// ```
pub struct GcVecView<'a, T> {
    guard: ReadGuard<'a, T>,
}

impl<T> Deref for GcVecView<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.guard
    }
}

impl<T> Default for GcVec<T> {
    fn default() -> Self {
        GcVec::new()
    }
}

impl<T> FromIterator<T> for GcVec<T> {
    /// # Example
    /// ```
    /// let v: tricolor_gc::GcVec<u32> = (0..4).collect();
    /// assert_eq!(v.len(), 4);
    /// ```
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        GcVec {
            store: Elements::from_vec(iter.into_iter().collect()),
        }
    }
}

impl<T> From<Vec<T>> for GcVec<T> {
    /// # Example
    /// ```
    /// let v = tricolor_gc::GcVec::from(vec![1, 2]);
    /// assert_eq!(v.len(), 2);
    /// ```
    fn from(v: Vec<T>) -> Self {
        GcVec {
            store: Elements::from_vec(v),
        }
    }
}

impl<T: Trace + fmt::Debug> fmt::Debug for GcVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.view().iter()).finish()
    }
}

impl<T> Finalize for GcVec<T> {
    fn has_finalizer() -> bool {
        false
    }
}

// SAFETY: the elements are traced under the container's marker section (module docs: chunked,
// with the cursor protocol for a gray scan); root/unroot visit every element with exclusive
// access.
unsafe impl<T: Trace> Trace for GcVec<T> {
    fn trace(&self, t: &mut Tracer) {
        self.store.trace(t);
    }
    unsafe fn root(&mut self) {
        self.store.set_rooted(true);
    }
    unsafe fn unroot(&mut self) {
        self.store.set_rooted(false);
    }
    fn is_noscan() -> bool {
        T::is_noscan()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TracerMode;

    /// A store outside the heap holds its elements as roots, and may be shared (behind an
    /// `Arc`) with a thread whose operation read OFF and is growing it without the state word:
    /// no marking tracer (a barrier's shade, a gray scan) reads it. A user's recording tracer
    /// still sees every element. (Review finding, 2026-12-07; loom:
    /// `a_shade_never_reads_a_store_outside_the_heap`.)
    #[test]
    fn marking_tracers_skip_a_store_outside_the_heap() {
        let v: GcVec<Gc<u64>> = (0..8).map(Gc::new).collect();
        for gray in [false, true] {
            let mut t = Tracer::marker();
            t.gray_scan = gray;
            v.store.trace(&mut t);
            assert!(
                t.stack.is_empty(),
                "a marker (gray scan: {gray}) read the rooted store"
            );
            assert!(matches!(t.mode, TracerMode::Mark { marked: 0 }));
        }
        let mut r = Tracer::recording();
        Trace::trace(&v, &mut r);
        assert_eq!(r.edges(), 8);
    }
    /// An element whose `root` unwinds (a broken hand-written impl) on its second call.
    struct Bomb(u32);
    impl crate::trace::Finalize for Bomb {}
    // SAFETY: holds no handle; `root` panics on purpose, before touching anything.
    unsafe impl Trace for Bomb {
        fn trace(&self, _: &mut Tracer) {}
        unsafe fn root(&mut self) {
            assert!(self.0 != 1, "root of the second element");
        }
        unsafe fn unroot(&mut self) {}
    }

    /// A store claims that its elements are roots (which lets markers skip it) only once all
    /// of them are: a `root` that unwinds half-way leaves it unrooted, traced by markers.
    #[test]
    fn a_store_is_rooted_only_once_every_element_is() {
        let mut e = Elements::from_vec(vec![Bomb(0), Bomb(1), Bomb(2)]);
        e.set_rooted(false);
        assert!(!e.rooted);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.set_rooted(true)));
        assert!(r.is_err());
        assert!(!e.rooted, "a half-rooted store claims to be rooted");
    }
}
