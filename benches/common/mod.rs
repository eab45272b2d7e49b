//! A small harness shared by the benchmarks: runs candidates side by side, alternating, and
//! reports medians and ratios. No timing is asserted anywhere; these are measurements.
#![allow(dead_code)]

pub mod weak_peers;

use std::time::{Duration, Instant};

/// Process CPU time (user + system), from /proc/self/stat on Linux.
pub fn cpu_time() -> Duration {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((t(11) + t(12)) * 10)
}

/// Peak resident set size in KiB (VmHWM).
pub fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub struct Sample {
    pub wall: Duration,
}

/// Runs each candidate `reps` times in alternation; returns the median wall time of each.
pub fn alternate(reps: usize, cands: &mut [(&str, &mut dyn FnMut())]) -> Vec<(String, Duration)> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); cands.len()];
    for _ in 0..reps {
        for (i, (_, f)) in cands.iter_mut().enumerate() {
            let t = Instant::now();
            f();
            times[i].push(t.elapsed());
        }
    }
    cands
        .iter()
        .zip(times)
        .map(|((n, _), mut t)| {
            t.sort();
            (n.to_string(), t[t.len() / 2])
        })
        .collect()
}

/// Percentile (0..=100) of sorted nanosecond samples.
pub fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[i]
}

pub fn arg(name: &str, default: usize) -> usize {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}
