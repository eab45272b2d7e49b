//! Workload 2, GCBench (Ellis, Kovac, Boehm): a stretch tree of depth 18 dropped at once, a
//! long-lived tree of depth 16 (built top-down) and an array of 500,000 doubles kept to the end,
//! then for depths 4, 6, .., 16 as many trees as make twice the stretch tree's nodes, built top
//! down (a node is allocated, then its children are stored into it: the write barrier's case)
//! and again bottom up. `scale` shrinks every depth for the smoke run.

use crate::probe::Probe;

pub struct Params {
    stretch: u32,
    long_lived: u32,
    array: usize,
    max_depth: u32,
}

impl Params {
    /// The original sizes (`scale` 0) or smaller ones (`scale` k: every depth k less).
    pub fn new(scale: u32) -> Params {
        Params {
            stretch: 18 - scale,
            long_lived: 16 - scale,
            array: 500_000 >> scale,
            max_depth: 16 - scale,
        }
    }
}

fn tree_size(d: u32) -> u64 {
    (1 << (d + 1)) - 1
}

/// A mutable slot in a node, whatever each peer uses for one.
pub trait Slot<T> {
    fn make(v: T) -> Self;
    fn put(&self, v: T);
    fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R;
}

impl<T> Slot<T> for std::cell::RefCell<T> {
    fn make(v: T) -> Self {
        std::cell::RefCell::new(v)
    }
    fn put(&self, v: T) {
        *self.borrow_mut() = v;
    }
    fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.borrow())
    }
}
impl<T> Slot<T> for std::sync::Mutex<T> {
    fn make(v: T) -> Self {
        std::sync::Mutex::new(v)
    }
    fn put(&self, v: T) {
        *self.lock().unwrap() = v;
    }
    fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.lock().unwrap())
    }
}
impl<T: gc::Trace> Slot<T> for gc::GcCell<T> {
    fn make(v: T) -> Self {
        gc::GcCell::new(v)
    }
    fn put(&self, v: T) {
        *self.borrow_mut() = v;
    }
    fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.borrow())
    }
}
impl<T: boa_gc::Trace> Slot<T> for boa_gc::GcRefCell<T> {
    fn make(v: T) -> Self {
        boa_gc::GcRefCell::new(v)
    }
    fn put(&self, v: T) {
        *self.borrow_mut() = v;
    }
    fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.borrow())
    }
}
impl<T: tricolor_gc::Trace> Slot<T> for tricolor_gc::GcCell<T> {
    fn make(v: T) -> Self {
        tricolor_gc::GcCell::new(v)
    }
    fn put(&self, v: T) {
        *self.borrow_mut() = v;
    }
    fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.borrow())
    }
}

/// `GcSlot`, tricolor's atomic handle field (no borrow; `set` is the barrier), as a slot for an
/// optional child: `GcSlotOf<Option<Gc<N>>>` is `GcSlot<N>`.
pub trait OptGc {
    type Target: tricolor_gc::Trace + Send + Sync + 'static;
}
impl<N: tricolor_gc::Trace + Send + Sync + 'static> OptGc for Option<tricolor_gc::Gc<N>> {
    type Target = N;
}
pub type GcSlotOf<T> = tricolor_gc::GcSlot<<T as OptGc>::Target>;
impl<N: tricolor_gc::Trace + Send + Sync + 'static> Slot<Option<tricolor_gc::Gc<N>>>
    for tricolor_gc::GcSlot<N>
{
    fn make(v: Option<tricolor_gc::Gc<N>>) -> Self {
        tricolor_gc::GcSlot::new(v)
    }
    fn put(&self, v: Option<tricolor_gc::Gc<N>>) {
        self.set(v);
    }
    fn peek<R>(&self, f: impl FnOnce(&Option<tricolor_gc::Gc<N>>) -> R) -> R {
        f(&self.get())
    }
}

/// The workload for one smart-pointer peer (facts from `peers::with_peer!`): handle `$ptr`,
/// the children in a `$cell`.
macro_rules! gcbench_peer {
    ($name:ident, $label:literal, $ptr:ident, $cell:ident, [$(#[$attr:meta])*], [$(#[$fattr:meta])*], $collect:expr) => {
        pub mod $name {
            use super::*;
            type P = $ptr<Node>;
            type Kids = $cell<Option<P>>;
            $(#[$attr])*
            pub struct Node {
                pub left: Kids,
                pub right: Kids,
                pub i: i32,
                pub j: i32,
            }
            fn node(p: &mut Probe, left: Option<P>, right: Option<P>) -> P {
                p.time(|| $ptr::new(Node { left: Kids::make(left), right: Kids::make(right), i: 0, j: 0 }))
            }
            fn populate(d: u32, n: &Node, p: &mut Probe) {
                if d == 0 {
                    return;
                }
                let (l, r) = (node(p, None, None), node(p, None, None));
                populate(d - 1, &l, p);
                populate(d - 1, &r, p);
                n.left.put(Some(l));
                n.right.put(Some(r));
            }
            fn make(d: u32, p: &mut Probe) -> P {
                if d == 0 {
                    node(p, None, None)
                } else {
                    let (l, r) = (make(d - 1, p), make(d - 1, p));
                    node(p, Some(l), Some(r))
                }
            }
            fn count(n: &Node) -> u64 {
                let kid = |k: &Kids| k.peek(|o| o.as_ref().map_or(0, |c| count(c)));
                1 + kid(&n.left) + kid(&n.right) + (n.i + n.j) as u64
            }
            pub fn run(s: &Params, p: &mut Probe) -> u64 {
                let stretch = make(s.stretch, p);
                let mut total = count(&stretch);
                p.time(|| drop(stretch));
                let long = node(p, None, None);
                populate(s.long_lived, &long, p);
                // The doubles live in a Rust buffer for every peer; only the handle's allocation is
                // the collector's, so only it is timed.
                let doubles: Vec<f64> = (0..s.array).map(|i| if i < s.array / 2 { 1.0 / i as f64 } else { 0.0 }).collect();
                let array = p.time(|| $ptr::new(doubles));
                for d in (4..=s.max_depth).step_by(2) {
                    let iters = 2 * tree_size(s.stretch) / tree_size(d);
                    for _ in 0..iters {
                        let t = node(p, None, None);
                        populate(d, &t, p);
                        total += count(&t);
                        p.time(|| drop(t));
                    }
                    for _ in 0..iters {
                        let t = make(d, p);
                        total += count(&t);
                        p.time(|| drop(t));
                    }
                }
                assert_eq!(array[1000], 1.0 / 1000.0);
                total + count(&long)
            }
        }
    };
}

use crate::peers::*;

crate::pointer_peers!(gcbench_peer: all, tricolor_slot);
crate::dumpster_trace!(dumpster_unsync::Node; left, right);
crate::dumpster_trace!(dumpster_sync::Node; left, right);

/// gc-arena: nodes are `Gc<Lock<Node>>` with a `Copy` node, so a top-down store is a
/// barriered `set` of the whole node.
pub mod arena {
    use super::*;
    use gc_arena::lock::Lock;
    use gc_arena::{Arena, Collect, Gc, Mutation, Rootable};

    type P<'gc> = Gc<'gc, Lock<Node<'gc>>>;
    #[derive(Collect, Clone, Copy)]
    #[collect(no_drop)]
    pub struct Node<'gc> {
        left: Option<P<'gc>>,
        right: Option<P<'gc>>,
        i: i32,
        j: i32,
    }
    fn node<'gc>(
        mc: &Mutation<'gc>,
        p: &mut Probe,
        left: Option<P<'gc>>,
        right: Option<P<'gc>>,
    ) -> P<'gc> {
        p.time(|| {
            Gc::new(
                mc,
                Lock::new(Node {
                    left,
                    right,
                    i: 0,
                    j: 0,
                }),
            )
        })
    }
    fn populate<'gc>(mc: &Mutation<'gc>, d: u32, n: P<'gc>, p: &mut Probe) {
        if d == 0 {
            return;
        }
        let (l, r) = (node(mc, p, None, None), node(mc, p, None, None));
        populate(mc, d - 1, l, p);
        populate(mc, d - 1, r, p);
        n.set(
            mc,
            Node {
                left: Some(l),
                right: Some(r),
                ..n.get()
            },
        );
    }
    fn make<'gc>(mc: &Mutation<'gc>, d: u32, p: &mut Probe) -> P<'gc> {
        if d == 0 {
            node(mc, p, None, None)
        } else {
            let (l, r) = (make(mc, d - 1, p), make(mc, d - 1, p));
            node(mc, p, Some(l), Some(r))
        }
    }
    fn count(n: P<'_>) -> u64 {
        let n = n.get();
        1 + n.left.map_or(0, count) + n.right.map_or(0, count) + (n.i + n.j) as u64
    }
    #[derive(Collect)]
    #[collect(no_drop)]
    pub struct Root<'gc> {
        long: Option<P<'gc>>,
        array: Option<Gc<'gc, Vec<f64>>>,
    }
    pub fn run(s: &Params, p: &mut Probe) -> u64 {
        let mut arena = Arena::<Rootable![Root<'_>]>::new(|_| Root {
            long: None,
            array: None,
        });
        let mut total = arena.mutate(|mc, _| count(make(mc, s.stretch, p)));
        p.time(|| arena.collect_debt());
        arena.mutate_root(|mc, root| {
            let long = node(mc, p, None, None);
            populate(mc, s.long_lived, long, p);
            root.long = Some(long);
            let v = (0..s.array)
                .map(|i| if i < s.array / 2 { 1.0 / i as f64 } else { 0.0 })
                .collect();
            root.array = Some(p.time(|| Gc::new(mc, v)));
        });
        for d in (4..=s.max_depth).step_by(2) {
            let iters = 2 * tree_size(s.stretch) / tree_size(d);
            for _ in 0..iters {
                total += arena.mutate(|mc, _| {
                    let t = node(mc, p, None, None);
                    populate(mc, d, t, p);
                    count(t)
                });
                p.time(|| arena.collect_debt());
            }
            for _ in 0..iters {
                total += arena.mutate(|mc, _| count(make(mc, d, p)));
                p.time(|| arena.collect_debt());
            }
        }
        arena.mutate(|_, root| {
            assert_eq!(root.array.unwrap()[1000], 1.0 / 1000.0);
            total + count(root.long.unwrap())
        })
    }
}

pub fn run(peer: &str, scale: u32, p: &mut Probe) -> Option<u64> {
    let s = Params::new(scale);
    crate::dispatch!(peer, [all, tricolor_slot], |m| m::run(&s, p));
    (peer == "gc-arena").then(|| arena::run(&s, p))
}
