//! Mark-termination stop times on a large live heap: builds a heap of about 1 GiB (1 KiB
//! objects reachable from one root through a spine of 1,000-element nodes), runs forced cycles
//! and reports every stop from `stats()`. `cargo bench --bench stop_times` (`-- --quick`:
//! 32 MiB). Stops are measured, never asserted.

mod common;
use common::*;
use std::time::Instant;
use tricolor::{collect, Finalize, Gc, Trace};

#[derive(Trace, Finalize)]
struct Leaf {
    bytes: [u8; 1000],
}

#[derive(Trace, Finalize)]
struct Spine {
    leaves: Vec<Gc<Leaf>>,
}

fn main() {
    let quick = quick();
    let target: usize = if quick { 32 << 20 } else { 1 << 30 };
    let per = 1000;
    let leaves = target / 1024;
    let t0 = Instant::now();
    let root: Gc<Vec<Gc<Spine>>> = Gc::new(
        (0..leaves / per)
            .map(|s| {
                Gc::new(Spine {
                    leaves: (0..per)
                        .map(|i| {
                            Gc::new(Leaf {
                                bytes: [((s + i) % 251) as u8; 1000],
                            })
                        })
                        .collect(),
                })
            })
            .collect(),
    );
    let build = t0.elapsed();
    let before = tricolor::stats().num_gc;
    let mut cycle_ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        collect();
        cycle_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let s = tricolor::stats();
    let n = (s.num_gc - before) as usize;
    let stops: Vec<f64> = (0..n)
        .map(|k| s.pause_ns[((s.num_gc as usize) + 255 - k) % 256] as f64 / 1e3)
        .collect();
    let ok = root
        .iter()
        .all(|sp| sp.leaves.iter().all(|l| l.bytes[0] == l.bytes[999]));
    println!(
        "live heap {} MiB ({} objects) built in {:.2} s; heap_alloc {} MiB; intact: {ok}",
        s.heap_live >> 20,
        leaves + leaves / per + 1,
        build.as_secs_f64(),
        s.heap_alloc >> 20
    );
    println!("forced cycles (ms, whole cycle incl. concurrent mark and sweep): {cycle_ms:.1?}");
    println!("mark-termination stops (us): {stops:.1?}");
    println!("peak RSS {} MiB", peak_rss_kib() / 1024);
}
