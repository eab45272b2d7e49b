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

/// Peers whose handle is a plain smart pointer: `$ptr::new(Node { left, right })`.
macro_rules! pointer_peer {
    ($name:ident, $ptr:ty, $new:path $(, #[$attr:meta])*) => {
        pub mod $name {
            use super::*;
            $(#[$attr])*
            pub struct Node {
                pub left: Option<$ptr>,
                pub right: Option<$ptr>,
            }
            fn make(d: u32, p: &mut Probe) -> $ptr {
                let (left, right) = if d == 0 {
                    (None, None)
                } else {
                    (Some(make(d - 1, p)), Some(make(d - 1, p)))
                };
                p.time(|| $new(Node { left, right }))
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

type BoxNode = Box<boxed::Node>;
pointer_peer!(boxed, BoxNode, Box::new);
type RcNode = std::rc::Rc<rc::Node>;
pointer_peer!(rc, RcNode, std::rc::Rc::new);
type ArcNode = std::sync::Arc<arc::Node>;
pointer_peer!(arc, ArcNode, std::sync::Arc::new);
type GcNode = gc::Gc<gc_crate::Node>;
pointer_peer!(gc_crate, GcNode, gc::Gc::new, #[derive(gc::Trace, gc::Finalize)]);
type BoaNode = boa_gc::Gc<boa::Node>;
pointer_peer!(boa, BoaNode, boa_gc::Gc::new, #[derive(boa_gc::Trace, boa_gc::Finalize)]);
type DumpsterNode = dumpster::unsync::Gc<dumpster_unsync::Node>;
pointer_peer!(dumpster_unsync, DumpsterNode, dumpster::unsync::Gc::new);
crate::dumpster_trace!(dumpster_unsync::Node; left, right);
type DumpsterSyncNode = dumpster::sync::Gc<dumpster_sync::Node>;
pointer_peer!(dumpster_sync, DumpsterSyncNode, dumpster::sync::Gc::new);
crate::dumpster_trace!(dumpster_sync::Node; left, right);
type TricolorNode = tricolor::Gc<tricolor_peer::Node>;
pointer_peer!(tricolor_peer, TricolorNode, tricolor::Gc::new, #[derive(tricolor::Trace, tricolor::Finalize)]);

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
    Some(match peer {
        "Box" => boxed::run(n, p),
        "Rc" => rc::run(n, p),
        "Arc" => arc::run(n, p),
        "bumpalo" => bump::run(n, p),
        "gc" => gc_crate::run(n, p),
        "boa_gc" => boa::run(n, p),
        "dumpster" => dumpster_unsync::run(n, p),
        "dumpster-sync" => dumpster_sync::run(n, p),
        "gc-arena" => arena::run(n, p),
        "tricolor" => tricolor_peer::run(n, p),
        _ => return None,
    })
}
