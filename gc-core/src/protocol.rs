//! The lock-free protocols of the collector, written once against `crate::sync` so that the same
//! code runs in the runtime (std atomics) and in the loom models (`--cfg loom`, see
//! `gc-core/tests/loom.rs`). The runtime modules call these; the ordering arguments are in
//! `barrier`'s docs.
//!
//! The handshake is Dekker's pattern: the mutator writes its flag then reads the phase, the
//! collector writes the phase then reads the flags, each with a store-load fence in between.
//! The fence is asymmetric (module `membarrier`): the mutator's is a compiler fence and the
//! collector's makes every running thread of the process execute a full fence, so entering an
//! operation costs no hardware fence. In the loom models both halves are `SeqCst` fences (the
//! fence form rather than SeqCst accesses: loom models SeqCst accesses as AcqRel, loom issue
//! #180, and only fences can be checked), which is what the collector's half amounts to for
//! every thread.

use crate::sync::{heavy_fence, light_fence, spin, AtomicBool, AtomicU32, AtomicU64};
use crate::sync::{AtomicUsize, Ordering};

/// No cycle in progress.
pub const OFF: u32 = 0;
/// Concurrent marking: the barrier shades.
pub const MARK: u32 = 1;
/// Mark termination: operations wait at entry.
pub const STOP: u32 = 2;

/// Enters an operation: sets the thread's flag, then reads the phase (Dekker against
/// [`set_phase`] + [`wait_clear`]). Waits while the phase is STOP.
#[inline(always)]
pub fn enter(flag: &AtomicBool, phase: &AtomicU32) -> u32 {
    enter_fenced(flag, phase, light_fence)
}

/// [`enter`] with the store-load fence given: the benchmarks measure the protocol with a real
/// fence (as before the asymmetric fences) and with none (an unsound upper bound).
#[doc(hidden)]
#[inline(always)]
pub fn enter_fenced(flag: &AtomicBool, phase: &AtomicU32, store_load: impl Fn()) -> u32 {
    let mut spins = 0;
    loop {
        flag.store(true, Ordering::Relaxed);
        store_load();
        let p = phase.load(Ordering::Acquire);
        if p != STOP {
            return p;
        }
        flag.store(false, Ordering::Release);
        while phase.load(Ordering::Acquire) == STOP {
            spin(&mut spins);
        }
    }
}

/// Leaves an operation; Release publishes its effects to a collector that sees the flag clear.
#[inline(always)]
pub fn exit(flag: &AtomicBool) {
    flag.store(false, Ordering::Release);
}

/// The collector's half of the handshake: publish the phase...
pub fn set_phase(phase: &AtomicU32, p: u32) {
    phase.store(p, Ordering::Release);
    heavy_fence();
}

/// Makes every flag that a thread has set visible to the collector's next loads: the collector's
/// half of the fence, for a wait on the flags that does not follow a [`set_phase`] (a mutator
/// that set its flag without a hardware fence may still hold the store in its store buffer).
pub fn flags_visible() {
    heavy_fence();
}

/// ...then wait until each thread's flag is seen clear once.
pub fn wait_clear(flag: &AtomicBool) {
    wait_clear_while(flag, || true);
}

/// Waits until `flag` is seen clear, or until `keep_waiting()` says to stop: true if it cleared.
fn wait_clear_while(flag: &AtomicBool, mut keep_waiting: impl FnMut() -> bool) -> bool {
    let mut spins = 0;
    while flag.load(Ordering::Acquire) {
        if !keep_waiting() {
            return false;
        }
        spin(&mut spins);
    }
    true
}

/// Mark termination's handshake, which may be called off: sets STOP, then waits for each
/// thread's flag to be seen clear while `keep_waiting()` says so. If a thread is still inside an
/// operation when patience runs out (on a machine with more runnable threads than cores, that
/// is a thread descheduled mid-operation, for a whole time slice), the attempt is called off:
/// the phase goes back to MARK and false is returned. Nothing has happened yet that marking
/// cannot continue from: operations that arrived during the attempt waited at entry and re-read
/// the phase, so they run under MARK, as they would have had the attempt never been made. The
/// caller drains what the late operation shaded and tries again. Without this, every thread
/// that wants to enter an operation waits for the descheduled one.
pub fn try_stop<'a>(
    phase: &AtomicU32,
    flags: impl IntoIterator<Item = &'a AtomicBool>,
    mut keep_waiting: impl FnMut() -> bool,
) -> bool {
    set_phase(phase, STOP);
    for flag in flags {
        if !wait_clear_while(flag, &mut keep_waiting) {
            set_phase(phase, MARK);
            return false;
        }
    }
    true
}

/// An object's root count and weak references' state, in its side byte (module `mbitmap`): the
/// low seven bits count roots, [`count::SPILLED`] meaning "127 or more, the rest in the spill
/// table"; the high bit is [`weak::CLEARED`]. Every change of the count is a compare-and-swap
/// that keeps the high bit, so that the sweeper may set it at any time. A count that reads
/// `SPILLED` is changed only under the spill table's lock, by [`count::spill_add`] and
/// [`count::spill_remove`]: so **a spilled remainder is never left behind a count below
/// `SPILLED`**, and a byte whose count reads 0 means no root at all.
pub mod count {
    use crate::sync::{AtomicU8, Ordering};

    /// The count's bits.
    pub const COUNT: u8 = 0x7F;
    /// A count of 127 or more: the roots past 127 are in the spill table.
    pub const SPILLED: u8 = COUNT;

    /// The count reads [`SPILLED`]: the caller takes the spill table's lock and calls
    /// [`spill_add`] or [`spill_remove`].
    #[derive(Debug, PartialEq, Eq)]
    pub struct Spilled;

    /// Adds a root; returns the count before (0: the object's first root, which must flag its
    /// span for the root scan). Relaxed, as `Arc::clone`'s increment: a new root is made from
    /// an existing one (or inside an operation that found the object alive), which keeps the
    /// object meanwhile.
    #[inline(always)]
    pub fn add(b: &AtomicU8) -> Result<u8, Spilled> {
        let mut cur = b.load(Ordering::Relaxed);
        loop {
            let n = cur & COUNT;
            if n == SPILLED {
                return Err(Spilled);
            }
            match b.compare_exchange_weak(cur, cur + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(n),
                Err(c) => cur = c,
            }
        }
    }

    /// Removes a root unless it is the last one: `Ok(true)` if done. The last root must be
    /// released with [`release_last`] inside an operation, because a 1→0 transition may need
    /// to shade.
    #[inline(always)]
    pub fn release_if_not_last(b: &AtomicU8) -> Result<bool, Spilled> {
        let mut cur = b.load(Ordering::Relaxed);
        loop {
            let n = cur & COUNT;
            if n == SPILLED {
                return Err(Spilled);
            }
            if n <= 1 {
                return Ok(false);
            }
            match b.compare_exchange_weak(cur, cur - 1, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return Ok(true),
                Err(c) => cur = c,
            }
        }
    }

    /// Removes a root inside an operation; `Ok(true)` if that was the last one (the caller
    /// shades if the operation's phase is MARK). SeqCst: the 1→0 transition is the barrier's
    /// Dekker half against the root scan's read of the count.
    #[inline(always)]
    pub fn release_last(b: &AtomicU8) -> Result<bool, Spilled> {
        let mut cur = b.load(Ordering::Relaxed);
        loop {
            let n = cur & COUNT;
            if n == SPILLED {
                return Err(Spilled);
            }
            assert!(n > 0, "tricolor: root count underflow");
            match b.compare_exchange_weak(cur, cur - 1, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => return Ok(n == 1),
                Err(c) => cur = c,
            }
        }
    }

    /// The root scan's reading of an object's root count: true if it is a root. Acquire: a
    /// count read as 0 orders the accesses made through the last root before the scan (what
    /// orders them before the sweep, for every object, is that the last root went away in an
    /// operation that the handshakes wait for: [`release_last`]).
    #[inline(always)]
    pub fn has_roots(b: &AtomicU8) -> bool {
        b.load(Ordering::Acquire) & COUNT != 0
    }

    /// Under the spill table's lock, with `extra` the object's roots past 127: adds a root to
    /// a count that read [`SPILLED`]. False if it no longer does (a [`spill_remove`] took it
    /// below while the caller waited for the lock): the caller retries [`add`].
    pub fn spill_add(b: &AtomicU8, extra: &mut u32) -> bool {
        if b.load(Ordering::Relaxed) & COUNT != SPILLED {
            return false;
        }
        *extra += 1;
        true
    }

    /// Under the spill table's lock: removes a root from a count that read [`SPILLED`], from
    /// the spilled remainder first. False if the count no longer reads `SPILLED`: the caller
    /// retries. Never the last root (the count is at least 127), so never a barrier.
    pub fn spill_remove(b: &AtomicU8, extra: &mut u32) -> bool {
        if b.load(Ordering::Relaxed) & COUNT != SPILLED {
            return false;
        }
        if *extra > 0 {
            *extra -= 1;
        } else {
            // The only decrement of a `SPILLED` count, under the lock that every other change
            // of a `SPILLED` count takes; increments from below stop at `SPILLED`. So no borrow
            // reaches the high bit, and no remainder is left behind.
            b.fetch_sub(1, Ordering::Release);
        }
        true
    }
}

/// The per-span "maybe rooted" flag, which lets the root scan read the headers of only the
/// spans that can hold a root (DESIGN §2: enumerate roots without walking the whole heap).
///
/// A span's flag is set for the births in it (see "Births" below) and by every 0→1 transition
/// of a root count in it ([`roots::note`]). Only the root scan clears it ([`roots::take`]; a
/// span struct made anew for other pages starts clear, with no object yet), once per cycle for
/// every span, before it reads any count, and it sets it again on a span where it found a root
/// ([`roots::keep`]). Between the takes and the first count read, the collector runs the heavy
/// half of an asymmetric fence ([`roots::scan_fence`]); the mutator's half is the light fence
/// between its count increment and its flag read, so of "the mutator read the flag from before
/// the take" and "the scanner read the count from before the increment", one is false (Dekker,
/// as the phase handshake). Hence the invariant the scan relies on: **an object whose count
/// went above 0 and stayed there is in a flagged span at every take of a later cycle, and at
/// the take of its own cycle either in a flagged span whose scan sees it, or black** (born in
/// an operation that read `MARK`). A 0→1's increment either came before the take it raced (then
/// the scanner saw the span flagged, read the count, found it, and set the flag again) or its
/// flag read came after that take (then the flag was false and it set it, or true from a later
/// note or keep: only a take writes false).
///
/// **Births.** A small object is born in a span its thread's mcache holds; flagging the span at
/// each birth cost binary-trees 4% more instructions, so the mcache flags it instead when it
/// caches the span ([`roots::note_unfenced`]) and when it gives it back ([`roots::keep`],
/// unconditional). Every cycle's mark termination gives back every cached span, so the time a
/// span is cached contains at most one take. A birth before that take in an operation that read
/// `OFF` is ordered before the take by the handshake, in a span flagged since it was cached:
/// the scan reads it. A birth in an operation that read `MARK` is black, and its span is flagged
/// again when given back, at the latest at that mark termination, before the next take (the
/// store unconditional: a give-back that read the flag as set from before the take, which then
/// cleared it without seeing the birth, must store anyway). A large object's span is flagged at
/// its birth, after its publication: [`roots::note_unfenced`] in an operation that read `OFF`,
/// [`roots::note`] in one that read `MARK`.
///
/// A 0→1 that races the take of the cycle starting and is not seen by that scan loses nothing.
/// Inside an operation that read `MARK`, the operation shades the object (`Weak::upgrade`, a
/// container's get). Outside any operation it is a clone of a handle read through a path from
/// an older root, through immutable fields, a cell's shared borrow or a container's read lock,
/// none of which can be cut until the clone has returned and the borrow or lock is released; an
/// operation that cuts the path afterwards either read `MARK` and shades what it removes, or
/// read `OFF`, and then it ended before the handshake, so the clone's flag store came before
/// the take and the scan saw the flag.
pub mod roots {
    use crate::sync::{heavy_fence, light_fence, AtomicBool, Ordering};

    /// The mutator's half, after a count of the span's object went 0→1, or after a large
    /// rooted object was published in it while marking: flags the span unless it is flagged
    /// already (a load on the common path, no read-modify-write).
    #[inline(always)]
    pub fn note(flag: &AtomicBool) {
        light_fence();
        note_unfenced(flag);
    }

    /// [`note`] without the fence, where the module docs show none is needed: a large birth in
    /// an operation that read `OFF` (the handshake orders it before the take), and an mcache
    /// caching a span.
    #[inline(always)]
    pub fn note_unfenced(flag: &AtomicBool) {
        if !flag.load(Ordering::Relaxed) {
            flag.store(true, Ordering::Release);
        }
    }

    /// The scan's take of one span's flag at the start of the root scan: whether the span may
    /// hold a root, the flag cleared. Every take of a scan comes before its [`scan_fence`].
    #[inline]
    pub fn take(flag: &AtomicBool) -> bool {
        flag.load(Ordering::Relaxed) && flag.swap(false, Ordering::AcqRel)
    }

    /// The collector's half of the fence, between the takes and the first count read.
    pub fn scan_fence() {
        heavy_fence();
    }

    /// Sets the flag unconditionally: the scan found a root in the span, or an mcache gives the
    /// span back. A swap rather than a store (both rare): loom 0.7 reports the give-back racing
    /// a take as losing a birth when it is a plain store, an outcome C++'s coherence rules
    /// forbid (the take's swap read an older store, so this one is later in the modification
    /// order and the flag ends set), and checks it as intended with a read-modify-write.
    #[inline]
    pub fn keep(flag: &AtomicBool) {
        flag.swap(true, Ordering::Release);
    }
}

/// Sets bit `bit` of a mark word; true if it was clear (the caller turned the object gray).
#[inline(always)]
pub fn try_mark(word: &AtomicU64, bit: u32) -> bool {
    let m = 1u64 << bit;
    if word.load(Ordering::Relaxed) & m != 0 {
        return false;
    }
    word.fetch_or(m, Ordering::AcqRel) & m == 0
}

/// Counts a sweep in progress (module `sweep`): called *before* the sweeper takes its span out
/// of an unswept set under that set's lock, so that whoever finds the sets empty afterwards
/// (under the same lock) also sees the count.
#[inline]
pub fn sweep_begin(sweepers: &AtomicUsize) {
    sweepers.fetch_add(1, Ordering::AcqRel);
}

/// Ends a sweep counted by [`sweep_begin`], after its span is swept and filed.
#[inline]
pub fn sweep_end(sweepers: &AtomicUsize) {
    sweepers.fetch_sub(1, Ordering::AcqRel);
}

/// Whether no counted sweep is in progress (Acquire: their effects are visible then).
#[inline]
pub fn sweeps_done(sweepers: &AtomicUsize) -> bool {
    sweepers.load(Ordering::Acquire) == 0
}

/// Go's sweepgen CAS: takes a span that needs sweeping (`h-2 → h-1`).
#[inline]
pub fn try_acquire_sweep(span_gen: &AtomicU32, h: u32) -> bool {
    span_gen
        .compare_exchange(
            h.wrapping_sub(2),
            h.wrapping_sub(1),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
}

/// The state that threads in teardown share (`operation::ORPHAN`): one operation at a time uses
/// it. A flag, taken with an Acquire CAS and given back with a Release store, so that what one
/// holder wrote to the state (its span cache) happens before the next holder reads it. Only
/// threads whose own state is gone ever wait here.
pub mod shared_state {
    use crate::sync::{spin, AtomicBool, Ordering};

    /// Waits until the flag is ours.
    pub fn take(busy: &AtomicBool) {
        let mut spins = 0;
        while busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin(&mut spins);
        }
    }

    /// Gives the flag back, publishing the holder's writes to the next one.
    #[inline]
    pub fn give_back(busy: &AtomicBool) {
        busy.store(false, Ordering::Release);
    }
}

/// The root scan's jobs (`markroot`): the background workers and the assists claim jobs from
/// one cursor and count each job finished; the collector reads what the jobs left (their
/// counts, the gray objects they flushed) once every job is counted. Claiming needs no order
/// (the counter only hands out numbers); finishing is a Release that the collector's Acquire
/// pairs with, so a job's writes happen before the collector's reads.
pub mod jobs {
    use crate::sync::{AtomicUsize, Ordering};

    /// Claims the next of `total` jobs; `None` once all are claimed.
    #[inline]
    pub fn claim(next: &AtomicUsize, total: usize) -> Option<usize> {
        let j = next.fetch_add(1, Ordering::Relaxed);
        (j < total).then_some(j)
    }

    /// Counts a job finished, publishing what it wrote.
    #[inline]
    pub fn finish(done: &AtomicUsize) {
        done.fetch_add(1, Ordering::Release);
    }

    /// Whether all `total` jobs are finished; if so, their writes are visible to the caller.
    #[inline]
    pub fn all_done(done: &AtomicUsize, total: usize) -> bool {
        done.load(Ordering::Acquire) >= total
    }
}

/// The mark workers' drain (`mark::drain_background`) and when another thread may stop the
/// world after it (`markdone`). A worker that finds no gray batch counts itself idle, and leaves
/// once it sees all `n` idle; one that sees gray work again first stops counting itself idle.
/// "All idle" seen by one worker does not mean the drain is over: another, still waiting, can
/// see new gray work (shaded by an operation) afterwards and take it onto its local stack. The
/// drain is over when the last worker has left ([`drain::leave`] returns true), and only then
/// may a thread other than the collector attempt the stop, whose handshake waits for
/// operations but not for the workers.
pub mod drain {
    use crate::sync::{AtomicUsize, Ordering};

    /// A worker found no gray batch.
    #[inline]
    pub fn go_idle(idle: &AtomicUsize) {
        idle.fetch_add(1, Ordering::AcqRel);
    }

    /// An idle worker saw gray work again and goes back to draining.
    #[inline]
    pub fn wake(idle: &AtomicUsize) {
        idle.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether all `n` workers are idle: the one that sees it leaves.
    #[inline]
    pub fn all_idle(idle: &AtomicUsize, n: usize) -> bool {
        idle.load(Ordering::Acquire) == n
    }

    /// A worker leaves the drain; true for the last of the `n`, after which no worker marks
    /// until the next drain (the AcqRel chain orders every worker's marking before it).
    #[inline]
    pub fn leave(left: &AtomicUsize, n: usize) -> bool {
        left.fetch_add(1, Ordering::AcqRel) + 1 == n
    }
}

/// The weak-reference rules (modules `weakhandle` and `mspecial`), written once for the runtime
/// and the loom models. A `Weak` points at its object, whose header word carries a "weak
/// references cleared" bit ([`weak::CLEARED`]) that the collector sets once it finds the object
/// unreachable and never takes back; the object's memory stays allocated while a `Weak` counts
/// on it (its span's weak counts). The question `upgrade` asks is whether the object has been
/// found unreachable yet, when the bit it read may be stale.
pub mod weak {
    use crate::sync::{AtomicU32, AtomicU64, AtomicU8, Ordering};

    /// The bit of an object's side byte (module `mbitmap`, beside its root count: module
    /// [`count`](super::count)) that says its weak references are cleared: set by the sweeper
    /// of a dead object (or one it keeps for its finalizer) and by the collector on an object
    /// it resurrects; clear from allocation, except for an object `Gc::new_cyclic` has not
    /// finished building.
    pub const CLEARED: u8 = 0x80;

    /// Whether the side byte `word` still lets weak references upgrade.
    #[inline(always)]
    pub fn not_cleared(word: &AtomicU8) -> bool {
        word.load(Ordering::Acquire) & CLEARED == 0
    }

    /// Whether the object of a weak reference whose header word read "not cleared" is alive,
    /// while the heap may be being swept (phase OFF, sweep generation `h`, fixed for the
    /// caller's operation).
    ///
    /// `heap_swept` is the last generation the whole heap finished sweeping (set after the
    /// background sweep): once it is `h`, every dead object's bit was set before it, and the
    /// bit alone decides. Otherwise `span` gives the object's span (its memory stays allocated
    /// while a `Weak` counts on it, so the span is its own): its weak generation, and the
    /// object's mark word and bit (meaningful only while the generation is behind).
    ///
    /// The sweeper sets the span's weak generation to `h` (Release) once it has set the bit of
    /// every dead object of the span, and before it touches the mark words. Until then the mark
    /// bit is the verdict of the last cycle; once the mark word has been reset (a Release store
    /// after the publication), reading it shows the new generation too, so the second look at
    /// the weak generation tells a stale bit from a true one (a seqlock read). A marked object
    /// may still be one the sweeper kept for its finalizer or for its `Weak`s, whose bit the
    /// sweeper sets before the mark bit: the header has the last word.
    #[inline]
    pub fn alive_while_sweeping<'a>(
        word: &AtomicU8,
        heap_swept: &AtomicU32,
        h: u32,
        span: impl FnOnce() -> (&'a AtomicU32, &'a AtomicU64, u32),
    ) -> bool {
        if heap_swept.load(Ordering::Acquire) != h {
            let (weak_gen, mark, bit) = span();
            if weak_gen.load(Ordering::Acquire) != h {
                let marked = mark.load(Ordering::Acquire) & (1u64 << bit) != 0;
                if weak_gen.load(Ordering::Acquire) != h && !marked {
                    return false;
                }
            }
        }
        not_cleared(word)
    }

    /// The collector's half: sets the bit of an object found unreachable (or kept only for its
    /// finalizer), before it sets the object's mark bit if it keeps it. True if it was clear.
    #[inline]
    pub fn clear(word: &AtomicU8) -> bool {
        word.fetch_or(CLEARED, Ordering::AcqRel) & CLEARED == 0
    }

    /// `Gc::new_cyclic`: the object its `Weak`s point at was allocated with the bit set (and the
    /// unit vtable), and loses the bit once the value is written and its vtable stored: Release,
    /// so that an `upgrade` that reads the byte (Acquire) sees the object built. The one place
    /// the bit goes from set to clear: no collector set it, since the object was rooted from
    /// its allocation on. False if the bit was not set (a collector bug, caught rather than
    /// overruled). A compare-and-swap loop, as the root count beside the bit may change.
    #[inline]
    pub fn publish_built(word: &AtomicU8) -> bool {
        let mut cur = word.load(Ordering::Relaxed);
        loop {
            if cur & CLEARED == 0 {
                return false;
            }
            match word.compare_exchange_weak(
                cur,
                cur & !CLEARED,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(c) => cur = c,
            }
        }
    }

    /// Counts one more `Weak` on an object, in its span's weak counts: made only from a strong
    /// handle or from another `Weak`, so the count it raises is never 0 on a dead object.
    /// Returns the count before.
    #[inline]
    pub fn add_weak(count: &AtomicU32) -> u32 {
        count.fetch_add(1, Ordering::Relaxed)
    }

    /// Drops one `Weak`'s count, outside any operation: Release, so that the sweeper that reads
    /// the count as 0 (Acquire: [`no_weaks`]) sees every access made through this `Weak` before
    /// it, and may free the object's memory. Returns the count before.
    #[inline]
    pub fn drop_weak(count: &AtomicU32) -> u32 {
        count.fetch_sub(1, Ordering::Release)
    }

    /// The sweeper's question about a dead object: may its memory go, no `Weak` being left?
    #[inline]
    pub fn no_weaks(count: &AtomicU32) -> bool {
        count.load(Ordering::Acquire) == 0
    }

    /// The sweeper's half: after the bits of the span's dead objects are set, and before any
    /// mark word is reset.
    #[inline]
    pub fn publish_swept(weak_gen: &AtomicU32, h: u32) {
        weak_gen.store(h, Ordering::Release);
    }

    /// The sweeper resets a mark word; Release so that a reader that sees the reset also sees
    /// [`publish_swept`].
    #[inline]
    pub fn reset_mark_word(word: &AtomicU64) {
        word.store(0, Ordering::Release);
    }

    /// Whether the object of a weak reference whose header word read "not cleared" is alive
    /// while the collector resurrects the dead objects of types not yet known to have a
    /// finalizer (module `finalizer`): the mark is complete, so unmarked means found
    /// unreachable; the collector sets the bit of each object it marks from then on before it
    /// sets the mark bit.
    #[inline]
    pub fn alive_while_resurrecting(word: &AtomicU8, mark: &AtomicU64, bit: u32) -> bool {
        mark.load(Ordering::Acquire) & (1u64 << bit) != 0 && not_cleared(word)
    }
}

/// A lock biased towards one thread (module `biaslock`): the thread that took it exclusively
/// many times in a row enters and leaves with plain stores and a compiler fence, no
/// read-modify-write, until another thread revokes the bias, for good.
///
/// Two words. `bias` is [`bias::UNBIASED`], [`bias::REVOKED`] or the owner's token, and changes
/// only while the lock's blocking fallback is held exclusively (a thread sets its own token
/// there as it releases the fallback, a revoker sets `REVOKED`). `held` is written only by the
/// owner thread, always with Release: [`bias::WRITING`] while it is inside exclusively, else
/// the number of its shared holds. An owner's first entry and a revocation are the two halves
/// of an asymmetric Dekker handshake: the owner stores `held` then loads `bias` (a light fence
/// between), the revoker stores `bias` then loads `held` (a heavy fence between). So either the
/// owner sees the revocation and backs out, or the revoker sees the owner inside and waits.
///
/// After a revocation `held` is one more reader (or the writer) of the fallback: the owner
/// nests shared holds inside a shared hold it already has (so a thread that reads inside its
/// own view never waits for another reader), every exclusive holder of the fallback waits for
/// `held` to be 0, and a revoking reader waits only for the owner's exclusive hold to end.
pub mod bias {
    use crate::sync::{backoff, heavy_fence, light_fence, AtomicU32, AtomicU64, Ordering};

    /// Nobody owns the lock yet: everyone takes the blocking fallback.
    pub const UNBIASED: u64 = 0;
    /// The bias was revoked: everyone takes the blocking fallback, for good.
    pub const REVOKED: u64 = 1;
    /// `held`: the owner is inside exclusively.
    pub const WRITING: u32 = 1 << 31;

    /// Why the owner could not enter.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Refused {
        /// The bias is not this thread's (any more): take the blocking fallback.
        NotOwner,
        /// The owner is already inside in a way this entry cannot share (an exclusive entry
        /// inside any of its holds, any entry inside its exclusive hold): the fallback would
        /// deadlock.
        Reentered,
    }

    /// An entry by the thread that owns or owned the bias (only it calls this with `held`).
    #[inline(always)]
    pub fn owner_enter(
        bias: &AtomicU64,
        held: &AtomicU32,
        token: u64,
        exclusive: bool,
    ) -> Result<(), Refused> {
        // Only this thread writes `held`, so this reads its own last store.
        let h = held.load(Ordering::Relaxed);
        if h != 0 {
            if exclusive || h & WRITING != 0 || h == WRITING - 1 {
                return Err(Refused::Reentered);
            }
            // Nested inside a shared hold: a revoker, if any, already counts this thread in.
            held.store(h + 1, Ordering::Release);
            return Ok(());
        }
        if bias.load(Ordering::Relaxed) != token {
            return Err(Refused::NotOwner);
        }
        held.store(if exclusive { WRITING } else { 1 }, Ordering::Release);
        light_fence();
        if bias.load(Ordering::Relaxed) == token {
            return Ok(());
        }
        // Revoked between the two loads: back out, and let the revoker see it.
        held.store(0, Ordering::Release);
        Err(Refused::NotOwner)
    }

    /// The owner's exit; Release publishes the section's writes to whoever sees it out.
    #[inline(always)]
    pub fn owner_exit(held: &AtomicU32, exclusive: bool) {
        let h = held.load(Ordering::Relaxed);
        held.store(if exclusive { 0 } else { h - 1 }, Ordering::Release);
    }

    /// Revokes the owner's bias. The caller holds the blocking fallback exclusively (so it is
    /// the only revoker). Waits until the owner is outside (`exclusive`, for a writer) or out
    /// of its exclusive hold (for a reader); afterwards every first entry of the owner takes
    /// the fallback, and what the owner wrote inside happens before this returns.
    pub fn revoke(bias: &AtomicU64, held: &AtomicU32, exclusive: bool) {
        bias.store(REVOKED, Ordering::Relaxed);
        heavy_fence();
        wait_for_owner(held, exclusive);
    }

    /// With the fallback held exclusively, after a revocation: waits until the former owner is
    /// outside (`exclusive`) or out of its exclusive hold.
    pub fn wait_for_owner(held: &AtomicU32, exclusive: bool) {
        let mut spins = 0;
        loop {
            let h = held.load(Ordering::Acquire);
            if h == 0 || (!exclusive && h & WRITING == 0) {
                return;
            }
            backoff(&mut spins);
        }
    }
}

/// The ephemeron-key rules (modules `ephemeron`, `mspecial`, `mark`), written once for the
/// runtime and the loom models. `GcWeakMap::insert` files the (key → value) pair under the
/// global table's lock, then sets the key's bit in its span's key bitmap, then, if its
/// operation read MARK, shades the value. A marker that marks the key and then sees the bit
/// queues the key's values; one that marked the key before the bit was set misses them, and the
/// insert's shade covers exactly that case: the bit is set inside an operation, so a marker can
/// only run before the bit is visible while that operation reads MARK (an operation that read
/// OFF ends before any marker starts, `ScanGate`).
pub mod ephemeron {
    use crate::sync::{AtomicU64, Ordering};

    /// Sets key bit `bit` of `word`, after the pair was filed: Release, so that a marker that
    /// sees the bit (Acquire) finds the pair.
    #[inline]
    pub fn set_key(word: &AtomicU64, bit: u32) {
        word.fetch_or(1u64 << bit, Ordering::Release);
    }

    /// Whether key bit `bit` of `word` is set (a marker, after it marked the object).
    #[inline]
    pub fn is_key(word: &AtomicU64, bit: u32) -> bool {
        word.load(Ordering::Acquire) & (1u64 << bit) != 0
    }
}

const WRITER: u64 = 1 << 63;
const ROOTED: u64 = 1 << 62;
const MARKER: u64 = 1 << 32;
const READERS: u64 = (1 << 32) - 1;

/// A `GcCell`'s borrow word: bit 63 the mutator's exclusive borrow, bit 62 the cell's
/// "not in the heap" flag (its contents are ordinary roots), bits 32..61 the markers, bits
/// 0..31 the mutators' shared borrows.
///
/// The flag shares the word so that a cell of one handle is 16 bytes, not 24 (a `bool` beside
/// the word took a word of padding: GCBench's node was 64 bytes, it is 48). It changes only
/// through `&mut` (the cell moving into or out of the heap), never while anything else can
/// reach the cell, so every read-modify-write below carries it through unchanged: the counts
/// never reach it (readers stop at `READERS`, markers are a handful), and the exclusive borrow
/// compares against the word with the flag as it was read.
pub struct BorrowState(AtomicU64);

impl Default for BorrowState {
    fn default() -> Self {
        Self::new()
    }
}

impl BorrowState {
    /// Not borrowed.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        BorrowState(AtomicU64::new(0))
    }
    /// Not borrowed.
    #[cfg(loom)]
    pub fn new() -> Self {
        BorrowState(AtomicU64::new(0))
    }

    /// Not borrowed, with the rooted flag set (a new cell, outside the heap).
    #[cfg(not(loom))]
    pub const fn new_rooted() -> Self {
        BorrowState(AtomicU64::new(ROOTED))
    }
    /// Not borrowed, with the rooted flag set (a new cell, outside the heap).
    #[cfg(loom)]
    pub fn new_rooted() -> Self {
        BorrowState(AtomicU64::new(ROOTED))
    }

    /// The rooted flag. Relaxed: it only changes through `&mut`, which the caller's `&self`
    /// was handed over after.
    #[inline(always)]
    pub fn is_rooted(&self) -> bool {
        self.0.load(Ordering::Relaxed) & ROOTED != 0
    }

    /// Sets the rooted flag, without an atomic read-modify-write: `&mut` excludes every other
    /// access.
    #[inline(always)]
    pub fn set_rooted(&mut self, rooted: bool) {
        let apply = |w: &mut u64| {
            if rooted {
                *w |= ROOTED;
            } else {
                *w &= !ROOTED;
            }
        };
        #[cfg(not(loom))]
        apply(self.0.get_mut());
        #[cfg(loom)]
        self.0.with_mut(apply);
    }

    /// A mutator's shared borrow; false if mutably borrowed.
    #[inline]
    pub fn try_shared(&self) -> bool {
        let mut s = self.0.load(Ordering::Relaxed);
        loop {
            if s & WRITER != 0 {
                return false;
            }
            assert!(s & READERS != READERS, "GcCell: too many shared borrows");
            match self
                .0
                .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(x) => s = x,
            }
        }
    }

    /// Ends a mutator's shared borrow.
    #[inline]
    pub fn release_shared(&self) {
        self.0.fetch_sub(1, Ordering::Release);
    }

    /// The mutator's exclusive borrow; false if a mutator borrows the cell. Markers inside are
    /// waited for (a short pause), never reported.
    #[inline]
    pub fn try_exclusive(&self) -> bool {
        let mut spins = 0;
        // The flag cannot change while `&self` is held (type docs): the expected word is the
        // unborrowed one with the flag as it is.
        let idle = self.0.load(Ordering::Relaxed) & ROOTED;
        loop {
            match self.0.compare_exchange_weak(
                idle,
                idle | WRITER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(s) if s & (WRITER | READERS) != 0 => return false,
                Err(_) => spin(&mut spins),
            }
        }
    }

    /// Whether a mutator holds the exclusive borrow. Asked under the exclusive access that
    /// `root`/`unroot` require, which itself came through a synchronizing handoff; Acquire pairs
    /// with the borrow's Acquire CAS of whoever took the bit (and leaked its guard).
    #[inline]
    pub fn is_exclusive(&self) -> bool {
        self.0.load(Ordering::Acquire) & WRITER != 0
    }

    /// Ends the exclusive borrow.
    #[inline]
    pub fn release_exclusive(&self) {
        self.0.fetch_and(!WRITER, Ordering::Release);
    }

    /// A marker's shared borrow; false (skip the cell) if a mutator holds it exclusively.
    #[inline]
    pub fn try_marker(&self) -> bool {
        let mut s = self.0.load(Ordering::Relaxed);
        loop {
            if s & WRITER != 0 {
                return false;
            }
            match self
                .0
                .compare_exchange_weak(s, s + MARKER, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(x) => s = x,
            }
        }
    }

    /// Ends a marker's borrow.
    #[inline]
    pub fn release_marker(&self) {
        self.0.fetch_sub(MARKER, Ordering::Release);
    }
}

/// The word that keeps a heap container's element buffer (`GcVec`, `GcMap`) consistent between
/// its one writer and the markers that read it.
///
/// Users' threads are serialized among themselves by the container's own blocking lock; that
/// lock is taken *outside* any operation and never by a marker. This word is the second level:
/// the writer holds it only inside an operation, for the few instructions that move elements
/// and apply the barrier, and a marker holds it while it traces one chunk of elements. Neither
/// side ever waits on anything else while holding it, so a wait for it is short: a marker
/// waits out one method's body, a writer one chunk. In mark termination's stop no operation
/// runs, so the collector never finds the writer inside.
///
/// Bits: 63 the writer; 62 a writer waiting (new markers stay out, so a scan cannot starve
/// it); 0..62 markers inside.
pub struct ContainerState(AtomicU64);

const C_WRITER: u64 = 1 << 63;
const C_WAITING: u64 = 1 << 62;
const C_MARKERS: u64 = C_WAITING - 1;

impl Default for ContainerState {
    fn default() -> Self {
        Self::new()
    }
}

impl ContainerState {
    /// Nobody inside.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        ContainerState(AtomicU64::new(0))
    }
    /// Nobody inside.
    #[cfg(loom)]
    pub fn new() -> Self {
        ContainerState(AtomicU64::new(0))
    }

    /// The writer's entry (there is one writer at a time: the container's lock ensures it).
    /// Announces itself, then waits for the markers inside to leave.
    #[inline]
    pub fn acquire_writer(&self) {
        self.0.fetch_or(C_WAITING, Ordering::Relaxed);
        let mut spins = 0;
        while self
            .0
            .compare_exchange_weak(C_WAITING, C_WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spin(&mut spins);
        }
    }

    /// The writer's exit; Release publishes the moved elements to the next marker.
    #[inline]
    pub fn release_writer(&self) {
        self.0.fetch_and(!C_WRITER, Ordering::Release);
    }

    /// A marker's entry: waits while the writer is inside or waiting.
    #[inline]
    pub fn acquire_marker(&self) {
        let mut spins = 0;
        let mut s = self.0.load(Ordering::Relaxed);
        loop {
            if s & (C_WRITER | C_WAITING) != 0 {
                spin(&mut spins);
                s = self.0.load(Ordering::Relaxed);
                continue;
            }
            assert!(
                s & C_MARKERS != C_MARKERS,
                "tricolor: container marker count overflow"
            );
            match self
                .0
                .compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(x) => s = x,
            }
        }
    }

    /// A marker's exit.
    #[inline]
    pub fn release_marker(&self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// When a mutator may scan gray objects (a mark assist): only once the `OFF → MARK` handshake
/// is complete, so never while an operation that read `OFF` may still run.
///
/// A container's writer whose operation read `OFF` moves elements without the
/// [`ContainerState`] word (two read-modify-writes saved on every store outside marking):
/// nothing can read the buffer concurrently then, because every reader of a container's
/// buffer other than its own users (who hold its lock) is a scan of a gray object, and every
/// scan happens after that handshake. The collector's own scans (root scan, background
/// workers, mark termination, the resurrection pass) start after it on the collector's side.
/// An assist runs inside an operation that read `MARK`, which may begin while the handshake
/// still waits for an `OFF` operation on another thread; the gate keeps it from scanning
/// until the collector has seen every such operation end. Shades inside operations do not
/// scan: they mark and queue, except for a value the operation owns outright (a removed
/// element, a cell's contents under its exclusive borrow), which no other thread can be
/// writing. Such a value can hold a container it does not own, behind an `Arc` (whose `Trace`
/// traces its contents and never unroots them): a store outside the heap, which another thread
/// may be writing in an operation that read `OFF`. Its elements are roots, so marking tracers
/// never read it (`vec::Elements::trace`).
///
/// Ordering: [`ScanGate::close`] is stored before the phase becomes `MARK` (Release, and the
/// operation's Acquire load of the phase), so an assist of the new cycle cannot see the
/// previous cycle's open gate; [`ScanGate::open`] (Release) follows the handshake's Acquire
/// loads of the flags that the `OFF` operations cleared with Release, so an assist that sees
/// it open (Acquire) sees every element those operations moved.
pub struct ScanGate(AtomicBool);

impl Default for ScanGate {
    fn default() -> Self {
        Self::new()
    }
}

impl ScanGate {
    /// Closed.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        ScanGate(AtomicBool::new(false))
    }
    /// Closed.
    #[cfg(loom)]
    pub fn new() -> Self {
        ScanGate(AtomicBool::new(false))
    }

    /// The collector, before it sets `MARK`.
    pub fn close(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// The collector, once the `OFF → MARK` handshake is complete.
    pub fn open(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// A mutator inside an operation that read `MARK`: may it scan gray objects?
    #[inline]
    pub fn is_open(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Whether a container's writer must hold the [`ContainerState`] word in an operation that
/// read `phase` (see [`ScanGate`] for why `OFF` needs no exclusion from markers).
#[inline(always)]
pub fn writer_excludes_markers(phase: u32) -> bool {
    phase != OFF
}

/// The scan-cursor rules of a container's chunked marking (module `vec`), written once for the
/// runtime and the loom models. `cursor` is the scanned prefix of a scan in progress (0 when
/// none is).
pub mod cursor {
    /// Whether the element at `at` has been traced by the scan in progress (so one removed from
    /// there needs no shade).
    #[inline]
    pub fn traced(at: usize, cursor: usize) -> bool {
        at < cursor
    }

    /// After `remove(at)` (elements after `at` shift left by one), the position of the element
    /// that moved from the unscanned part to below the cursor, which must be shaded.
    #[inline]
    pub fn crossed_by_remove(at: usize, cursor: usize, len_after: usize) -> Option<usize> {
        (at < cursor && cursor <= len_after).then(|| cursor - 1)
    }

    /// After the elements at `lo < hi` were exchanged (`swap`, or `swap_remove(lo)` with `hi`
    /// the old last position), the position of the element that crossed below the cursor.
    #[inline]
    pub fn crossed_by_exchange(lo: usize, hi: usize, cursor: usize) -> Option<usize> {
        (lo < cursor && cursor <= hi).then_some(lo)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_cells_rooted_flag_survives_every_borrow() {
        for rooted in [false, true] {
            let mut b = BorrowState::new();
            b.set_rooted(rooted);
            assert!(b.try_shared() && b.try_shared());
            assert!(
                !b.try_exclusive(),
                "shared borrows exclude the exclusive one"
            );
            assert!(b.try_marker());
            b.release_shared();
            b.release_shared();
            b.release_marker();
            assert!(b.try_exclusive() && b.is_exclusive());
            assert!(!b.try_shared() && !b.try_marker());
            b.release_exclusive();
            assert_eq!(b.is_rooted(), rooted);
            b.set_rooted(!rooted);
            assert_eq!(b.is_rooted(), !rooted);
            assert!(b.try_exclusive(), "idle whatever the flag");
        }
    }

    #[test]
    fn a_stop_is_called_off_while_a_thread_stays_in_an_operation() {
        let phase = AtomicU32::new(MARK);
        let (busy, idle) = (AtomicBool::new(true), AtomicBool::new(false));
        let mut patience = 3;
        let called = try_stop(&phase, [&idle, &busy], || {
            patience -= 1;
            patience > 0
        });
        assert!(!called && patience == 0);
        assert_eq!(phase.load(Ordering::SeqCst), MARK);
        assert!(try_stop(&phase, [&idle, &idle], || false));
        assert_eq!(phase.load(Ordering::SeqCst), STOP);
    }
}
