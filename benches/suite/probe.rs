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
}

impl Probe {
    pub fn new(on: bool) -> Probe {
        Probe {
            on,
            worst: Duration::ZERO,
        }
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
}

impl Outcome {
    pub fn to_line(&self) -> String {
        let opt = |d: Option<Duration>| d.map_or(-1, |d| d.as_nanos() as i64);
        format!(
            "RESULT check={} wall_ns={} cpu_ns={} rss_kib={} worst_ns={} stop_ns={} cycles={}",
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
    }
}

/// tricolor's own figures for the run: its longest stop and its number of cycles.
pub fn tricolor_stats(o: &mut Outcome) {
    let s = tricolor::stats();
    o.stop = Some(Duration::from_nanos(*s.pause_ns.iter().max().unwrap_or(&0)));
    o.cycles = Some(s.num_gc);
}
