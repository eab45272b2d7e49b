//! `GcAllocator` (issue #19): what its counting costs per allocation, and what it does for a
//! program whose garbage is mostly buffers.
//!
//! 1. `alloc` + `dealloc` pairs through `GcAllocator` against the system allocator called
//!    directly, for 16 B, 64 B and 1 KiB (median of alternating runs).
//! 2. The buffers workload: 262,144 `Gc<Vec<u8>>` of 1 KiB each (256 MiB) with 8,192 (8 MiB)
//!    live, with `GcAllocator` as the global allocator and again in a child process without it
//!    (`--plain`): automatic cycles, peak RSS, wall time.
//!
//! `cargo bench --bench gc_allocator` (`-- --quick` for a smoke run).

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tricolor_gc::{Gc, GcAllocator};

/// Counted unless `--plain` switched it off first thing in `main` (what the runtime allocated
/// before `main` is a few hundred bytes, counted and later freed uncounted: it cannot matter).
static COUNTED: AtomicBool = AtomicBool::new(true);
static GC_ALLOC: GcAllocator = GcAllocator::new();

struct Switch;

// SAFETY: forwards every call to `GC_ALLOC` or to `System`, which wraps the same system
// allocator, so a block allocated by one may be freed by the other.
unsafe impl GlobalAlloc for Switch {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe {
            if COUNTED.load(Ordering::Relaxed) {
                GC_ALLOC.alloc(l)
            } else {
                System.alloc(l)
            }
        }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded.
        unsafe {
            if COUNTED.load(Ordering::Relaxed) {
                GC_ALLOC.dealloc(p, l)
            } else {
                System.dealloc(p, l)
            }
        }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe {
            if COUNTED.load(Ordering::Relaxed) {
                GC_ALLOC.realloc(p, l, n)
            } else {
                System.realloc(p, l, n)
            }
        }
    }
}

#[global_allocator]
static ALLOC: Switch = Switch;

fn pairs<A: GlobalAlloc>(a: &A, size: usize, n: usize) {
    let l = Layout::from_size_align(size, 8).unwrap();
    for _ in 0..n {
        // SAFETY: a non-zero layout; the block is freed with the same allocator and layout.
        unsafe {
            let p = a.alloc(l);
            black_box(p);
            a.dealloc(p, l);
        }
    }
}

fn per_allocation(n: usize, reps: usize) {
    println!("alloc + dealloc, ns per pair (median of {reps} alternating runs of {n})\n");
    println!("| size | System | GcAllocator | added |");
    println!("|---|---|---|---|");
    for size in [16, 64, 1024] {
        let counted = GcAllocator::new();
        let mut fs = || pairs(&System, size, n);
        let mut fg = || pairs(&counted, size, n);
        let mut cands: Vec<(&str, &mut dyn FnMut())> =
            vec![("System", &mut fs), ("GcAllocator", &mut fg)];
        let r = alternate(reps, &mut cands);
        let per = |i: usize| r[i].1.as_nanos() as f64 / n as f64;
        println!(
            "| {size} B | {:.2} | {:.2} | {:.2} |",
            per(0),
            per(1),
            per(1) - per(0)
        );
    }
}

/// The buffers workload; prints one table row.
fn buffers(objects: usize, live: usize, label: &str) {
    let t = Instant::now();
    let mut ring: Vec<Option<Gc<Vec<u8>>>> = vec![None; live];
    for i in 0..objects {
        ring[i % live] = Some(Gc::new(vec![i as u8; 1024]));
    }
    let sum: u64 = ring.iter().flatten().map(|b| b[0] as u64).sum();
    black_box(sum);
    let wall = t.elapsed();
    let s = tricolor_gc::stats();
    println!(
        "| {label} | {} | {} MiB | {:.1} ms |",
        s.num_gc - s.num_forced_gc,
        peak_rss_kib() >> 10,
        wall.as_secs_f64() * 1e3
    );
}

fn main() {
    let plain = std::env::args().any(|a| a == "--plain");
    if plain {
        COUNTED.store(false, Ordering::Relaxed);
    }
    let quick = quick();
    let (objects, live) = if quick {
        (16_384, 512)
    } else {
        (262_144, 8_192)
    };
    if plain {
        buffers(objects, live, "system allocator");
        return;
    }
    if std::env::args().any(|a| a == "--buffers") {
        buffers(objects, live, "GcAllocator");
        return;
    }
    per_allocation(
        if quick { 100_000 } else { 10_000_000 },
        if quick { 3 } else { 11 },
    );
    println!(
        "\n{objects} `Gc<Vec<u8>>` of 1 KiB, {live} live ({} MiB of buffers in all)\n",
        objects >> 10
    );
    println!("| global allocator | automatic cycles | peak RSS | wall |");
    println!("|---|---|---|---|");
    // Each in a fresh process, so that the peak RSS is the workload's alone.
    let child = |args: &[&str]| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args(args);
        if quick {
            cmd.arg("--quick");
        }
        let out = cmd.output().expect("the child runs");
        assert!(out.status.success(), "the child failed");
        print!("{}", String::from_utf8_lossy(&out.stdout));
    };
    child(&["--buffers"]);
    child(&["--plain"]);
}
