//! The write barrier and the operation protocol that orders it against the collector.
//!
//! # Operations
//! Every tricolor operation that can make a reference disappear from the collector's view, or
//! allocate, runs as an *operation*: `Gc::new`, the 1→0 root-count transition of a handle (drop or
//! unroot), `GcCell::borrow_mut` acquire and release, `GcSlot` reads and writes, `Weak::upgrade`.
//! An operation sets its thread's `in_op` flag (SeqCst), reads the phase once (SeqCst), acts on
//! that phase for its whole duration, and clears the flag (Release). Cheap operations (clone, a
//! decrement that does not reach zero, shared borrows, deref) are not operations at all.
//!
//! The collector changes phase with a *handshake*: it stores the new phase (SeqCst), then waits
//! until every thread's flag has been seen clear. Dekker's argument on (flag, phase) gives: an
//! operation either read the new phase, or it set its flag before the collector read the flags
//! and the collector waits for it to finish. So after the handshake, every operation still
//! running or yet to come acts on the new phase, and every effect of one that acted on the old
//! phase is visible to the collector (flag Release → collector Acquire). A thread that is not
//! inside an operation (computing, blocked on I/O, holding a `GcCell` borrow) never delays it.
//!
//! # The snapshot argument ("stacks black, no rescan")
//! Marking starts with `OFF → MARK` and a handshake, then scans roots (objects with a root count
//! above zero) once. Every object reachable when marking started is marked, because:
//! (a) a root at that moment is either still rooted when the scan reads its count, or its count
//!     fell to zero in an operation that read `MARK` and shaded it (`unroot`, `drop`);
//! (b) a heap reference deleted during marking went through a barrier that shaded its target:
//!     `borrow_mut` shades the cell's contents at acquisition (Yuasa: the marker skips a cell
//!     that is mutably borrowed, and anything removed from it was shaded first), and handles
//!     stored into the heap are unrooted, which shades at 1→0 (Dijkstra for the inserted value);
//! (c) objects allocated during marking are born black (mark bit set in `Gc::new`).
//! An object unreachable at the start can never become reachable again (handles are only made
//! from reachable ones; `Weak::upgrade` shades while marking). Hence no root needs a rescan.
//!
//! # Mark termination
//! `MARK → STOP` with a handshake: after it, no operation runs and new ones wait at entry until
//! the phase changes, so the collector owns every mcache and no shade is in flight: it drains
//! what late shades pushed, clears weak references, queues finalizers, flushes the mcaches,
//! flips `sweepgen` and stores `OFF`. Only handles' 1→0 transitions, allocation and cell
//! acquisition wait; a thread outside tricolor calls is never stopped.
//!
//! # `Gc::new`
//! Allocation, the unrooting of the handles moved into the new object and the colour decision
//! happen in one operation, under one phase: with `OFF` the object is white and rooted, and a
//! cycle starting later waits for the operation, then finds it as a root; with `MARK` it is born
//! black and every handle moved into it is shaded as it is unrooted. The failure DESIGN.md warns
//! of (unroots see `OFF`, the allocation sees `MARK`) cannot happen because the phase is read
//! once per operation.

use crate::header::Header;
use crate::mcache::MCache;
use crate::mheap::span_of;
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

pub(crate) use crate::protocol::{MARK, OFF, STOP};
use crate::protocol;

pub(crate) static PHASE: AtomicU32 = AtomicU32::new(OFF);

/// Per-thread state shared with the collector.
pub(crate) struct ThreadState {
    pub in_op: AtomicBool,
    /// Owned by the thread inside its operations, and by the collector during `STOP`.
    pub mcache: UnsafeCell<MCache>,
    /// Bytes this thread allocated during the current mark, for assist pacing (owner only).
    pub assist_debt: AtomicU64,
    pub exited: AtomicBool,
}

// SAFETY: `mcache` follows the ownership protocol above (the owner inside an operation, or the
// collector while the phase is STOP, which no operation overlaps); the rest is atomic.
unsafe impl Sync for ThreadState {}
// SAFETY: as above.
unsafe impl Send for ThreadState {}

impl ThreadState {
    fn new() -> Arc<ThreadState> {
        Arc::new(ThreadState {
            in_op: AtomicBool::new(false),
            mcache: UnsafeCell::new(MCache::new()),
            assist_debt: AtomicU64::new(0),
            exited: AtomicBool::new(false),
        })
    }
}

/// Every thread that has used the heap, for handshakes and mcache flushing.
pub(crate) static REGISTRY: parking_lot::Mutex<Vec<Arc<ThreadState>>> = parking_lot::Mutex::new(Vec::new());

/// Threads whose thread-local state is gone (teardown) share this one, one at a time.
static ORPHAN: std::sync::LazyLock<(parking_lot::ReentrantMutex<()>, Arc<ThreadState>)> =
    std::sync::LazyLock::new(|| {
        let st = ThreadState::new();
        REGISTRY.lock().push(st.clone());
        (parking_lot::ReentrantMutex::new(()), st)
    });

struct Local {
    state: Arc<ThreadState>,
    depth: Cell<u32>,
    phase: Cell<u32>,
}

impl Drop for Local {
    fn drop(&mut self) {
        // Thread exit: give the cached spans back while the collector cannot be touching them.
        let st = &self.state;
        enter_raw(st);
        // SAFETY: we are inside an operation of this thread, so we own the mcache.
        unsafe { (*st.mcache.get()).release_all() };
        st.exited.store(true, Ordering::Release);
        protocol::exit(&st.in_op);
        REGISTRY.lock().retain(|s| !Arc::ptr_eq(s, st));
    }
}

thread_local! {
    static LOCAL: Local = {
        let state = ThreadState::new();
        REGISTRY.lock().push(state.clone());
        Local { state, depth: Cell::new(0), phase: Cell::new(OFF) }
    };
}

pub(crate) use crate::sync::spin as backoff;

/// Sets the flag and reads the phase, waiting while the phase is STOP.
#[inline(always)]
fn enter_raw(st: &ThreadState) -> u32 {
    protocol::enter(&st.in_op, &PHASE)
}

/// What an operation knows: the phase it acts on, and its thread's state.
pub(crate) struct Op<'a> {
    pub phase: u32,
    pub state: &'a ThreadState,
}

impl Op<'_> {
    #[inline(always)]
    pub fn marking(&self) -> bool {
        self.phase == MARK
    }
    /// The thread's mcache.
    ///
    /// # Safety
    /// Not re-entrant: no other reference to the mcache may be live (operations never call user
    /// code while holding it).
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    pub unsafe fn mcache(&self) -> &mut MCache {
        // SAFETY: we are inside an operation of the owning thread (protocol above), and the
        // caller guarantees no overlapping borrow.
        unsafe { &mut *self.state.mcache.get() }
    }
}

struct ExitGuard<'a> {
    local: &'a Local,
}
impl Drop for ExitGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        let d = self.local.depth.get() - 1;
        self.local.depth.set(d);
        if d == 0 {
            protocol::exit(&self.local.state.in_op);
        }
    }
}

/// Runs `f` as an operation (re-entrant: a nested call shares the outer operation's phase).
#[inline(always)]
pub(crate) fn with_op<R>(f: impl FnOnce(&Op<'_>) -> R) -> R {
    let mut f = Some(f);
    let mut out = None;
    let ok = LOCAL.try_with(|l| {
        let d = l.depth.get();
        if d == 0 {
            let p = enter_raw(&l.state);
            l.phase.set(p);
        }
        l.depth.set(d + 1);
        let _g = ExitGuard { local: l };
        let op = Op {
            phase: l.phase.get(),
            state: &l.state,
        };
        out = Some((f.take().unwrap())(&op));
    });
    if ok.is_err() {
        return orphan_op(f.take().unwrap());
    }
    out.unwrap()
}

#[cold]
fn orphan_op<R>(f: impl FnOnce(&Op<'_>) -> R) -> R {
    thread_local!(static ORPHAN_DEPTH: Cell<u32> = const { Cell::new(0) });
    let (lock, st) = &*ORPHAN;
    let _g = lock.lock();
    // The depth counter itself may be gone too at this point of teardown: then treat every call
    // as outermost, which is only slower.
    let outer = ORPHAN_DEPTH.try_with(|d| d.get() == 0).unwrap_or(true);
    let phase = if outer { enter_raw(st) } else { PHASE.load(Ordering::SeqCst) };
    let _ = ORPHAN_DEPTH.try_with(|d| d.set(d.get() + 1));
    struct G<'a>(&'a ThreadState, bool);
    impl Drop for G<'_> {
        fn drop(&mut self) {
            let _ = ORPHAN_DEPTH.try_with(|d| d.set(d.get() - 1));
            if self.1 {
                protocol::exit(&self.0.in_op);
            }
        }
    }
    let _exit = G(st, outer);
    f(&Op { phase, state: st })
}

/// Stores `phase` and waits until every operation that may have read the previous phase is
/// over (the handshake of the module docs). Collector only.
pub(crate) fn handshake(phase: u32) {
    protocol::set_phase(&PHASE, phase);
    wait_ops();
}

/// Waits until every thread has been seen outside an operation once.
pub(crate) fn wait_ops() {
    let reg = REGISTRY.lock();
    for st in reg.iter() {
        protocol::wait_clear(&st.in_op);
    }
}

/// Shades `h` gray: marks it and queues it for scanning unless it holds no pointers. Called by
/// the barrier inside an operation that read `MARK`, and by the collector.
#[inline]
pub(crate) fn shade(h: *const Header) {
    // SAFETY: `h` is a live object: the caller holds or just released a root on it inside an
    // operation that read MARK, and nothing is freed until after the next mark termination,
    // which waits for this operation.
    let span = unsafe { span_of(h as usize) };
    let idx = span.index_of(h as usize);
    if span.try_mark(idx) {
        crate::mark::note_marked(span.elemsize);
        if !span.class.noscan() {
            crate::mark::push_global(h as usize);
        }
    }
}

/// Removes one root from `h` (the handle was dropped or moved into the heap). Only a 1→0
/// transition needs the barrier, so the common case is a CAS outside any operation.
#[inline(always)]
pub(crate) fn release_root(h: &Header) {
    if !protocol::release_if_not_last(&h.roots) {
        release_last_root(h);
    }
}

#[cold]
#[inline(never)]
fn release_last_root(h: &Header) {
    with_op(|op| {
        if protocol::release_last(&h.roots) && op.marking() {
            shade(h);
        }
    })
}

