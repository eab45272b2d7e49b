//! Workload 5, the mark rate: a complete binary tree of 2^22 − 1 nodes of 16 bytes (two
//! handles), built either depth-first (`ordered`: a node's children lie just before it, so a
//! traversal walks memory forwards) or level by level in a random order within each level
//! (`shuffled`: a node's children are anywhere in the level below, every step a cache miss).
//! Then five forced collections with the whole tree live; each is timed. For tricolor the
//! figure per object is its concurrent mark phase over the objects it scanned (`stats()`); for
//! the stop-the-world peers, the whole collection over the nodes. `procs` is the number of mark
//! workers (`GCMARKPROCS` for tricolor, `GOMAXPROCS` for Go), for the speed-up from parallel
//! marking.

use crate::probe::Probe;
use crate::rng::Rng;
use std::time::{Duration, Instant};

pub const COLLECTIONS: usize = 5;
pub const SEED: u64 = 0x7269_6e67;

pub fn depth(smoke: bool) -> u32 {
    if smoke {
        12
    } else {
        21
    }
}

fn median_ns(v: Vec<Duration>) -> i64 {
    crate::peers::median(v).as_nanos() as i64
}

/// Times the collections and records the figures. `collect` returns what the collector itself
/// says about the mark phase (tricolor: its wall time and the objects scanned).
fn collections(p: &mut Probe, nodes: u64, mut collect: impl FnMut() -> Option<(Duration, u64)>) {
    let mut whole = Vec::new();
    let mut mark = Vec::new();
    let mut scanned = 0;
    for _ in 0..COLLECTIONS {
        let t = Instant::now();
        let m = collect();
        whole.push(t.elapsed());
        if let Some((d, n)) = m {
            mark.push(d);
            scanned = n;
        }
    }
    p.note("collect_ns", median_ns(whole.clone()));
    let (ns, objects) = if mark.is_empty() {
        (median_ns(whole), nodes)
    } else {
        p.note("mark_ns", median_ns(mark.clone()));
        (median_ns(mark), scanned.max(1))
    };
    p.note("ns_per_object_x100", ns * 100 / objects as i64);
}

/// The workload for one tracing peer (facts from `peers::with_peer!`).
macro_rules! markrate_peer {
    ($name:ident, $label:literal, $ptr:ident, $cell:ident, [$(#[$attr:meta])*], [$(#[$fattr:meta])*], $collect:expr) => {
        pub mod $name {
            use super::*;
            $(#[$attr])*
            pub struct Node {
                pub left: Option<$ptr<Node>>,
                pub right: Option<$ptr<Node>>,
            }
            fn ordered(d: u32) -> $ptr<Node> {
                let (left, right) = if d == 0 { (None, None) } else { (Some(ordered(d - 1)), Some(ordered(d - 1))) };
                $ptr::new(Node { left, right })
            }
            fn shuffled(depth: u32) -> $ptr<Node> {
                let mut rng = Rng::new(SEED);
                let mut below: Vec<$ptr<Node>> = Vec::new();
                for level in (0..=depth).rev() {
                    let n = 1usize << level;
                    let mut cur: Vec<Option<$ptr<Node>>> = (0..n).map(|_| None).collect();
                    for j in rng.permutation(n) {
                        let (left, right) = if below.is_empty() { (None, None) } else { (Some(below[2 * j].clone()), Some(below[2 * j + 1].clone())) };
                        cur[j] = Some($ptr::new(Node { left, right }));
                    }
                    below = cur.into_iter().map(Option::unwrap).collect();
                }
                below.pop().unwrap()
            }
            fn count(n: &Node) -> u64 {
                1 + n.left.as_ref().map_or(0, |c| count(c)) + n.right.as_ref().map_or(0, |c| count(c))
            }
            pub fn run(depth: u32, variant: &str, p: &mut Probe) -> u64 {
                let root = if variant == "shuffled" { shuffled(depth) } else { ordered(depth) };
                let nodes = (1u64 << (depth + 1)) - 1;
                collections(p, nodes, || {
                    $collect;
                    collector_mark($label)
                });
                count(&root)
            }
        }
    };
}

/// What the collector itself says about its last mark phase, where it says anything: tricolor's
/// wall time of the mark and the objects it scanned.
fn collector_mark(peer: &str) -> Option<(Duration, u64)> {
    (peer == "tricolor").then(|| {
        let s = tricolor_gc::stats();
        (s.last_mark, s.last_scanned)
    })
}

use crate::peers::*;

// The peers with a tracing collector to measure.
crate::pointer_peers!(markrate_peer: gc_crate, boa, tricolor_peer);

/// gc-arena: the tree is built in one `mutate` and becomes the root; a collection is
/// `finish_cycle`.
pub mod arena {
    use super::*;
    use gc_arena::{Arena, Collect, Gc, Mutation, Rootable};

    #[derive(Collect)]
    #[collect(no_drop)]
    pub struct Node<'gc> {
        left: Option<Gc<'gc, Node<'gc>>>,
        right: Option<Gc<'gc, Node<'gc>>>,
    }
    fn ordered<'gc>(mc: &Mutation<'gc>, d: u32) -> Gc<'gc, Node<'gc>> {
        let (left, right) = if d == 0 {
            (None, None)
        } else {
            (Some(ordered(mc, d - 1)), Some(ordered(mc, d - 1)))
        };
        Gc::new(mc, Node { left, right })
    }
    fn shuffled<'gc>(mc: &Mutation<'gc>, depth: u32) -> Gc<'gc, Node<'gc>> {
        let mut rng = Rng::new(SEED);
        let mut below: Vec<Gc<'gc, Node<'gc>>> = Vec::new();
        for level in (0..=depth).rev() {
            let n = 1usize << level;
            let mut cur = vec![None; n];
            for j in rng.permutation(n) {
                let (left, right) = if below.is_empty() {
                    (None, None)
                } else {
                    (Some(below[2 * j]), Some(below[2 * j + 1]))
                };
                cur[j] = Some(Gc::new(mc, Node { left, right }));
            }
            below = cur.into_iter().map(Option::unwrap).collect();
        }
        below[0]
    }
    fn count(n: &Node) -> u64 {
        1 + n.left.map_or(0, |c| count(&c)) + n.right.map_or(0, |c| count(&c))
    }
    pub fn run(depth: u32, variant: &str, p: &mut Probe) -> u64 {
        let mut arena = Arena::<Rootable![Option<Gc<'_, Node<'_>>>]>::new(|_| None);
        arena.mutate_root(|mc, root| {
            *root = Some(if variant == "shuffled" {
                shuffled(mc, depth)
            } else {
                ordered(mc, depth)
            })
        });
        let nodes = (1u64 << (depth + 1)) - 1;
        collections(p, nodes, || {
            arena.finish_cycle();
            None
        });
        arena.mutate(|_, root| count(root.as_ref().unwrap()))
    }
}

pub fn run(peer: &str, smoke: bool, variant: &str, p: &mut Probe) -> Option<u64> {
    let d = depth(smoke);
    crate::dispatch!(peer, [gc_crate, boa, tricolor_peer], |m| m::run(
        d, variant, p
    ));
    (peer == "gc-arena").then(|| arena::run(d, variant, p))
}
