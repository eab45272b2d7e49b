//! CPU time of threads and of the process, for the collector's CPU accounting (`GCTRACE`'s cpu
//! fields and `%`, `Stats::gc_cpu_fraction`).

use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// When the runtime was first used: the origin of `GCTRACE`'s `@` and of the CPU fraction.
pub(crate) static START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// CPU time of the calling thread (Linux: /proc/thread-self/schedstat, nanoseconds), if known.
pub(crate) fn thread_cpu() -> Option<Duration> {
    if cfg!(miri) {
        return None; // Miri's file access bypasses its machine; the estimates do there
    }
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The CPU time available to the process since the runtime started: the wall time times the
/// cores (Go's denominator for `GCCPUFraction` and gctrace's `%`: wall time × `GOMAXPROCS`).
/// No system call: `stats()` and every `GCTRACE` line read it.
pub(crate) fn available_cpu_since_start() -> Duration {
    static CORES: LazyLock<u32> =
        LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get()) as u32);
    START.elapsed() * *CORES
}
