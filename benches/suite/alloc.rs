//! Workload 4, the allocation fast path: objects of 16 bytes (10,000,000 of them) or of 1 KiB
//! (1,008 bytes, a 1 KiB slot with a 16-byte header; 1,000,000 of them), each dropped at once,
//! with no other live heap (`none`) or with 1,000,000 objects of the same size kept live the
//! whole time (`live`). The figure is the loop's time per allocation, collections included.

use crate::probe::Probe;
use crate::ring::edged;
use std::hint::black_box;
use std::time::Instant;

pub const BIG: usize = 1008;
pub const LIVE: usize = 1_000_000;

pub struct Params {
    pub big: bool,
    pub live: usize,
    pub count: usize,
}

impl Params {
    pub fn new(size: u32, variant: &str, smoke: bool) -> Params {
        let big = size > 16;
        let count = if big { 1_000_000 } else { 10_000_000 };
        let live = if variant == "live" { LIVE } else { 0 };
        let shrink = if smoke { 100 } else { 1 };
        Params {
            big,
            live: live / shrink,
            count: count / shrink,
        }
    }
}

/// Records the loop's time per allocation.
fn finish(p: &mut Probe, t: Instant, s: &Params) {
    p.note(
        "ns_per_alloc_x100",
        (t.elapsed().as_nanos() * 100 / s.count as u128) as i64,
    );
}

/// The workload for one smart-pointer peer (facts from `peers::with_peer!`).
macro_rules! alloc_peer {
    ($name:ident, $label:literal, $ptr:ident, $cell:ident, [$(#[$attr:meta])*], [$(#[$fattr:meta])*], $collect:expr) => {
        pub mod $name {
            use super::*;
            $(#[$attr])*
            pub struct Small {
                $(#[$fattr])*
                pub v: [u64; 2],
            }
            $(#[$attr])*
            pub struct Big {
                $(#[$fattr])*
                pub v: [u8; BIG],
            }
            pub fn run(s: &Params, p: &mut Probe) -> u64 {
                let mut check = 0u64;
                if s.big {
                    let live: Vec<$ptr<Big>> = (0..s.live).map(|i| $ptr::new(Big { v: edged(i as u8) })).collect();
                    let t = Instant::now();
                    for i in 0..s.count {
                        let o = black_box($ptr::new(Big { v: edged(i as u8) }));
                        check += o.v[BIG - 1] as u64;
                    }
                    finish(p, t, s);
                    check + live.iter().map(|o| o.v[0] as u64).sum::<u64>()
                } else {
                    let live: Vec<$ptr<Small>> = (0..s.live).map(|i| $ptr::new(Small { v: [i as u64; 2] })).collect();
                    let t = Instant::now();
                    for i in 0..s.count {
                        let o = black_box($ptr::new(Small { v: [i as u64, 1] }));
                        check += o.v[1];
                    }
                    finish(p, t, s);
                    check + live.iter().map(|o| o.v[0] & 1).sum::<u64>()
                }
            }
        }
    };
}

use crate::peers::*;

crate::pointer_peers!(alloc_peer: all);
crate::dumpster_trace!(dumpster_unsync::Small;);
crate::dumpster_trace!(dumpster_unsync::Big;);
crate::dumpster_trace!(dumpster_sync::Small;);
crate::dumpster_trace!(dumpster_sync::Big;);

/// bumpalo, the floor: objects go into an arena reset every 4,096 allocations (the live ones
/// into their own arena).
pub mod bump {
    use super::*;
    pub fn run(s: &Params, p: &mut Probe) -> u64 {
        let keep = bumpalo::Bump::new();
        let mut arena = bumpalo::Bump::new();
        let mut check = 0u64;
        if s.big {
            let live: Vec<&[u8; BIG]> = (0..s.live)
                .map(|i| &*keep.alloc(edged::<BIG>(i as u8)))
                .collect();
            let t = Instant::now();
            for i in 0..s.count {
                if i % 4096 == 0 {
                    arena.reset();
                }
                let o = black_box(arena.alloc(edged::<BIG>(i as u8)));
                check += o[BIG - 1] as u64;
            }
            finish(p, t, s);
            check + live.iter().map(|o| o[0] as u64).sum::<u64>()
        } else {
            let live: Vec<&[u64; 2]> = (0..s.live).map(|i| &*keep.alloc([i as u64; 2])).collect();
            let t = Instant::now();
            for i in 0..s.count {
                if i % 4096 == 0 {
                    arena.reset();
                }
                let o = black_box(arena.alloc([i as u64, 1]));
                check += o[1];
            }
            finish(p, t, s);
            check + live.iter().map(|o| o[0] & 1).sum::<u64>()
        }
    }
}

/// gc-arena: the live objects are the root; allocations happen 1,000 to a `mutate`, with a
/// `collect_debt` after each batch.
pub mod arena {
    use super::*;
    use gc_arena::{Arena, Collect, Gc, Rootable};

    #[derive(Collect)]
    #[collect(require_static)]
    pub struct Small {
        v: [u64; 2],
    }
    #[derive(Collect)]
    #[collect(require_static)]
    pub struct Big {
        v: [u8; BIG],
    }
    type Root = Rootable![(Vec<Gc<'_, Small>>, Vec<Gc<'_, Big>>)];

    pub fn run(s: &Params, p: &mut Probe) -> u64 {
        let mut arena = Arena::<Root>::new(|mc| {
            if s.big {
                let v = (0..s.live)
                    .map(|i| Gc::new(mc, Big { v: edged(i as u8) }))
                    .collect();
                (Vec::new(), v)
            } else {
                let v = (0..s.live)
                    .map(|i| Gc::new(mc, Small { v: [i as u64; 2] }))
                    .collect();
                (v, Vec::new())
            }
        });
        let t = Instant::now();
        let mut check = 0u64;
        for b in (0..s.count).step_by(1000) {
            check += arena.mutate(|mc, _| {
                let mut c = 0;
                for i in b..(b + 1000).min(s.count) {
                    if s.big {
                        let o = black_box(Gc::new(mc, Big { v: edged(i as u8) }));
                        c += o.v[BIG - 1] as u64;
                    } else {
                        let o = black_box(Gc::new(mc, Small { v: [i as u64, 1] }));
                        c += o.v[1];
                    }
                }
                c
            });
            arena.collect_debt();
        }
        finish(p, t, s);
        check
            + arena.mutate(|_, (small, big)| {
                small.iter().map(|o| o.v[0] & 1).sum::<u64>()
                    + big.iter().map(|o| o.v[0] as u64).sum::<u64>()
            })
    }
}

pub fn run(peer: &str, size: u32, variant: &str, smoke: bool, p: &mut Probe) -> Option<u64> {
    let s = Params::new(size, variant, smoke);
    crate::dispatch!(peer, [all], |m| m::run(&s, p));
    match peer {
        "bumpalo" => Some(bump::run(&s, p)),
        "gc-arena" => Some(arena::run(&s, p)),
        _ => None,
    }
}
