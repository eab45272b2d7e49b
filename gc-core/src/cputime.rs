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

/// Process CPU time since the runtime started (Linux: /proc/self/stat; elsewhere wall time
/// times cores).
pub(crate) fn process_cpu_since_start() -> Duration {
    if cfg!(miri) {
        return START.elapsed();
    }
    if let Ok(s) = std::fs::read_to_string("/proc/self/stat") {
        if let Some(rest) = s.rsplit(')').next() {
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() > 13 {
                let ticks: u64 =
                    f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
                return Duration::from_millis(ticks * 10);
            }
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    START.elapsed() * cores
}
