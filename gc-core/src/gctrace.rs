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

use crate::mgc::{Kind, START};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

pub(crate) struct Detail {
    pub root_scan: Duration,
    pub rounds: usize,
    pub stops_called_off: u32,
    pub late: usize,
    pub scanned_bg: usize,
    pub scanned_assist: usize,
    pub spans: usize,
    pub swept: usize,
    pub swept_lazily: usize,
    pub freed: u64,
    pub weak_cleared: usize,
    pub finalizers: usize,
}

pub(crate) struct Line {
    pub kind: Kind,
    pub start: Instant,
    pub sweep_term: Duration,
    pub mark: Duration,
    pub mark_term: Duration,
    pub assist_cpu: Duration,
    pub background_cpu: Duration,
    pub heap0: usize,
    pub heap1: usize,
    pub marked: usize,
    pub goal: usize,
    pub roots: usize,
    pub workers: usize,
    pub detail: Option<Detail>,
}

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

static NUM: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) fn format(l: &Line, n: u64) -> String {
    let since = l.start.saturating_duration_since(*START).as_secs_f64();
    let pct = (crate::stats::stats().gc_cpu_fraction.clamp(0.0, 1.0) * 100.0) as u64;
    let ms = |d: Duration| fmt_ms(d.as_nanos());
    let (st, mk, mt) = (ms(l.sweep_term), ms(l.mark), ms(l.mark_term));
    let (assist, bg) = (ms(l.assist_cpu), ms(l.background_cpu));
    let mut s = String::new();
    if l.kind == Kind::Timer {
        s.push_str("GC forced\n");
    }
    let _ = write!(
        s,
        "gc {n} @{since:.3}s {pct}%: {st}+{mk}+{mt} ms clock, {st}+{assist}/{bg}/0+{mt} ms cpu, \
         {}->{}->{} MB, {} MB goal, {} MB stacks, 0 MB globals, {} P",
        l.heap0 >> 20,
        l.heap1 >> 20,
        l.marked >> 20,
        l.goal >> 20,
        (l.roots * 16) >> 20,
        l.workers,
    );
    if l.kind == Kind::Forced {
        s.push_str(" (forced)");
    }
    if let Some(d) = &l.detail {
        let _ = write!(
            s,
            "\ngc {n} detail: roots={} root_scan={}ms rounds={} stops_called_off={} late={} \
             scanned bg={} assist={} \
             spans={} swept bg={} lazy={} freed={} weak_cleared={} finalizers={}",
            l.roots,
            fmt_ms(d.root_scan.as_nanos()),
            d.rounds,
            d.stops_called_off,
            d.late,
            d.scanned_bg,
            d.scanned_assist,
            d.spans,
            d.swept,
            d.swept_lazily,
            d.freed,
            d.weak_cleared,
            d.finalizers
        );
    }
    s
}

pub(crate) fn print(l: &Line) {
    let n = NUM.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    eprintln!("{}", format(l, n));
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
