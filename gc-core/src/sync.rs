//! Atomics for the protocols: std's normally, loom's under `--cfg loom`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

/// The mutator's half of an asymmetric store-load fence (module `membarrier`): a compiler fence
/// when the collector's [`heavy_fence`] covers it. Under loom both halves are `SeqCst` fences,
/// which is what `heavy_fence` amounts to for every thread.
#[inline(always)]
pub(crate) fn light_fence() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
    #[cfg(not(loom))]
    crate::membarrier::light();
}

/// The collector's half: a full fence on every running thread of the process.
#[inline]
pub(crate) fn heavy_fence() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
    #[cfg(not(loom))]
    crate::membarrier::heavy();
}

/// Waits a little: spins, then yields (under loom, always yields so the model can progress).
#[inline]
pub(crate) fn spin(spins: &mut u32) {
    wait_step(spins, false);
}

/// Waits a little where the wait may last as long as user code holds something (a view of a
/// container): spins, then yields, then sleeps, doubling from 10 µs to 1 ms, so that a long wait
/// does not keep a core busy. Under loom, always yields.
#[inline]
pub(crate) fn backoff(spins: &mut u32) {
    wait_step(spins, true);
}

#[inline]
fn wait_step(spins: &mut u32, may_sleep: bool) {
    #[cfg(loom)]
    {
        let _ = (spins, may_sleep);
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        *spins = spins.saturating_add(1);
        if *spins < 64 {
            std::hint::spin_loop();
        } else if !may_sleep || *spins < 128 {
            std::thread::yield_now();
        } else {
            let k = (*spins - 128).min(7);
            std::thread::sleep(std::time::Duration::from_micros(10 << k));
        }
    }
}
