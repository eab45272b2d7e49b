//! Workload 9, weak references: what an interpreter's intern table or cache does with them.
//! `n` live objects, each with a weak reference made before the timing; then, in the same
//! seeded random order for every peer:
//! - `downgrade`: `n` more weak references, to objects that already have one;
//! - `first-downgrade`: the first weak reference of each of `n` fresh objects (tricolor
//!   counts it in the object's span's weak counts, made by a span's first downgrade;
//!   `Arc`/`Rc` count beside the value);
//! - `upgrade`: `n` upgrades, each strong handle dropped at once.
//!
//! At 100,000 and 1,000,000 objects: the cost per operation must not grow with the number of
//! weak references. The figure is the timed phase's wall time per operation. Go 1.24's
//! `weak.Make` would be the Go column; the machine's Go (1.19) predates it.

use crate::probe::Probe;
use crate::rng::Rng;
use std::time::Instant;

pub const SEED: u64 = 0x5EED_0F3E_A4A4;
pub const SIZES: [u32; 2] = [100_000, 1_000_000];

use crate::common::weak_peers::{self, ArcPeer, RcPeer, Tricolor, WeakPeer as Peer};

fn run_peer<P: Peer>(variant: &str, n: usize, p: &mut Probe) -> u64 {
    let mut rng = Rng::new(SEED);
    let order: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
    let objs: Vec<P::Strong> = (0..n as u64).map(P::new).collect();
    let mut weak: Vec<P::Weak> = Vec::with_capacity(2 * n);
    if variant != "first-downgrade" {
        weak.extend(objs.iter().map(P::downgrade));
    }
    let t = Instant::now();
    let check = match variant {
        "upgrade" => {
            let mut sum = 0;
            for &i in &order {
                sum += P::upgrade(&weak[i]).expect("alive");
            }
            sum
        }
        _ => {
            for &i in &order {
                weak.push(P::downgrade(&objs[i]));
            }
            weak.len() as u64
        }
    };
    let t = t.elapsed();
    p.note("ns_per_op_x100", (t.as_nanos() * 100 / n as u128) as i64);
    drop(weak);
    drop(objs);
    check
}

mod boa {
    use boa_gc::{Gc, WeakGc};
    pub struct Peer;
    impl super::weak_peers::WeakPeer for Peer {
        type Strong = Gc<u64>;
        type Weak = WeakGc<u64>;
        fn new(v: u64) -> Self::Strong {
            Gc::new(v)
        }
        fn downgrade(s: &Self::Strong) -> Self::Weak {
            WeakGc::new(s)
        }
        fn upgrade(w: &Self::Weak) -> Option<u64> {
            w.upgrade().map(|g| *g)
        }
    }
}

/// The peers with weak references: `gc` and dumpster have none, and gc-arena's `GcWeak` only
/// exists inside an arena's mutation closure, where a table of them cannot outlive a call.
pub const TAKING_PART: &[&str] = &["tricolor", "Rc", "Arc", "boa_gc"];

pub fn run(peer: &str, size: u32, variant: &str, smoke: bool, p: &mut Probe) -> Option<u64> {
    let n = if smoke {
        size as usize / 100
    } else {
        size as usize
    };
    match peer {
        "tricolor" => Some(run_peer::<Tricolor>(variant, n, p)),
        "Arc" => Some(run_peer::<ArcPeer>(variant, n, p)),
        "Rc" => Some(run_peer::<RcPeer>(variant, n, p)),
        "boa_gc" => Some(run_peer::<boa::Peer>(variant, n, p)),
        _ => None,
    }
}
