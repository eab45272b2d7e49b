//! `GCTRACE=1`: one line per cycle on stderr in the format of Go's `GODEBUG=gctrace=1`:
//!
//! `gc # @#s #%: #+#+# ms clock, #+#/#/#+# ms cpu, #->#-># MB, # MB goal, # MB stacks, # MB globals, # P`
//!
//! The clock times are sweep termination + concurrent mark + mark termination (the stop). In the
//! cpu part, tricolor has no stop at sweep termination, so the first figure is its wall time;
//! the mark figures are assist / background / idle: the time allocating threads spent assisting,
//! and the CPU time of the mark workers during the mark (from /proc/thread-self/schedstat; the
//! mark wall time times the workers where that is unavailable); tricolor has no idle workers (0).
//! "stacks" is the size of the root set (objects with a root count above zero, 16 B counted per
//! root); globals is 0.
//! `GCTRACE=2` adds a line of detail per cycle: `roots` (objects found with a root count above
//! zero), `root_scan` (its wall time), `rounds` (ragged termination rounds before the stop),
//! `stops_called_off` (termination attempts abandoned because a thread stayed inside an
//! operation, see `protocol::try_stop`),
//! `late` (objects drained inside the stop), `scanned bg`/`assist` (objects scanned by the
//! background workers and by allocating threads), `spans` (spans in use at mark start),
//! `swept bg` (spans the background sweeper swept after this cycle), `lazy` (spans allocating
//! threads swept since the previous line), `freed` (objects freed by the background sweep),
//! `weak_cleared` and `finalizers` (queued).

use crate::cputime::START;
use crate::mstats::{gc_cpu_fraction, CycleStats, Trigger};
use std::fmt::Write as _;
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
    let (st, mk, mt) = (ms(c.sweep_term), ms(c.mark), ms(c.pause));
    let (assist, bg) = (ms(c.assist_cpu), ms(c.background_cpu));
    let mut s = String::new();
    if c.trigger == Trigger::Timer {
        s.push_str("GC forced\n");
    }
    let _ = write!(
        s,
        "gc {n} @{since:.3}s {pct}%: {st}+{mk}+{mt} ms clock, {st}+{assist}/{bg}/0+{mt} ms cpu, \
         {}->{}->{} MB, {} MB goal, {} MB stacks, 0 MB globals, {} P",
        c.heap0 >> 20,
        c.heap1 >> 20,
        c.marked >> 20,
        c.goal >> 20,
        (c.roots * 16) >> 20,
        c.workers,
    );
    if c.trigger == Trigger::Forced {
        s.push_str(" (forced)");
    }
    if detail {
        let _ = write!(
            s,
            "\ngc {n} detail: roots={} root_scan={}ms rounds={} stops_called_off={} late={} \
             scanned bg={} assist={} \
             spans={} swept bg={} lazy={} freed={} weak_cleared={} finalizers={} \
             external stop={}MB swept={}MB scavenged={}MB",
            c.roots,
            fmt_ms(c.root_scan.as_nanos()),
            c.rounds,
            c.stops_called_off,
            c.late,
            c.scanned_bg,
            c.scanned_assist,
            c.spans,
            c.swept,
            c.swept_lazily,
            c.freed,
            c.weak_cleared,
            c.finalizers,
            c.external_at_stop >> 20,
            c.external >> 20,
            c.scavenged >> 20,
        );
    }
    s
}

/// Prints the cycle's line on stderr.
pub(crate) fn print(c: &CycleStats, detail: bool) {
    eprintln!("{}", format(c, detail));
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
