//! binary-trees (the Benchmarks Game's rules, single thread) on tricolor: allocate and drop
//! millions of small trees while a long-lived tree stays reachable. Run it with `GCTRACE=1` to
//! watch the collector:
//!
//! `GCTRACE=1 cargo run --release --example binary_trees -- 18`
//!
//! With `--box` it runs the same program on `Box`, for comparison.

use std::time::Instant;

/// Buffers owned by `Gc` values count as heap growth (README: "Memory outside the heap").
#[global_allocator]
static ALLOC: tricolor_gc::GcAllocator = tricolor_gc::GcAllocator::new();
use tricolor_gc::{Finalize, Gc, Trace};

#[derive(Trace, Finalize)]
struct Node {
    left: Option<Gc<Node>>,
    right: Option<Gc<Node>>,
}

fn make(d: u32) -> Gc<Node> {
    if d == 0 {
        Gc::new(Node {
            left: None,
            right: None,
        })
    } else {
        Gc::new(Node {
            left: Some(make(d - 1)),
            right: Some(make(d - 1)),
        })
    }
}

fn check(n: &Node) -> u32 {
    1 + n.left.as_ref().map_or(0, |l| check(l)) + n.right.as_ref().map_or(0, |r| check(r))
}

struct BNode {
    left: Option<Box<BNode>>,
    right: Option<Box<BNode>>,
}

fn bmake(d: u32) -> Box<BNode> {
    if d == 0 {
        Box::new(BNode {
            left: None,
            right: None,
        })
    } else {
        Box::new(BNode {
            left: Some(bmake(d - 1)),
            right: Some(bmake(d - 1)),
        })
    }
}

fn bcheck(n: &BNode) -> u32 {
    1 + n.left.as_ref().map_or(0, |l| bcheck(l)) + n.right.as_ref().map_or(0, |r| bcheck(r))
}

fn run<T>(n: u32, make: impl Fn(u32) -> T, check: impl Fn(&T) -> u32) {
    let min = 4;
    let max = n.max(min + 2);
    let stretch = max + 1;
    println!(
        "stretch tree of depth {stretch}\t check: {}",
        check(&make(stretch))
    );
    let long = make(max);
    let mut d = min;
    while d <= max {
        let iters = 1u32 << (max - d + min);
        let mut sum = 0;
        for _ in 0..iters {
            sum += check(&make(d));
        }
        println!("{iters}\t trees of depth {d}\t check: {sum}");
        d += 2;
    }
    println!("long lived tree of depth {max}\t check: {}", check(&long));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = args.iter().find_map(|a| a.parse().ok()).unwrap_or(16);
    let t = Instant::now();
    if args.iter().any(|a| a == "--box") {
        run(n, bmake, |t| bcheck(t));
        eprintln!("Box: {:.3} s", t.elapsed().as_secs_f64());
    } else {
        run(n, make, |t| check(t));
        let s = tricolor_gc::stats();
        eprintln!(
            "tricolor: {:.3} s, {} cycles, longest stop {:.1} us, total stops {:.3} ms",
            t.elapsed().as_secs_f64(),
            s.num_gc,
            *s.pause_ns.iter().max().unwrap() as f64 / 1e3,
            s.pause_total.as_secs_f64() * 1e3
        );
    }
}
