//! CPU time of threads and of the process, for the collector's CPU accounting (`GCTRACE`'s cpu
//! fields and `%`, `Stats::gc_cpu_fraction`).

use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// When the process started (as Go's `runtimeInitTime`): the origin of `GCTRACE`'s `@` and of
/// the CPU fraction's wall time. Read once, when the runtime is first used; where the process's
/// age is unknown, that moment.
pub(crate) static START: LazyLock<Instant> = LazyLock::new(|| {
    let now = Instant::now();
    process_age()
        .and_then(|age| now.checked_sub(age))
        .unwrap_or(now)
});

/// How long ago the process started (Linux: its start time in clock ticks since boot, from
/// /proc/self/stat, against the uptime; a 10 ms resolution).
#[cfg(target_os = "linux")]
fn process_age() -> Option<Duration> {
    if cfg!(miri) {
        return None; // Miri cannot call sysconf
    }
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    // The command name may hold spaces and parentheses: the fields that follow it start after
    // the last ')', with the state (field 3); the start time is field 22.
    let start_ticks: u64 = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(22 - 3)?
        .parse()
        .ok()?;
    let up: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    let age = up - start_ticks as f64 / hz as f64;
    (age >= 0.0).then(|| Duration::from_secs_f64(age))
}

#[cfg(not(target_os = "linux"))]
fn process_age() -> Option<Duration> {
    None
}

/// The cores the process may use: `GCTRACE`'s `P` and the CPU fraction's denominator, as Go's
/// `GOMAXPROCS` defaults to them.
pub(crate) fn procs() -> u32 {
    static CORES: LazyLock<u32> =
        LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get()) as u32);
    *CORES
}

/// CPU time of the calling thread, if known (Linux: `CLOCK_THREAD_CPUTIME_ID`). Exact to the
/// call, unlike /proc/thread-self/schedstat, which it replaces: that file counts a running
/// thread's time only up to its last tick or switch, so a mark worker timing its own part of a
/// cycle read 0 for a 2 ms drain.
#[cfg(target_os = "linux")]
pub(crate) fn thread_cpu() -> Option<Duration> {
    if cfg!(miri) {
        return None; // Miri does not model per-thread CPU clocks; the estimates do there
    }
    // Zeroed rather than named field by field: on some 32-bit musl targets `timespec` has a
    // private padding field (review finding, 2026-12-07).
    // SAFETY: `timespec` is plain integers, for which all-zero bytes are a valid value.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid, writable `timespec`, and the clock is one every Linux has.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (r == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn thread_cpu() -> Option<Duration> {
    None
}

/// The CPU time available to the process since the runtime started: the wall time times the
/// cores (Go's denominator for `GCCPUFraction` and gctrace's `%`: wall time × `GOMAXPROCS`).
/// No system call: `stats()` and every `GCTRACE` line read it.
pub(crate) fn available_cpu_since_start() -> Duration {
    START.elapsed() * procs()
}
