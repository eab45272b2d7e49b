//! The operation protocol: how mutator threads and the collector agree on the phase.
//!
//! # Operations
//! Every tricolor operation that can make a reference disappear from the collector's view, or
//! allocate, runs as an *operation*: `Gc::new`, the 1→0 root-count transition of a handle (drop or
//! unroot), `GcCell::borrow_mut` acquire and release, `GcSlot` reads and writes, `Weak::upgrade`.
//! An operation sets its thread's `in_op` flag, issues a store-load fence, reads the phase once, acts
//! on that phase for its whole duration, and clears the flag (Release). Cheap operations (clone,
//! a decrement that does not reach zero, shared borrows, deref) are not operations at all.
//!
//! The collector changes phase with a *handshake*: it stores the new phase, issues a store-load
//! fence, then waits until every thread's flag has been seen clear (`protocol::enter`/`set_phase`).
//! The fences are asymmetric (module `membarrier`): the operation's is a compiler fence, and the
//! collector's is a full fence on every running thread of the process, so an operation pays no
//! hardware fence. Dekker's argument on (flag, phase) gives: an
//! operation either read the new phase, or it set its flag before the collector read the flags
//! and the collector waits for it to finish. So after the handshake, every operation still
//! running or yet to come acts on the new phase, and every effect of one that acted on the old
//! phase is visible to the collector (flag Release → collector Acquire). A thread that is not
//! inside an operation (computing, blocked on I/O, holding a `GcCell` borrow) never delays it.
//!
//! # Mark termination
//! `MARK → STOP` with a handshake: after it, no operation runs and new ones wait at entry until
//! the phase changes, so the thread that made the stop (the collector's, or a mutator outside
//! its operations that found the mark done, module `markdone`) owns every mcache and no shade
//! is in flight: it drains
//! what late shades pushed (a bounded amount, else it resumes marking), flushes the mcaches,
//! flips `sweepgen` and stores `OFF` (`mgc` lists what that costs). Weak references and
//! finalizers are the sweeper's (module `mspecial`). The handshakes also bound how long a
//! span struct or chunk freed by a sweep can still be looked at (`MHeap::reclaim`). Only handles' 1→0 transitions, allocation and cell
//! acquisition wait; a thread outside tricolor calls is never stopped.
//!
//! The ordering argument that this protocol gives the write barrier is in `barrier`'s docs; the
//! lock-free pieces themselves are in `protocol`, where loom checks them.

use crate::mcache::MCache;
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use crate::protocol;
pub(crate) use crate::protocol::{MARK, OFF, STOP};

/// The collector's phase: `OFF`, `MARK` or `STOP` (Go's `gcphase`).
pub(crate) static PHASE: AtomicU32 = AtomicU32::new(OFF);

/// Per-thread state shared with the collector.
pub(crate) struct ThreadState {
    pub in_op: AtomicBool,
    /// Owned by the thread inside its operations, and during `STOP` by the thread that made the
    /// stop (the collector's, or a mutator's outside its operations: `markdone`).
    pub mcache: UnsafeCell<MCache>,
    /// Bytes this thread allocated black since it last checked whether to assist (written by the
    /// owner only, with plain load/store: no RMW on the allocation path).
    pub assist_debt: AtomicU64,
    /// Bytes this thread allocated black this cycle; the collector adds them to the marked total
    /// during the stop (one shared counter updated per object would be a contended RMW).
    pub black_bytes: AtomicU64,
    pub exited: AtomicBool,
    /// The state of the threads whose own is gone (`ORPHAN`): its operations hold
    /// `ORPHAN_BUSY`.
    shared: bool,
}

// SAFETY: `mcache` follows the ownership protocol above (the owner inside an operation, or the
// collector while the phase is STOP, which no operation overlaps); the rest is atomic.
unsafe impl Sync for ThreadState {}
// SAFETY: as above.
unsafe impl Send for ThreadState {}

impl ThreadState {
    fn new(shared: bool) -> Arc<ThreadState> {
        Arc::new(ThreadState {
            shared,
            in_op: AtomicBool::new(false),
            mcache: UnsafeCell::new(MCache::new()),
            assist_debt: AtomicU64::new(0),
            black_bytes: AtomicU64::new(0),
            exited: AtomicBool::new(false),
        })
    }
}

/// Every thread that has used the heap, for handshakes and mcache flushing. Lock order: taken
/// before an mcentral's lock (the stop flushes mcaches while holding it); never inside an
/// operation.
pub(crate) static REGISTRY: crate::locks::Mutex<Vec<Arc<ThreadState>>> =
    crate::locks::Mutex::new(Vec::new());

/// Threads whose thread-local state is gone (teardown) share this one, one at a time.
static ORPHAN: std::sync::LazyLock<Arc<ThreadState>> = std::sync::LazyLock::new(|| {
    let st = ThreadState::new(true);
    REGISTRY.lock().push(st.clone());
    st
});

/// Held for the whole of an operation on `ORPHAN` (`protocol::shared_state`). Lock order: the
/// outermost lock. A flag with a spinning and yielding wait rather than a blocking mutex, so
/// that the operation's guard is one word on every thread's fast path (it gives this back when
/// its state is `shared`); only threads in teardown ever wait here.
static ORPHAN_BUSY: AtomicBool = AtomicBool::new(false);

/// Black-allocated bytes of threads that exited since the last stop (`ThreadState::black_bytes`),
/// which the stop adds to the registered threads' (`markdone`).
pub(crate) static EXITED_BLACK_BYTES: AtomicU64 = AtomicU64::new(0);

/// Owns this thread's registered state; dropped at thread exit.
struct Local {
    state: Arc<ThreadState>,
}

impl Drop for Local {
    fn drop(&mut self) {
        // From here on, operations of this thread take the orphan path.
        STATE.set(std::ptr::null());
        // Thread exit: give the cached spans back while the collector cannot be touching them.
        let st = &self.state;
        enter_raw(st);
        // SAFETY: we are inside an operation of this thread, so we own the mcache.
        unsafe { (*st.mcache.get()).release_all() };
        st.exited.store(true, Ordering::Release);
        // Black allocation this thread counted during a mark in progress: the stop sums the
        // registered threads' counts only.
        EXITED_BLACK_BYTES.fetch_add(st.black_bytes.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        protocol::exit(&st.in_op);
        REGISTRY.lock().retain(|s| !Arc::ptr_eq(s, st));
        crate::mstats::report_thread_remainder();
    }
}

thread_local! {
    static LOCAL: Local = {
        let state = ThreadState::new(false);
        REGISTRY.lock().push(state.clone());
        Local { state }
    };
    // The fast path reads only these `const` thread-locals (one load each, no lazy-init check,
    // and usable during thread teardown because they have no destructor).
    /// This thread's state while `LOCAL` is alive, else null.
    static STATE: Cell<*const ThreadState> = const { Cell::new(std::ptr::null()) };
    /// The operation in progress on this thread: its nesting depth in the low 32 bits (0: none)
    /// and the phase it acts on above them. One word, so that entering an operation writes one
    /// thread-local: every store before a container's store to a slot that misses the cache
    /// waits behind it (BENCHMARKS.md, "Random stores against Go"). Its state needs no word of
    /// its own: see [`nested_state`].
    static OP: Cell<u64> = const { Cell::new(0) };
}

/// `OP`'s value for the outermost operation, acting on `phase`.
#[inline(always)]
fn outermost(phase: u32) -> u64 {
    1 | u64::from(phase) << 32
}

/// The state of the operation in progress on this thread, for a nested one: `STATE` is what it
/// was when the outermost operation began, for as long as that runs. Non-null there, it stays
/// so (it is cleared only by `LOCAL`'s destructor, which runs on this thread and so never
/// during an operation); null there, the operation is on `ORPHAN` and it stays null (only
/// `register` sets it, and only an outermost entry calls that).
#[inline(always)]
fn nested_state<'a>() -> &'a ThreadState {
    let p = STATE.get();
    if p.is_null() {
        &ORPHAN
    } else {
        // SAFETY: non-null, so `LOCAL` owns the state and is alive for the whole of the
        // operation in progress (above), which outlives the nested one.
        unsafe { &*p }
    }
}

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

/// Runs `f` as an operation (re-entrant: a nested call shares the outer operation's phase).
///
/// `f` is called from one place only, whichever way the operation was entered, so that the
/// compiler inlines it: with a call per way in, the allocation path was an outlined closure
/// whose frame setup and result spill cost 27 instructions per `Gc::new` (callgrind).
#[inline(always)]
pub(crate) fn with_op<R>(f: impl FnOnce(&Op<'_>) -> R) -> R {
    let (op, _g) = enter_op();
    f(&op)
}

/// Enters an operation: the outermost one on this thread, a nested one, or one of a thread
/// whose state is gone. The guard ends it.
#[inline(always)]
fn enter_op<'a>() -> (Op<'a>, OpGuard<'a>) {
    let o = OP.get();
    if o as u32 > 0 {
        OP.set(o + 1);
        let op = Op {
            phase: (o >> 32) as u32,
            state: nested_state(),
        };
        return (op, OpGuard(None));
    }
    let mut p = STATE.get();
    if p.is_null() {
        p = register();
        if p.is_null() {
            return enter_orphan();
        }
    }
    // SAFETY: STATE is non-null only while LOCAL, which owns the state, is alive; it is cleared
    // first thing in LOCAL's destructor, which runs on this thread and so not during this
    // operation. The lifetime is the caller's to bound: `with_op` lends the reference to a
    // closure that cannot keep it, for the operation only.
    let st: &'a ThreadState = unsafe { &*p };
    let phase = enter_raw(st);
    OP.set(outermost(phase));
    (Op { phase, state: st }, OpGuard(Some(st)))
}

/// Ends the operation `enter_op` began: a nested one (`None`), or the outermost one, which
/// clears the flag (Release publishes its effects) and, for a thread whose state is gone,
/// releases the shared state.
struct OpGuard<'a>(Option<&'a ThreadState>);

impl Drop for OpGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        match self.0 {
            None => OP.set(OP.get() - 1),
            Some(st) => {
                OP.set(0);
                protocol::exit(&st.in_op);
                if st.shared {
                    protocol::shared_state::give_back(&ORPHAN_BUSY);
                }
            }
        }
    }
}

/// True while the calling thread is inside an operation. A call that waits for the collector
/// (`collect`, `run_finalizers`) must not be made then: the collector's handshake waits for this
/// very operation to end.
#[inline]
pub(crate) fn in_operation() -> bool {
    OP.get() as u32 > 0
}

/// The phase of the operation in progress on this thread, if there is one: what a nested
/// operation would act on, without entering it.
#[inline(always)]
pub(crate) fn phase_in_operation() -> Option<u32> {
    let o = OP.get();
    (o as u32 > 0).then_some((o >> 32) as u32)
}

/// Creates this thread's state on first use; null once the thread is tearing down.
#[cold]
#[inline(never)]
fn register() -> *const ThreadState {
    crate::membarrier::init();
    LOCAL
        .try_with(|l| {
            let p = Arc::as_ptr(&l.state);
            STATE.set(p);
            p
        })
        .unwrap_or(std::ptr::null())
}

#[cold]
#[inline(never)]
fn enter_orphan() -> (Op<'static>, OpGuard<'static>) {
    let st: &'static ThreadState = &ORPHAN;
    protocol::shared_state::take(&ORPHAN_BUSY);
    let phase = enter_raw(st);
    OP.set(outermost(phase));
    (Op { phase, state: st }, OpGuard(Some(st)))
}

/// Stores `phase` and waits until every operation that may have read the previous phase is
/// over (the handshake of the module docs). The collector thread's; `STOP` also by whoever
/// holds `markdone`'s lock.
pub(crate) fn handshake(phase: u32) {
    protocol::set_phase(&PHASE, phase);
    wait_flags();
}

/// Mark termination's stop, called off (phase back to MARK, false) if some thread stays inside
/// an operation for longer than `patience`: see `protocol::try_stop`.
pub(crate) fn try_stop(patience: std::time::Duration) -> bool {
    let reg = REGISTRY.lock();
    let deadline = std::time::Instant::now() + patience;
    protocol::try_stop(&PHASE, reg.iter().map(|st| &st.in_op), || {
        std::time::Instant::now() < deadline
    })
}

/// Ends a stop by going back to concurrent marking. No handshake is needed: no operation ran
/// during the stop, and those waiting at entry read the phase again and act under MARK.
pub(crate) fn resume_marking() {
    protocol::set_phase(&PHASE, MARK);
}

/// Waits until every thread has been seen outside an operation once.
pub(crate) fn wait_ops() {
    protocol::flags_visible();
    wait_flags();
}

/// [`wait_ops`] after a fence that already made the flags visible.
fn wait_flags() {
    let reg = REGISTRY.lock();
    for st in reg.iter() {
        protocol::wait_clear(&st.in_op);
    }
}

/// The stack of each of the collector's own threads (the collector, which also sweeps; the mark
/// workers; the finalizer thread). Drop glue and `trace` recurse through what one object owns:
/// a `Box` list one million deep inside one object takes 24–32 MiB of stack to drop or to trace
/// (measured with tests/soundness.rs at 8, 16, 24 and 32 MiB; plain Rust drops it on 32 MiB and
/// overflows a default 8 MiB main thread at that depth). 256 MiB is eight times that. It is
/// reserved address space: only the pages a deep recursion touches are ever backed by memory.
pub(crate) const COLLECTOR_STACK_SIZE: usize = 256 << 20;

/// What a thread is to the runtime, for the calls that would wait for themselves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A user thread.
    Mutator,
    /// The collector thread (cycles and the background sweep, which runs drop glue).
    Collector,
    /// A mark worker (runs `trace`).
    Marker,
}

/// Adds `bytes` to this thread's assist debt (memory it allocated outside the heap while
/// marking, `GcAllocator`), so that its next allocation in the heap assists in proportion. No
/// allocation and no lock: called from inside the global allocator. A thread not registered yet
/// owes nothing.
pub(crate) fn add_assist_debt(bytes: u64) {
    let p = STATE.try_with(Cell::get).unwrap_or(std::ptr::null());
    if p.is_null() {
        return;
    }
    // SAFETY: STATE is non-null only while LOCAL, which owns the state, is alive (it is
    // cleared first thing in LOCAL's destructor), and this is the owning thread.
    let d = unsafe { &(*p).assist_debt };
    // Only the owner adds; the collector's reset to 0 at a cycle's start may be lost against
    // this, which costs one assist check at most.
    d.store(
        d.load(Ordering::Relaxed).saturating_add(bytes),
        Ordering::Relaxed,
    );
}

thread_local!(static ROLE: Cell<Role> = const { Cell::new(Role::Mutator) });

impl Role {
    /// Marks the calling thread as one of the collector's.
    pub(crate) fn enter(self) {
        ROLE.set(self);
    }

    /// The calling thread's role.
    pub(crate) fn current() -> Role {
        ROLE.get()
    }
}
