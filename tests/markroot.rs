//! The root scan's jobs run by allocating threads (Go's assists taking `markroot` jobs): with
//! the background workers told to leave every job to the assists, a thread that calls
//! `safepoint` while a cycle marks scans all the roots itself. Run in a child process with
//! `GCCHECKMARK=1` (every mark termination re-marks the heap from the roots and aborts if a
//! reachable object is white) and `GCPOISON=1`; `GCTRACE=2` reports how many jobs the assists
//! ran, which the parent checks against the number of jobs.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use support::Rng;
use tricolor_gc::{collect, run_finalizers, safepoint, Finalize, Gc, GcSlot, Trace};

#[derive(Trace, Finalize)]
struct Node {
    id: u64,
    check: u64,
    next: GcSlot<Node>,
}

fn checksum(id: u64) -> u64 {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED
}

fn node(id: u64, next: Option<Gc<Node>>) -> Gc<Node> {
    Gc::new(Node {
        id,
        check: checksum(id),
        next: GcSlot::new(next),
    })
}

/// A chain of `len` nodes below a rooted head: every node but the head is reachable only
/// through the heap.
fn chain(first_id: u64, len: u64) -> Gc<Node> {
    let mut next = None;
    for id in (first_id..first_id + len).rev() {
        next = Some(node(id, next));
    }
    next.unwrap()
}

/// Verifies a chain's checksums; returns its length.
fn verify(head: &Gc<Node>) -> u64 {
    let mut n = head.clone();
    let mut len = 1;
    loop {
        assert_eq!(n.check, checksum(n.id), "corrupt node {}", n.id);
        let Some(next) = n.next.get() else {
            return len;
        };
        n = next;
        len += 1;
    }
}

static FINALIZED: AtomicUsize = AtomicUsize::new(0);

/// An object with a finalizer, dropped before the cycle: the root scan's jobs mark what it
/// reaches (its span's finalizer specials), which its finalizer then reads.
#[derive(Trace)]
struct Watched {
    child: Gc<Node>,
}

impl Finalize for Watched {
    fn finalize(&self) {
        assert_eq!(verify(&self.child), 4, "a finalizer's referent was freed");
        FINALIZED.fetch_add(1, Ordering::SeqCst);
    }
}

const CHAINS: u64 = 20_000;
const CYCLES: usize = 3;

#[test]
fn child() {
    support::child(&[("assists_scan_the_roots", assists_scan_the_roots)]);
}

fn assists_scan_the_roots() {
    tricolor_gc::__private::leave_root_scan_to_assists(true);
    let mut rng = Rng(0x400);
    let mut heads: Vec<Gc<Node>> = (0..CHAINS).map(|i| chain(i * 4, 4)).collect();
    for i in 0..1_000 {
        let _ = Gc::new(Watched {
            child: chain(1_000_000 + i * 4, 4),
        });
    }
    let mut next_id = 10_000_000;
    for _ in 0..CYCLES {
        let done = Arc::new(AtomicBool::new(false));
        let collector = {
            let done = done.clone();
            std::thread::spawn(move || {
                collect();
                done.store(true, Ordering::Release);
            })
        };
        // Until the cycle is over: pay assists (which must take every root job), allocate
        // black, and move heap-only tails between rooted heads (the barrier's case).
        while !done.load(Ordering::Acquire) {
            safepoint();
            for _ in 0..64 {
                let i = rng.below(heads.len());
                let j = rng.below(heads.len());
                if i == j {
                    continue;
                }
                let tail = heads[i].next.take();
                let old = heads[j].next.take();
                heads[j].next.set(tail);
                heads[i].next.set(old);
                if rng.below(8) == 0 {
                    heads.push(chain(next_id, 3));
                    next_id += 3;
                }
            }
        }
        collector.join().unwrap();
    }
    tricolor_gc::__private::leave_root_scan_to_assists(false);
    let nodes: u64 = heads.iter().map(verify).sum();
    let grown = (next_id - 10_000_000) / 3;
    assert_eq!(nodes, CHAINS * 4 + grown * 3, "a node was lost");
    collect();
    run_finalizers();
    assert_eq!(FINALIZED.load(Ordering::SeqCst), 1_000);
}

#[test]
fn the_assists_can_scan_every_root_themselves() {
    let out = support::passes_with(
        "assists_scan_the_roots",
        &[("GCTRACE", "2"), ("GCPERCENT", "off")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let details: Vec<&str> = err.lines().filter(|l| l.contains(" detail: ")).collect();
    assert!(details.len() >= CYCLES, "{err}");
    let field = |line: &str, key: &str| -> usize {
        let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    for d in &details[..CYCLES] {
        let (jobs, spans) = (field(d, "root_jobs_assist="), field(d, "spans="));
        assert!(spans > 0, "{d}");
        assert_eq!(jobs, spans.div_ceil(16), "the assists ran every job: {d}");
    }
}
