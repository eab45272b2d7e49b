//! What a child process measures about itself: wall and CPU time, peak RSS, and (in a probe run)
//! the longest single operation the mutator saw.

pub use crate::common::peak_rss_kib;
use std::time::{Duration, Instant};

/// Times single operations when switched on; a plain call otherwise. Throughput runs leave it
/// off (the two clock reads per operation would distort them); one extra run per peer switches
/// it on to find the worst pause the program itself experienced, whatever caused it (a
/// stop-the-world collection inside an allocation, an incremental step, a recursive free).
pub struct Probe {
    on: bool,
    pub worst: Duration,
    /// Workload-specific figures (percentiles, ns per object) for the report.
    pub extra: Vec<(String, i64)>,
    /// Workload-specific series for the plots: (name, points).
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

impl Probe {
    pub fn new(on: bool) -> Probe {
        Probe {
            on,
            worst: Duration::ZERO,
            extra: Vec::new(),
            series: Vec::new(),
        }
    }

    /// Records a named figure for the report.
    pub fn note(&mut self, key: &str, value: i64) {
        self.extra.push((key.to_string(), value));
    }

    #[inline(always)]
    pub fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        if !self.on {
            return f();
        }
        let t = Instant::now();
        let r = f();
        let d = t.elapsed();
        if d > self.worst {
            self.worst = d;
        }
        r
    }
}

/// Process CPU time (user + system, all threads), to the nanosecond.
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-parameter for the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// One child's result. `stop` and `cycles` are what the collector itself reports, where it
/// reports anything (tricolor's stats, Go's MemStats).
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub check: u64,
    pub wall: Duration,
    pub cpu: Duration,
    pub rss_kib: u64,
    pub worst_op: Option<Duration>,
    pub stop: Option<Duration>,
    pub cycles: Option<u64>,
    pub extra: Vec<(String, i64)>,
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

impl Outcome {
    /// A workload-specific figure, if the child reported it.
    pub fn get(&self, key: &str) -> Option<i64> {
        self.extra.iter().find(|(k, _)| k == key).map(|e| e.1)
    }

    /// The `RESULT` line (after any `SERIES` lines), as the Go programs print it too.
    pub fn to_line(&self) -> String {
        let opt = |d: Option<Duration>| d.map_or(-1, |d| d.as_nanos() as i64);
        let mut out = String::new();
        for (name, pts) in &self.series {
            out += &format!("SERIES {name}");
            for (x, y) in pts {
                out += &format!(" {x},{y}");
            }
            out.push('\n');
        }
        let extra: String = self
            .extra
            .iter()
            .map(|(k, v)| format!(" x.{k}={v}"))
            .collect();
        out + &format!(
            "RESULT check={} wall_ns={} cpu_ns={} rss_kib={} worst_ns={} stop_ns={} cycles={}{extra}",
            self.check,
            self.wall.as_nanos(),
            self.cpu.as_nanos(),
            self.rss_kib,
            opt(self.worst_op),
            opt(self.stop),
            self.cycles.map_or(-1, |c| c as i64)
        )
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        let line = text.lines().find(|l| l.starts_with("RESULT "))?;
        let mut o = Outcome::default();
        for l in text.lines().filter_map(|l| l.strip_prefix("SERIES ")) {
            let mut f = l.split_whitespace();
            let name = f.next()?.to_string();
            let pts = f
                .filter_map(|p| {
                    let (x, y) = p.split_once(',')?;
                    Some((x.parse().ok()?, y.parse().ok()?))
                })
                .collect();
            o.series.push((name, pts));
        }
        for kv in line.split_whitespace().skip(1) {
            let (k, v) = kv.split_once('=')?;
            let n: i64 = v.parse().ok()?;
            let d = (n >= 0).then(|| Duration::from_nanos(n as u64));
            match k {
                "check" => o.check = n as u64,
                "wall_ns" => o.wall = d?,
                "cpu_ns" => o.cpu = d?,
                "rss_kib" => o.rss_kib = n as u64,
                "worst_ns" => o.worst_op = d,
                "stop_ns" => o.stop = d,
                "cycles" => o.cycles = (n >= 0).then_some(n as u64),
                k if k.starts_with("x.") => o.extra.push((k[2..].to_string(), n)),
                _ => {}
            }
        }
        Some(o)
    }
}

/// Runs `f` (which returns a checksum) and measures it.
pub fn measure(probe: bool, f: impl FnOnce(&mut Probe) -> u64) -> Outcome {
    let mut p = Probe::new(probe);
    let cpu0 = cpu_time();
    let t = Instant::now();
    let check = f(&mut p);
    let wall = t.elapsed();
    Outcome {
        check,
        wall,
        cpu: cpu_time().saturating_sub(cpu0),
        rss_kib: peak_rss_kib(),
        worst_op: probe.then_some(p.worst),
        stop: None,
        cycles: None,
        extra: p.extra,
        series: p.series,
    }
}

/// tricolor's own figures for the run: its longest stop and its number of cycles.
pub fn tricolor_stats(o: &mut Outcome) {
    let s = tricolor_gc::stats();
    o.stop = Some(Duration::from_nanos(*s.pause_ns.iter().max().unwrap_or(&0)));
    o.cycles = Some(s.num_gc);
}
