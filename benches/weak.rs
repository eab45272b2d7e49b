//! `downgrade` and `upgrade` against `Arc`'s and `Rc`'s, in three access patterns, each at two
//! sizes 10× apart (the cost must not grow with the number of weak references, beyond what the
//! caches explain for every peer alike):
//! - `hot`: one weak reference upgraded over and over (the fixed cost of the call);
//! - `in order`: `n` objects visited in allocation order;
//! - `random`: the same objects in a seeded random order (an intern table's pattern).
//!
//! Then first downgrades from one thread and from two (each its own objects): whether
//! `downgrade` scales across threads. Also the cost of `crossbeam_epoch::pin()`, which an epoch-based design would add to every
//! `upgrade` on top of the collector operation `upgrade` needs anyway (DESIGN-NOTES.md).
//!
//! Candidates run alternately; medians of the rounds. `cargo bench --bench weak` (`-- --quick`:
//! 10,000 and 100,000 objects instead of 100,000 and 1,000,000).

mod common;
use common::*;
use std::hint::black_box;
use std::time::Instant;

use common::weak_peers::{ArcPeer, RcPeer, Tricolor, WeakPeer as Peer};

/// ns per operation of: (hot upgrade, downgrade, upgrade) for `n` objects visited in `order`.
fn measure<P: Peer>(n: usize, order: &[usize]) -> [f64; 3] {
    let objs: Vec<P::Strong> = (0..n as u64).map(P::new).collect();
    let weak: Vec<P::Weak> = objs.iter().map(P::downgrade).collect();
    let hot = P::downgrade(&objs[0]);
    let t = Instant::now();
    for _ in 0..n {
        black_box(P::upgrade(black_box(&hot)));
    }
    let h = t.elapsed().as_nanos() as f64 / n as f64;
    let mut more = Vec::with_capacity(n);
    let t = Instant::now();
    for &i in order {
        more.push(P::downgrade(&objs[i]));
    }
    let d = t.elapsed().as_nanos() as f64 / n as f64;
    let t = Instant::now();
    let mut sum = 0;
    for &i in order {
        sum += P::upgrade(&weak[i]).expect("alive");
    }
    black_box(sum);
    let u = t.elapsed().as_nanos() as f64 / n as f64;
    [h, d, u]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let sizes: [usize; 2] = if quick() {
        [10_000, 100_000]
    } else {
        [100_000, 1_000_000]
    };
    let reps = arg("--reps", 5);
    println!("ns per operation, median of {reps} rounds; ratio = tricolor / Arc");
    println!("| objects | order | operation | tricolor | Arc | Rc | tricolor / Arc |");
    println!("|---|---|---|---|---|---|---|");
    for n in sizes {
        for random in [false, true] {
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            let order: Vec<usize> = (0..n)
                .map(|i| {
                    if random {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x % n as u64) as usize
                    } else {
                        i
                    }
                })
                .collect();
            let mut r: [[Vec<f64>; 3]; 3] = Default::default();
            for _ in 0..reps {
                for (p, m) in [
                    measure::<Tricolor>(n, &order),
                    measure::<ArcPeer>(n, &order),
                    measure::<RcPeer>(n, &order),
                ]
                .into_iter()
                .enumerate()
                {
                    for k in 0..3 {
                        r[p][k].push(m[k]);
                    }
                }
            }
            let what = if random { "random" } else { "in order" };
            for (k, op) in ["upgrade (hot)", "downgrade", "upgrade"].iter().enumerate() {
                if k == 0 && random {
                    continue;
                }
                let [t, a, c] = [0, 1, 2].map(|p| median(r[p][k].clone()));
                let order = if k == 0 { "one object" } else { what };
                println!(
                    "| {n} | {order} | {op} | {t:.1} | {a:.1} | {c:.1} | {:.2} |",
                    t / a
                );
            }
        }
    }
    println!(
        "\nfirst downgrades of {} objects per thread, ns of wall time per operation",
        sizes[0]
    );
    for threads in [1, 2] {
        let objs: Vec<Vec<tricolor_gc::Gc<u64>>> = (0..threads)
            .map(|_| (0..sizes[0] as u64).map(tricolor_gc::Gc::new).collect())
            .collect();
        let t = Instant::now();
        let weak: Vec<Vec<tricolor_gc::Weak<u64>>> = std::thread::scope(|s| {
            let hs: Vec<_> = objs
                .iter()
                .map(|o| s.spawn(move || o.iter().map(tricolor_gc::Gc::downgrade).collect()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ns = t.elapsed().as_nanos() as f64 / (sizes[0] * threads) as f64;
        println!("{threads} thread(s): {ns:.1} ns");
        drop(weak);
    }
    let n = 10_000_000;
    let t = Instant::now();
    for _ in 0..n {
        black_box(crossbeam_epoch::pin());
    }
    println!(
        "\ncrossbeam_epoch::pin() + unpin: {:.1} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
