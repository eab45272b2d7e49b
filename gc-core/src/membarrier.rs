//! Asymmetric fences: a store-load fence whose whole cost is paid by the rare side.
//!
//! The operation protocol (module `protocol`) is Dekker's pattern: a mutator stores its flag and
//! loads the phase, the collector stores the phase and loads the flags, and each side needs a
//! store-load fence between the two. Mutators enter operations hundreds of millions of times a
//! second; the collector changes phase a few times a cycle. So the mutator's fence is only a
//! compiler fence ([`light`]), and the collector's ([`heavy`]) makes every running thread of the
//! process execute a full fence, with Linux's `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`
//! (an interrupt to each CPU that runs one of our threads; a thread that is not running passes a
//! full fence when it is scheduled again).
//!
//! Why Dekker's argument survives: take a mutator's flag store `F` and phase load `L` (in that
//! order in the program, with only a compiler fence between them) and the collector's phase store
//! `P`, then `heavy()`, then flag load `R`. `heavy()` puts a full fence `B` into the mutator's
//! instruction stream at some point while it runs, and the collector's own fence orders `P` before
//! it. If `B` comes after `F`, `F` is visible to everyone when `heavy()` returns, so `R` sees the
//! flag. If `B` comes before `F`, then `L` runs after `B`, which is after `P`, so `L` sees the new
//! phase. Either the collector waits for the operation, or the operation acts on the new phase:
//! exactly what the symmetric fences gave (the loom models check the protocol with a `SeqCst` fence
//! in both places, which is what `heavy()` amounts to for every thread).
//!
//! Where the system call is missing (not Linux, a kernel before 4.14, a seccomp filter, Miri), the
//! first [`init`] records it and [`light`] becomes a real `SeqCst` fence: the mutator then pays
//! what it paid before. The choice is made once and only ever moves from "undecided" (where
//! [`light`] fences for real) to a final answer; [`heavy`] makes it before acting, so a collector
//! never skips the system call while a mutator relies on it.
//!
//! This is what the JVM's and .NET's handshakes do (.NET's `FlushProcessWriteBuffers`). The
//! `membarrier` crate wraps the same call with a fallback to an `mprotect` trick; twenty lines of
//! our own keep the fallback a plain fence and the choice visible here.

use std::sync::atomic::{compiler_fence, fence, AtomicU8, Ordering};

/// Not decided yet: both sides fence.
const UNDECIDED: u8 = 0;
/// The system call works: mutators use a compiler fence, the collector the system call.
const ASYMMETRIC: u8 = 1;
/// The system call is missing: both sides fence.
const SYMMETRIC: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// The mutator's side: a compiler fence when the collector's [`heavy`] covers it, else a full
/// `SeqCst` fence.
#[inline(always)]
pub(crate) fn light() {
    if MODE.load(Ordering::Relaxed) == ASYMMETRIC {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The collector's side: a `SeqCst` fence here, and (when [`light`] relies on it) a full fence
/// on every running thread of the process before it returns.
pub(crate) fn heavy() {
    // Decided before the first heavy fence: a heavy fence that skipped the system call while a
    // mutator switched to the light one would leave that mutator unfenced.
    init();
    fence(Ordering::SeqCst);
    if MODE.load(Ordering::Acquire) == ASYMMETRIC {
        sys::barrier_all();
    }
}

/// Decides, once, whether mutators may use the light fence. Called when a thread first registers
/// with the runtime and by every [`heavy`] fence, so the collector never acts on a mode that is
/// still to change; once decided, a call costs one load.
pub(crate) fn init() {
    if MODE.load(Ordering::Acquire) != UNDECIDED {
        return;
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mode = if !crate::config::get().symmetric_fences && sys::register() {
            ASYMMETRIC
        } else {
            SYMMETRIC
        };
        MODE.store(mode, Ordering::Release);
    });
}

/// Whether mutators run without a hardware fence (for `stats()` and the benchmarks).
pub(crate) fn asymmetric() -> bool {
    MODE.load(Ordering::Relaxed) == ASYMMETRIC
}

#[cfg(all(target_os = "linux", not(miri)))]
mod sys {
    // The command numbers of linux/membarrier.h.
    const CMD_QUERY: libc::c_int = 0;
    const CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

    fn membarrier(cmd: libc::c_int) -> libc::c_long {
        // SAFETY: membarrier takes two integers and touches no memory of ours; an unknown or
        // refused command returns -1 with errno set, which the callers treat as "missing".
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_int) }
    }

    /// True if the expedited private command is supported and this process is now registered
    /// for it (registration covers every thread of the process, present and future).
    pub(super) fn register() -> bool {
        let supported = membarrier(CMD_QUERY);
        supported >= 0
            && supported & CMD_PRIVATE_EXPEDITED as libc::c_long != 0
            && membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    }

    pub(super) fn barrier_all() {
        if membarrier(CMD_PRIVATE_EXPEDITED) != 0 {
            // Registered, so the kernel cannot refuse; if it ever did, the protocol would be
            // unsound from here on, which must not pass silently.
            crate::throw::throw("membarrier(PRIVATE_EXPEDITED) failed after registration");
        }
    }
}

#[cfg(not(all(target_os = "linux", not(miri))))]
mod sys {
    pub(super) fn register() -> bool {
        false
    }
    pub(super) fn barrier_all() {}
}
