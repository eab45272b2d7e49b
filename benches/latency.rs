//! Latency ring: a window of 200,000 messages of 1 KiB, 1,000,000 pushes; each push allocates a
//! message and drops the one it replaces. Reports the worst push and its percentiles for `Arc`
//! and tricolor, measured in the same run, plus tricolor's stop times. `cargo bench --bench
//! latency` (`-- --quick` for a smoke run).

mod common;
use common::*;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use tricolor::{Finalize, Gc, Trace};

const SIZE: usize = 1024;

#[derive(Trace, Finalize)]
struct Msg {
    bytes: [u8; SIZE - 16],
}

fn report(name: &str, mut ns: Vec<u64>, wall: f64) {
    ns.sort_unstable();
    println!(
        "| {name} | {:.3} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} |",
        *ns.last().unwrap() as f64 / 1e6,
        pct(&ns, 99.0) as f64 / 1e3,
        pct(&ns, 99.9) as f64 / 1e3,
        pct(&ns, 99.99) as f64 / 1e3,
        pct(&ns, 50.0) as f64 / 1e3,
        wall
    );
}

fn main() {
    let quick = quick();
    let window = if quick { 2_000 } else { 200_000 };
    let pushes = if quick { 10_000 } else { 1_000_000 };
    println!("window {window} x {SIZE} B, {pushes} pushes\n");
    println!("| peer | worst (ms) | p99 (us) | p99.9 (us) | p99.99 (us) | p50 (us) | wall (s) |");
    println!("|---|---|---|---|---|---|---|");
    {
        let mut ring: Vec<Option<Arc<[u8; SIZE]>>> = vec![None; window];
        let mut ns = Vec::with_capacity(pushes);
        let t0 = Instant::now();
        for i in 0..pushes {
            let t = Instant::now();
            let m = Arc::new([(i % 251) as u8; SIZE]);
            ring[i % window] = Some(m);
            ns.push(t.elapsed().as_nanos() as u64);
        }
        black_box(&ring);
        report("Arc", ns, t0.elapsed().as_secs_f64());
    }
    let before = tricolor::stats();
    {
        let mut ring: Vec<Option<Gc<Msg>>> = (0..window).map(|_| None).collect();
        let mut ns = Vec::with_capacity(pushes);
        let t0 = Instant::now();
        for i in 0..pushes {
            let t = Instant::now();
            let m = Gc::new(Msg {
                bytes: [(i % 251) as u8; SIZE - 16],
            });
            ring[i % window] = Some(m);
            ns.push(t.elapsed().as_nanos() as u64);
        }
        let wall = t0.elapsed().as_secs_f64();
        assert!(ring
            .iter()
            .flatten()
            .all(|m| m.bytes[0] == m.bytes[SIZE - 17]));
        report("tricolor", ns, wall);
    }
    let s = tricolor::stats();
    let n = (s.num_gc - before.num_gc).min(256) as usize;
    let mut stops: Vec<u64> = (0..n)
        .map(|k| s.pause_ns[((s.num_gc as usize) + 255 - k) % 256])
        .collect();
    stops.sort_unstable();
    println!(
        "\ntricolor: {} cycles, stops: max {:.1} us, median {:.1} us; peak RSS of the process {} MiB",
        s.num_gc - before.num_gc,
        stops.last().copied().unwrap_or(0) as f64 / 1e3,
        pct(&stops, 50.0) as f64 / 1e3,
        peak_rss_kib() / 1024
    );
}
