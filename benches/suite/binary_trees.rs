//! Workload 1, binary-trees (Benchmarks Game rules, one thread): a stretch tree of depth n+1,
//! a long-lived tree of depth n, then 2^(n-d+4) trees of each depth d = 4, 6, .., n, each built
//! bottom-up, checked and dropped. The probe times every allocation and every drop of a tree.

use crate::probe::Probe;

/// The program's skeleton, shared by every peer: `tree(d)` builds and checks a tree, dropping
/// it; `long(d)` builds the long-lived tree and returns a function that checks it at the end.
fn program(
    n: u32,
    mut tree: impl FnMut(u32) -> u64,
    long: impl FnOnce(u32) -> Box<dyn FnOnce() -> u64>,
) -> u64 {
    let max = n.max(6);
    let mut total = tree(max + 1);
    let check_long = long(max);
    for d in (4..=max).step_by(2) {
        let iters = 1u64 << (max - d + 4);
        for _ in 0..iters {
            total += tree(d);
        }
    }
    total + check_long()
}

/// The workload for one smart-pointer peer (facts from `peers::with_peer!`):
/// `$ptr::new(Node { left, right })`.
macro_rules! trees_peer {
    ($name:ident, $label:literal, $ptr:ident, $cell:ident, [$(#[$attr:meta])*], [$(#[$fattr:meta])*], $collect:expr) => {
        pub mod $name {
            use super::*;
            type P = $ptr<Node>;
            $(#[$attr])*
            pub struct Node {
                pub left: Option<P>,
                pub right: Option<P>,
            }
            fn make(d: u32, p: &mut Probe) -> P {
                let (left, right) = if d == 0 {
                    (None, None)
                } else {
                    (Some(make(d - 1, p)), Some(make(d - 1, p)))
                };
                p.time(|| $ptr::new(Node { left, right }))
            }
            fn check(n: &Node) -> u64 {
                1 + n.left.as_ref().map_or(0, |l| check(l)) + n.right.as_ref().map_or(0, |r| check(r))
            }
            pub fn run(n: u32, p: &mut Probe) -> u64 {
                let p = std::cell::RefCell::new(p);
                program(
                    n,
                    |d| {
                        let t = make(d, &mut p.borrow_mut());
                        let c = check(&t);
                        p.borrow_mut().time(|| drop(t));
                        c
                    },
                    |d| {
                        let t = make(d, &mut p.borrow_mut());
                        Box::new(move || check(&t))
                    },
                )
            }
        }
    };
}

use crate::peers::*;

crate::pointer_peers!(trees_peer: all);
crate::dumpster_trace!(dumpster_unsync::Node; left, right);
crate::dumpster_trace!(dumpster_sync::Node; left, right);

/// The allocation floor: each tree in its own arena, freed at once (what a region allocator
/// does for a program that knows its lifetimes).
pub mod bump {
    use super::*;
    pub struct Node<'a> {
        left: Option<&'a Node<'a>>,
        right: Option<&'a Node<'a>>,
    }
    fn make<'a>(a: &'a bumpalo::Bump, d: u32, p: &mut Probe) -> &'a Node<'a> {
        let (left, right) = if d == 0 {
            (None, None)
        } else {
            (Some(make(a, d - 1, p)), Some(make(a, d - 1, p)))
        };
        p.time(|| &*a.alloc(Node { left, right }))
    }
    fn check(n: &Node) -> u64 {
        1 + n.left.map_or(0, check) + n.right.map_or(0, check)
    }
    pub fn run(n: u32, p: &mut Probe) -> u64 {
        let p = std::cell::RefCell::new(p);
        let mut arena = bumpalo::Bump::new();
        program(
            n,
            |d| {
                let c = check(make(&arena, d, &mut p.borrow_mut()));
                p.borrow_mut().time(|| arena.reset());
                c
            },
            |d| {
                let long = Box::leak(Box::new(bumpalo::Bump::new()));
                let t = make(long, d, &mut p.borrow_mut());
                Box::new(move || check(t))
            },
        )
    }
}

/// gc-arena: handles are branded by the arena's lifetime and live only inside `mutate`; the
/// long-lived tree is the arena's root, and the program pays for collection by calling
/// `collect_debt` after each tree (timed as an operation in the probe run).
pub mod arena {
    use super::*;
    use gc_arena::{Arena, Collect, Gc, Mutation, Rootable};

    #[derive(Collect)]
    #[collect(no_drop)]
    pub struct Node<'gc> {
        left: Option<Gc<'gc, Node<'gc>>>,
        right: Option<Gc<'gc, Node<'gc>>>,
    }
    fn make<'gc>(mc: &Mutation<'gc>, d: u32, p: &mut Probe) -> Gc<'gc, Node<'gc>> {
        let (left, right) = if d == 0 {
            (None, None)
        } else {
            (Some(make(mc, d - 1, p)), Some(make(mc, d - 1, p)))
        };
        p.time(|| Gc::new(mc, Node { left, right }))
    }
    fn check(n: &Node) -> u64 {
        1 + n.left.map_or(0, |l| check(&l)) + n.right.map_or(0, |r| check(&r))
    }
    type Root = Rootable![Option<Gc<'_, Node<'_>>>];
    pub fn run(n: u32, p: &mut Probe) -> u64 {
        let max = n.max(6);
        let mut arena = Arena::<Root>::new(|_| None);
        let mut total = arena.mutate(|mc, _| check(&make(mc, max + 1, p)));
        p.time(|| arena.collect_debt());
        arena.mutate_root(|mc, root| *root = Some(make(mc, max, p)));
        for d in (4..=max).step_by(2) {
            for _ in 0..1u64 << (max - d + 4) {
                total += arena.mutate(|mc, _| check(&make(mc, d, p)));
                p.time(|| arena.collect_debt());
            }
        }
        total + arena.mutate(|_, root| check(root.as_ref().unwrap()))
    }
}

/// Runs the peer; `None` if it does not take part in this workload.
pub fn run(peer: &str, n: u32, p: &mut Probe) -> Option<u64> {
    crate::dispatch!(peer, [all], |m| m::run(n, p));
    match peer {
        "bumpalo" => Some(bump::run(n, p)),
        "gc-arena" => Some(arena::run(n, p)),
        _ => None,
    }
}
