//! Workload 3, the latency ring: a window of messages (200,000 in the full run), 1,000,000
//! pushes; each push makes a message and stores it over the oldest, which dies. Every push is
//! timed, in every run: this workload is its own probe. Two variants: `bytes`, a message is one
//! object of 1 KiB; `pointers`, a message is an object holding 8 handles to parts of 112 bytes
//! (nine objects, the same bytes), so the collector has pointers to trace.

use crate::probe::Probe;
use std::time::Instant;

pub const PARTS: usize = 8;
pub const PART: usize = 112;
/// A 1 KiB message less 16 bytes, the header of tricolor's and `Arc`'s objects.
pub const BYTES: usize = 1008;

pub struct Params {
    pub window: usize,
    pub pushes: usize,
}

impl Params {
    pub fn new(smoke: bool) -> Params {
        if smoke {
            Params {
                window: 2_000,
                pushes: 10_000,
            }
        } else {
            Params {
                window: 200_000,
                pushes: 1_000_000,
            }
        }
    }
}

/// Times each push; at the end turns the times into the report's figures and the plot's series.
pub struct Timer {
    ns: Vec<u32>,
}

impl Timer {
    pub fn new(pushes: usize) -> Timer {
        Timer {
            ns: Vec::with_capacity(pushes),
        }
    }

    #[inline(always)]
    pub fn push<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let t = Instant::now();
        let r = f();
        self.ns
            .push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
        r
    }

    pub fn finish(mut self, p: &mut Probe) {
        self.ns.sort_unstable();
        let n = self.ns.len();
        let at = |q: f64| self.ns[((n - 1) as f64 * q).round() as usize] as i64;
        p.note("p50_ns", at(0.5));
        p.note("p99_ns", at(0.99));
        p.note("p999_ns", at(0.999));
        p.note("p9999_ns", at(0.9999));
        p.note("worst_push_ns", *self.ns.last().unwrap() as i64);
        // The tail as a survival curve: the fraction of pushes at least this slow, at fractions
        // 10^(-j/8) down to a single push.
        let mut pts = Vec::new();
        for j in 0..=64 {
            let f = 10f64.powf(-(j as f64) / 8.0);
            if f * (n as f64) < 1.0 {
                break;
            }
            let i = ((1.0 - f) * n as f64).floor() as usize;
            pts.push((self.ns[i.min(n - 1)] as f64 / 1e3, f));
        }
        pts.push((*self.ns.last().unwrap() as f64 / 1e3, 1.0 / n as f64));
        p.series.push(("push_us_ccdf".into(), pts));
    }
}

/// The byte a message or part is marked with.
pub fn fill(i: usize, k: usize) -> u8 {
    ((i + k) % 251) as u8
}

/// A zeroed payload with its first and last bytes set (only these are checked; filling all of
/// it would measure the fill loop of each language, not the allocator).
pub fn edged<const N: usize>(b: u8) -> [u8; N] {
    let mut v = [0; N];
    v[0] = b;
    v[N - 1] = b;
    v
}

/// The workload for one smart-pointer peer (facts from `peers::with_peer!`).
macro_rules! ring_peer {
    ($name:ident, $label:literal, $ptr:ident, $cell:ident, [$(#[$attr:meta])*], [$(#[$fattr:meta])*], $collect:expr) => {
        pub mod $name {
            use super::*;
            $(#[$attr])*
            pub struct Msg {
                $(#[$fattr])*
                pub bytes: [u8; BYTES],
            }
            $(#[$attr])*
            pub struct Part {
                $(#[$fattr])*
                pub bytes: [u8; PART],
            }
            $(#[$attr])*
            pub struct Parts {
                pub parts: [$ptr<Part>; PARTS],
            }
            pub fn bytes(s: &Params, p: &mut Probe) -> u64 {
                let mut ring: Vec<Option<$ptr<Msg>>> = (0..s.window).map(|_| None).collect();
                let mut t = Timer::new(s.pushes);
                for i in 0..s.pushes {
                    t.push(|| ring[i % s.window] = Some($ptr::new(Msg { bytes: edged(fill(i, 0)) })));
                }
                t.finish(p);
                ring.iter().flatten().map(|m| (m.bytes[0] as u64 + m.bytes[BYTES - 1] as u64)).sum()
            }
            pub fn pointers(s: &Params, p: &mut Probe) -> u64 {
                let mut ring: Vec<Option<$ptr<Parts>>> = (0..s.window).map(|_| None).collect();
                let mut t = Timer::new(s.pushes);
                for i in 0..s.pushes {
                    t.push(|| {
                        let parts = std::array::from_fn(|k| $ptr::new(Part { bytes: edged(fill(i, k)) }));
                        ring[i % s.window] = Some($ptr::new(Parts { parts }))
                    });
                }
                t.finish(p);
                ring.iter().flatten().flat_map(|m| m.parts.iter()).map(|q| q.bytes[0] as u64 + q.bytes[PART - 1] as u64).sum()
            }
        }
    };
}

use crate::peers::*;

crate::pointer_peers!(ring_peer: all);
crate::dumpster_trace!(dumpster_unsync::Msg;);
crate::dumpster_trace!(dumpster_unsync::Part;);
crate::dumpster_trace!(dumpster_unsync::Parts; parts);
crate::dumpster_trace!(dumpster_sync::Msg;);
crate::dumpster_trace!(dumpster_sync::Part;);
crate::dumpster_trace!(dumpster_sync::Parts; parts);

/// gc-arena: the ring is the arena's root; each push is a `mutate_root` and a `collect_debt`,
/// both inside the timed push (the collector's work is the push's cost there).
pub mod arena {
    use super::*;
    use gc_arena::{Arena, Collect, Gc, Rootable};

    #[derive(Collect)]
    #[collect(require_static)]
    pub struct Msg {
        bytes: [u8; BYTES],
    }
    #[derive(Collect)]
    #[collect(require_static)]
    pub struct Part {
        bytes: [u8; PART],
    }
    #[derive(Collect)]
    #[collect(no_drop)]
    pub struct Parts<'gc> {
        parts: [Gc<'gc, Part>; PARTS],
    }

    pub fn bytes(s: &Params, p: &mut Probe) -> u64 {
        let mut arena = Arena::<Rootable![Vec<Option<Gc<'_, Msg>>>]>::new(|_| {
            (0..s.window).map(|_| None).collect()
        });
        let mut t = Timer::new(s.pushes);
        for i in 0..s.pushes {
            t.push(|| {
                arena.mutate_root(|mc, ring| {
                    ring[i % s.window] = Some(Gc::new(
                        mc,
                        Msg {
                            bytes: edged(fill(i, 0)),
                        },
                    ))
                });
                arena.collect_debt();
            });
        }
        t.finish(p);
        arena.mutate(|_, ring| {
            ring.iter()
                .flatten()
                .map(|m| m.bytes[0] as u64 + m.bytes[BYTES - 1] as u64)
                .sum()
        })
    }

    pub fn pointers(s: &Params, p: &mut Probe) -> u64 {
        let mut arena = Arena::<Rootable![Vec<Option<Gc<'_, Parts<'_>>>>]>::new(|_| {
            (0..s.window).map(|_| None).collect()
        });
        let mut t = Timer::new(s.pushes);
        for i in 0..s.pushes {
            t.push(|| {
                arena.mutate_root(|mc, ring| {
                    let parts = std::array::from_fn(|k| {
                        Gc::new(
                            mc,
                            Part {
                                bytes: edged(fill(i, k)),
                            },
                        )
                    });
                    ring[i % s.window] = Some(Gc::new(mc, Parts { parts }))
                });
                arena.collect_debt();
            });
        }
        t.finish(p);
        arena.mutate(|_, ring| {
            ring.iter()
                .flatten()
                .flat_map(|m| m.parts.iter())
                .map(|q| q.bytes[0] as u64 + q.bytes[PART - 1] as u64)
                .sum()
        })
    }
}

pub fn run(peer: &str, smoke: bool, variant: &str, p: &mut Probe) -> Option<u64> {
    let s = Params::new(smoke);
    let pointers = variant == "pointers";
    crate::dispatch!(peer, [all], |m| if pointers {
        m::pointers(&s, p)
    } else {
        m::bytes(&s, p)
    });
    (peer == "gc-arena").then(|| {
        if pointers {
            arena::pointers(&s, p)
        } else {
            arena::bytes(&s, p)
        }
    })
}
