//! Mark-termination stop times, measured, never asserted. `cargo bench --bench stop_times`
//! (`-- --quick`: smaller sizes; `-- --specials-only`: the second part alone).
//!
//! 1. A large live heap: about 1 GiB (1 KiB objects reachable from one root through a spine of
//!    1,000-element nodes), forced cycles, every stop from `stats()`.
//! 2. Weak references and finalizers, at 100,000 and 1,000,000 objects (10,000 and 100,000 with
//!    `--quick`), each a small object in one `GcVec`: with a `Weak` each, live, then dying; with
//!    a finalizer each (a type already known to have one), live, then dying; and dying with a
//!    finalizer of a type not known yet (the resurrection pass and its second stop). Each
//!    cycle's pause is the sum of its stops.

mod common;
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tricolor_gc::{collect, run_finalizers, Finalize, Gc, GcVec, Trace, Weak};

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
    if !std::env::args().any(|a| a == "--specials-only") {
        big_heap(quick);
    }
    let sizes: [usize; 2] = if quick {
        [10_000, 100_000]
    } else {
        [100_000, 1_000_000]
    };
    println!();
    println!("weak references and finalizers: the pauses of each forced cycle (us)");
    println!("| objects | what | cycles' pauses (us) | longest |");
    println!("|---|---|---|---|");
    for n in sizes {
        specials(n);
    }
    println!("peak RSS {} MiB", peak_rss_kib() / 1024);
}

/// The pauses of the last `k` cycles, oldest first.
fn last_pauses(k: usize) -> Vec<f64> {
    let s = tricolor_gc::stats();
    (0..k)
        .rev()
        .map(|j| s.pause_ns[((s.num_gc as usize) + 255 - j) % 256] as f64 / 1e3)
        .collect()
}

/// Runs `cycles` forced cycles and prints their pauses as one row.
fn row(n: usize, what: &str, cycles: usize) {
    let before = tricolor_gc::stats().num_gc;
    for _ in 0..cycles {
        collect();
        run_finalizers();
    }
    let ran = (tricolor_gc::stats().num_gc - before) as usize;
    let p = last_pauses(ran);
    let max = p.iter().cloned().fold(0.0, f64::max);
    println!("| {n} | {what} | {p:.1?} | {max:.1} |");
}

#[derive(Trace, Finalize)]
struct Small {
    id: u64,
}

static KNOWN: AtomicUsize = AtomicUsize::new(0);
#[derive(Trace)]
struct WithFinalizer {
    id: u64,
}
impl Finalize for WithFinalizer {
    fn finalize(&self) {
        KNOWN.fetch_add(1, Ordering::Relaxed);
    }
}

/// A fresh type for each size, so that its first objects die unknown.
macro_rules! fresh {
    ($name:ident, $count:ident) => {
        static $count: AtomicUsize = AtomicUsize::new(0);
        #[derive(Trace)]
        struct $name {
            id: u64,
        }
        impl Finalize for $name {
            fn finalize(&self) {
                $count.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
}
fresh!(FreshA, FRESH_A);
fresh!(FreshB, FRESH_B);

fn specials(n: usize) {
    // Weak references: one per object.
    let v: Gc<GcVec<Gc<Small>>> = Gc::new((0..n as u64).map(|id| Gc::new(Small { id })).collect());
    let w: Vec<Weak<Small>> = v.view().iter().map(Gc::downgrade).collect();
    row(n, "live, a `Weak` each", 3);
    drop(v);
    row(n, "dying, a `Weak` each", 2);
    assert!(w.iter().all(|w| w.upgrade().is_none()));
    drop(w);

    // Finalizers of a type known to have one (taught by one object first).
    if KNOWN.load(Ordering::Relaxed) == 0 {
        drop(Gc::new(WithFinalizer { id: 0 }));
        collect();
        run_finalizers();
    }
    let k0 = KNOWN.load(Ordering::Relaxed);
    let v: Gc<GcVec<Gc<WithFinalizer>>> = Gc::new(
        (0..n as u64)
            .map(|id| Gc::new(WithFinalizer { id }))
            .collect(),
    );
    row(n, "live, a finalizer each", 3);
    drop(v);
    row(n, "dying, a finalizer each", 3);
    assert_eq!(KNOWN.load(Ordering::Relaxed) - k0, n);

    // Finalizers of a type not known yet: resurrected by the concurrent pass.
    if FRESH_A.load(Ordering::Relaxed) == 0 {
        dying_unknown(n, |id| FreshA { id }, &FRESH_A);
    } else {
        dying_unknown(n, |id| FreshB { id }, &FRESH_B);
    }
}

fn dying_unknown<T: Trace + Finalize + Send + Sync + 'static>(
    n: usize,
    make: fn(u64) -> T,
    ran: &AtomicUsize,
) {
    let v: Gc<GcVec<Gc<T>>> = Gc::new((0..n as u64).map(|id| Gc::new(make(id))).collect());
    drop(v);
    row(n, "dying, a finalizer each, type not known yet", 3);
    assert_eq!(ran.load(Ordering::Relaxed), n);
}

fn big_heap(quick: bool) {
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
    let before = tricolor_gc::stats().num_gc;
    let mut cycle_ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        collect();
        cycle_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let s = tricolor_gc::stats();
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
    drop(root);
    collect();
}
