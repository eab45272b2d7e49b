//! `GCTRACE=1`: one line per cycle on stderr in the format of Go's `GODEBUG=gctrace=1`:
//!
//! `gc # @#s #%: #+#+# ms clock, #+#/#/#+# ms cpu, #->#-># MB, # MB goal, # MB stacks, # MB globals, # P`
//!
//! Each field means what Go's means, so that tools that read Go's traces read these the same:
//! - `gc #`: the cycle's number, from 1. `@#s`: seconds since the process started.
//! - `#%`: the collector's CPU time since the process started over the wall time times the cores
//!   (Go's divides by wall time × `GOMAXPROCS`), as `Stats::gc_cpu_fraction`.
//! - clock: sweep termination + concurrent mark + mark termination (the stop), wall time.
//! - cpu: sweep termination and mark termination times `P`, as Go charges its stop phases (Go's
//!   stop holds every P; tricolor's holds only the threads that try to start an operation during
//!   it, so for tricolor these two are upper bounds); the mark figures are assist / background /
//!   idle: the time allocating threads spent assisting, the CPU time of the mark workers during
//!   the mark (from /proc/thread-self/schedstat; the mark wall time times the workers where that
//!   is unavailable), and Go's idle-priority workers' time, which tricolor does not have (0).
//! - `#->#-># MB`: the heap when the cycle started, at mark termination, and marked live.
//! - `# MB goal`: the goal this cycle aimed at, so heap at mark termination − goal is the
//!   overshoot (the next cycle's goal is `Stats::next_gc`).
//! - `# MB stacks`: Go's scannable stacks are its root set; tricolor's counterpart is the root set
//!   found by the root scan (objects with a root count above zero), 16 B counted per root.
//! - `# MB globals`: 0; Go's global variables have no counterpart (a `static` holding a `Gc` is a
//!   root like any other handle and counts under stacks).
//! - `# P`: the cores the process may use (`available_parallelism`, Go's default `GOMAXPROCS`);
//!   the mark workers (`GCMARKPROCS`) are in the `GCTRACE=2` line.
//!
//! `GCTRACE=2` adds a line of detail per cycle: `workers` (background mark workers),
//! `roots` (objects found with a root count above zero), `root_scan` (its wall time), `root_spans` (the spans it visited, out of `spans`: those that may hold a root, whose headers it reads, and those with finalizer registrations), `root_jobs_assist` and `root_jobs_waiting` (its jobs that assists ran, and threads waiting at the goal), `rounds` (ragged termination rounds before the stop),
//! `stops_called_off` (termination attempts abandoned because a thread stayed inside an
//! operation, see `protocol::try_stop`),
//! `late` (objects drained inside the stop), `termination` (`collector`, or `mutator` when a thread that found the mark done ended it), `scanned bg`/`assist` (objects scanned by the
//! background workers and by allocating threads), `spans` (spans in use at mark start),
//! `swept bg` (spans the background sweeper swept after this cycle), `lazy` (spans allocating
//! threads swept since the previous line), `freed` (objects freed by the background sweep),
//! `weak_cleared` and `finalizers` (queued), `external stop`/`swept` (memory outside the heap at
//! the stop and after the sweep), `scavenged`, `black` (what the mutator allocated black during
//! the mark: in the marked heap, but left out of the next goal, `pacer::end_cycle`) and
//! `next_goal`.

use crate::cputime::START;
use crate::locks::Mutex;
use crate::mstats::{gc_cpu_fraction, CycleStats, Trigger};
use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Go's `fmtNSAsMS`: whole milliseconds from 10 ms up, else two significant digits.
pub(crate) fn fmt_ms(ns: u128) -> String {
    if ns >= 10_000_000 {
        return (ns / 1_000_000).to_string();
    }
    let mut x = ns / 1000;
    if x == 0 {
        return "0".into();
    }
    let mut dec = 3;
    while x >= 100 {
        x /= 10;
        dec -= 1;
    }
    let p = 10u128.pow(dec);
    if dec == 0 {
        x.to_string()
    } else {
        format!("{}.{:0width$}", x / p, x % p, width = dec as usize)
    }
}

/// The cycle's line (and, with `detail`, its `GCTRACE=2` line).
pub(crate) fn format(c: &CycleStats, detail: bool) -> String {
    let n = c.n;
    let since = c.start.saturating_duration_since(*START).as_secs_f64();
    let pct = (gc_cpu_fraction().clamp(0.0, 1.0) * 100.0) as u64;
    let ms = |d: Duration| fmt_ms(d.as_nanos());
    let procs = crate::cputime::procs();
    let (st, mk, mt) = (ms(c.sweep_term), ms(c.mark), ms(c.pause));
    let (st_cpu, mt_cpu) = (ms(c.sweep_term * procs), ms(c.pause * procs));
    let (assist, bg) = (ms(c.assist_cpu), ms(c.background_cpu));
    let mut s = String::new();
    if c.trigger == Trigger::Timer {
        s.push_str("GC forced\n");
    }
    let _ = write!(
        s,
        "gc {n} @{since:.3}s {pct}%: {st}+{mk}+{mt} ms clock, {st_cpu}+{assist}/{bg}/0+{mt_cpu} ms cpu, \
         {}->{}->{} MB, {} MB goal, {} MB stacks, 0 MB globals, {} P",
        c.heap0 >> 20,
        c.heap1 >> 20,
        c.marked >> 20,
        c.goal >> 20,
        (c.roots * 16) >> 20,
        procs,
    );
    if c.trigger == Trigger::Forced {
        s.push_str(" (forced)");
    }
    if detail {
        let _ = write!(
            s,
            "\ngc {n} detail: workers={} roots={} root_scan={}ms root_spans={} root_jobs_assist={} root_jobs_waiting={} rounds={} stops_called_off={} late={} termination={} \
             scanned bg={} assist={} \
             spans={} swept bg={} lazy={} credit={} waiting={} freed={} weak_cleared={} finalizers={} \
             external stop={}MB swept={}MB scavenged={}MB black={}MB next_goal={}MB",
            c.workers,
            c.roots,
            fmt_ms(c.root_scan.as_nanos()),
            c.root_spans,
            c.root_jobs_assist,
            c.root_jobs_waiting,
            c.rounds,
            c.stops_called_off,
            c.late,
            if c.terminated_by_mutator {
                "mutator"
            } else {
                "collector"
            },
            c.scanned_bg,
            c.scanned_assist,
            c.spans,
            c.swept,
            c.swept_lazily,
            c.swept_credit,
            c.swept_waiting,
            c.freed,
            c.weak_cleared,
            c.finalizers,
            c.external_at_stop >> 20,
            c.external >> 20,
            c.scavenged >> 20,
            c.black >> 20,
            c.next_goal >> 20,
        );
    }
    s
}

/// The trace level `set_gctrace` chose; `UNSET` until it is called (then `GCTRACE` rules).
static LEVEL: AtomicU32 = AtomicU32::new(UNSET);
const UNSET: u32 = u32::MAX;

/// Where the lines go instead of stderr (`set_gctrace_writer`). Lock order: a leaf.
static WRITER: Mutex<Option<Box<dyn Write + Send>>> = Mutex::new(None);

/// The trace level in force: `set_gctrace`'s, else `GCTRACE`'s.
pub(crate) fn level() -> u32 {
    match LEVEL.load(Ordering::Relaxed) {
        UNSET => u32::from(crate::config::get().trace),
        l => l,
    }
}

/// Sets the trace level, as `GCTRACE` does at startup: 0 (off), 1 (one line per cycle) or 2
/// (and a detail line). Returns the previous level. Takes effect from the next cycle's end.
///
/// # Panics
/// If `level` is above 2.
///
/// # Example
/// ```
/// let before = tricolor_gc::set_gctrace(0);
/// tricolor_gc::collect(); // no line
/// tricolor_gc::set_gctrace(before);
/// ```
pub fn set_gctrace(level: u32) -> u32 {
    assert!(
        level <= 2,
        "set_gctrace: the levels are 0, 1 and 2, not {level}"
    );
    let old = self::level();
    LEVEL.store(level, Ordering::Relaxed);
    old
}

/// Sends the trace lines to `writer` instead of stderr (`None`: back to stderr). Whether lines
/// are written is still the trace level's choice ([`set_gctrace`] or `GCTRACE`). The collector
/// thread writes each cycle's line when the cycle has ended, sweep included, before `collect()`
/// returns, so a writer that blocks delays the next cycle: hand slow destinations a channel.
/// Write errors are ignored, as they are for stderr.
///
/// # Example
/// ```
/// use std::io::Write;
/// use std::sync::{Arc, Mutex};
///
/// #[derive(Clone, Default)]
/// struct Lines(Arc<Mutex<Vec<u8>>>);
/// impl Write for Lines {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
///         self.0.lock().unwrap().extend_from_slice(b);
///         Ok(b.len())
///     }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let lines = Lines::default();
/// tricolor_gc::set_gctrace_writer(Some(Box::new(lines.clone())));
/// let before = tricolor_gc::set_gctrace(1);
/// tricolor_gc::collect();
/// tricolor_gc::set_gctrace(before);
/// tricolor_gc::set_gctrace_writer(None);
/// let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
/// assert!(text.lines().any(|l| l.starts_with("gc ") && l.ends_with("(forced)")));
/// ```
pub fn set_gctrace_writer(writer: Option<Box<dyn Write + Send>>) {
    *WRITER.lock() = writer;
}

/// Writes the cycle's line(s) where they go, if the trace level asks for them.
pub(crate) fn print(c: &CycleStats) {
    let level = level();
    if level == 0 {
        return;
    }
    let text = format(c, level > 1);
    let mut w = WRITER.lock();
    match w.as_mut() {
        Some(w) => {
            let _ = writeln!(w, "{text}");
            let _ = w.flush();
        }
        None => crate::throw::stderr_line(&text),
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_ms;
    #[test]
    fn go_rounding() {
        assert_eq!(fmt_ms(0), "0");
        assert_eq!(fmt_ms(999), "0");
        assert_eq!(fmt_ms(26_000), "0.026");
        assert_eq!(fmt_ms(390_000), "0.39");
        assert_eq!(fmt_ms(5_500_000), "5.5");
        assert_eq!(fmt_ms(9_999_999), "9.9");
        assert_eq!(fmt_ms(12_345_678), "12");
        assert_eq!(fmt_ms(1_000), "0.001");
    }
}
