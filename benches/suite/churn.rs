//! Workload 6, random graph churn, after dumpster's benchmark: nodes hold a vector of handles
//! to other nodes; each of 1,000,000 operations picks at random (seeded splitmix64, the same
//! choices in every peer) one of: make a node and root it, add an edge between two rooted
//! nodes, drop a root, drop an edge. Cycles form and die all the time. At the end every root is
//! dropped and the collector runs once more (timed: the garbage is part of the work).
//!
//! With one thread the roots are one vector. With `threads` > 1, as dumpster's multi-threaded
//! variant: 10 vectors per thread behind mutexes, each thread working on random vectors (a
//! node is only ever changed under the lock of the vector that roots it). `Rc`/`Arc` leak the
//! cycles; they are the floor, not a collector.

use crate::peers::Mutex;
use crate::probe::Probe;
use crate::rng::{scale, Rng};

pub const SEED: u64 = 12345;
pub const START: usize = 50;

pub fn ops(smoke: bool) -> usize {
    if smoke {
        20_000
    } else {
        1_000_000
    }
}

/// What a peer provides: a handle to a node with interior-mutable edges. The three edge
/// operations are what the program does to an edge list; each peer implements them with the
/// container its users would write (a cell around a `Vec`, or tricolor's `GcVec`).
pub trait Node: Clone + 'static {
    fn make() -> Self;
    /// Appends an edge to `to`.
    fn push_edge(&self, to: Self);
    /// Removes the edge at `scale(k, len)` (swapping the last one into its place), if any.
    fn remove_edge(&self, k: u64) -> Option<Self>;
    fn edge_count(&self) -> usize;
    fn collect();
}

/// Interior mutability, whatever each peer uses for it.
pub trait EdgeCell<T> {
    fn make(v: T) -> Self;
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
}

impl<T> EdgeCell<T> for std::cell::RefCell<T> {
    fn make(v: T) -> Self {
        std::cell::RefCell::new(v)
    }
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}
impl<T> EdgeCell<T> for Mutex<T> {
    fn make(v: T) -> Self {
        Mutex::new(v)
    }
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.lock().unwrap())
    }
}
impl<T: gc::Trace> EdgeCell<T> for gc::GcCell<T> {
    fn make(v: T) -> Self {
        gc::GcCell::new(v)
    }
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}
impl<T: boa_gc::Trace> EdgeCell<T> for boa_gc::GcRefCell<T> {
    fn make(v: T) -> Self {
        boa_gc::GcRefCell::new(v)
    }
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}
impl<T: tricolor_gc::Trace> EdgeCell<T> for tricolor_gc::GcCell<T> {
    fn make(v: T) -> Self {
        tricolor_gc::GcCell::new(v)
    }
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.borrow_mut())
    }
}

/// The single-threaded program; the checksum is the final number of roots and their edges.
pub fn single<N: Node>(ops: usize, p: &mut Probe) -> u64 {
    let mut rng = Rng::new(SEED);
    let mut roots: Vec<N> = (0..START).map(|_| N::make()).collect();
    for _ in 0..ops {
        if roots.is_empty() {
            roots.push(p.time(N::make));
            continue;
        }
        match rng.below(4) {
            0 => roots.push(p.time(N::make)),
            1 => {
                if roots.len() > 1 {
                    let from = rng.below(roots.len());
                    let to = rng.below(roots.len());
                    let g = roots[to].clone();
                    roots[from].push_edge(g);
                }
            }
            2 => {
                let i = rng.below(roots.len());
                let r = roots.swap_remove(i);
                p.time(|| drop(r));
            }
            _ => {
                let from = rng.below(roots.len());
                let k = rng.next();
                let dead = roots[from].remove_edge(k);
                p.time(|| drop(dead));
            }
        }
    }
    let check = roots.len() as u64 + roots.iter().map(|r| r.edge_count() as u64).sum::<u64>();
    drop(roots);
    p.time(N::collect);
    check
}

/// The multi-threaded program; the checksum is the number of operations (the interleaving, so
/// the final graph, differs from run to run).
pub fn multi<N: Node + Send + Sync>(ops: usize, threads: usize) -> u64 {
    let vecs: Vec<Mutex<Vec<N>>> = (0..threads * 10)
        .map(|_| Mutex::new((0..START).map(|_| N::make()).collect()))
        .collect();
    let done: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let vecs = &vecs;
                s.spawn(move || {
                    let mut rng = Rng::new(SEED + t as u64);
                    let mut done = 0;
                    for _ in 0..ops / threads {
                        done += 1;
                        let a = rng.below(vecs.len());
                        match rng.below(4) {
                            0 => {
                                let n = N::make();
                                vecs[a].lock().unwrap().push(n);
                            }
                            1 => {
                                let b = rng.below(vecs.len());
                                let (i, j) = (rng.next(), rng.next());
                                if a == b {
                                    let g = vecs[a].lock().unwrap();
                                    if g.len() >= 2 {
                                        let to = g[scale(j, g.len())].clone();
                                        g[scale(i, g.len())].push_edge(to);
                                    }
                                } else {
                                    // Lock in index order, so that two threads cannot deadlock.
                                    let (lo, hi) = (a.min(b), a.max(b));
                                    let gl = vecs[lo].lock().unwrap();
                                    let gh = vecs[hi].lock().unwrap();
                                    let (ga, gb) = if a < b { (&gl, &gh) } else { (&gh, &gl) };
                                    if !ga.is_empty() && !gb.is_empty() {
                                        let to = gb[scale(j, gb.len())].clone();
                                        ga[scale(i, ga.len())].push_edge(to);
                                    }
                                }
                            }
                            2 => {
                                let k = rng.next();
                                let dead = {
                                    let mut g = vecs[a].lock().unwrap();
                                    let n = g.len();
                                    (n > 0).then(|| g.swap_remove(scale(k, n)))
                                };
                                drop(dead);
                            }
                            _ => {
                                let (i, j) = (rng.next(), rng.next());
                                let dead = {
                                    let g = vecs[a].lock().unwrap();
                                    let n = g.len();
                                    (n > 0).then(|| g[scale(i, n)].remove_edge(j)).flatten()
                                };
                                drop(dead);
                            }
                        }
                    }
                    done
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    drop(vecs);
    N::collect();
    done as u64
}

/// The workload for one smart-pointer peer (facts from `peers::with_peer!`): the handle is
/// `$ptr<Inner>` and the edges sit in a `$cell`.
macro_rules! churn_peer {
    ($name:ident, $label:literal, $ptr:ident, $cell:ident, [$(#[$attr:meta])*], [$(#[$fattr:meta])*], $collect:expr) => {
        pub mod $name {
            use super::*;
            $(#[$attr])*
            pub struct Inner {
                pub edges: $cell<Vec<$ptr<Inner>>>,
            }
            /// The node handle the workload is generic over.
            pub type Handle = $ptr<Inner>;
            impl Node for $ptr<Inner> {
                fn make() -> Self {
                    $ptr::new(Inner { edges: $cell::make(Vec::new()) })
                }
                fn push_edge(&self, to: Self) {
                    self.edges.with(|e| e.push(to))
                }
                fn remove_edge(&self, k: u64) -> Option<Self> {
                    self.edges
                        .with(|e| (!e.is_empty()).then(|| e.swap_remove(scale(k, e.len()))))
                }
                fn edge_count(&self) -> usize {
                    self.edges.with(|e| e.len())
                }
                fn collect() {
                    $collect;
                }
            }
        }
    };
}

use crate::peers::*;

// Every smart-pointer peer but `Box`, which cannot share a node between two edges, and
// tricolor, whose edges are a `GcVec` (below).
crate::pointer_peers!(churn_peer: rc, arc, gc_crate, boa, dumpster_unsync, dumpster_sync);

/// tricolor: the edges are a `GcVec`, the container its docs point to for a list of handles
/// that changes one element at a time. A `GcCell<Vec<..>>` would root and unroot the whole list
/// on every `borrow_mut` (O(edges) per change; the suite measured it at 1.32× Go's time, a
/// quarter of the profile in the cell's borrow and release).
pub mod tricolor_peer {
    use super::*;
    use tricolor_gc::{Gc, GcVec};

    #[derive(tricolor_gc::Trace, tricolor_gc::Finalize)]
    pub struct Inner {
        pub edges: GcVec<Gc<Inner>>,
    }
    /// The node handle the workload is generic over.
    pub type Handle = Gc<Inner>;
    impl Node for Gc<Inner> {
        fn make() -> Self {
            Gc::new(Inner {
                edges: GcVec::new(),
            })
        }
        fn push_edge(&self, to: Self) {
            self.edges.push(to)
        }
        fn remove_edge(&self, k: u64) -> Option<Self> {
            // Length then removal are two locked steps; only one thread changes a node at a
            // time here (the lock of the vector that roots it), so the length holds between.
            let n = self.edges.len();
            (n > 0).then(|| self.edges.swap_remove(scale(k, n)))
        }
        fn edge_count(&self) -> usize {
            self.edges.len()
        }
        fn collect() {
            tricolor_gc::collect();
        }
    }
}
crate::dumpster_trace!(dumpster_unsync::Inner; edges);
crate::dumpster_trace!(dumpster_sync::Inner; edges);

/// gc-arena, one thread: the roots are the arena's root, each operation a `mutate_root`, with a
/// `collect_debt` every 64 operations.
pub mod arena {
    use super::*;
    use gc_arena::lock::RefLock;
    use gc_arena::{Arena, Collect, Gc, Rootable};

    #[derive(Collect)]
    #[collect(no_drop)]
    pub struct Inner<'gc> {
        edges: Vec<Gc<'gc, RefLock<Inner<'gc>>>>,
    }
    type N<'gc> = Gc<'gc, RefLock<Inner<'gc>>>;

    pub fn run(ops: usize, p: &mut Probe) -> u64 {
        let mut rng = Rng::new(SEED);
        let mut arena = Arena::<Rootable![Vec<N<'_>>]>::new(|mc| {
            (0..START)
                .map(|_| Gc::new(mc, RefLock::new(Inner { edges: Vec::new() })))
                .collect()
        });
        for k in 0..ops {
            arena.mutate_root(|mc, roots| {
                let make = |p: &mut Probe| {
                    p.time(|| Gc::new(mc, RefLock::new(Inner { edges: Vec::new() })))
                };
                if roots.is_empty() {
                    roots.push(make(p));
                    return;
                }
                match rng.below(4) {
                    0 => roots.push(make(p)),
                    1 => {
                        if roots.len() > 1 {
                            let from = rng.below(roots.len());
                            let to = rng.below(roots.len());
                            roots[from].borrow_mut(mc).edges.push(roots[to]);
                        }
                    }
                    2 => {
                        let i = rng.below(roots.len());
                        roots.swap_remove(i);
                    }
                    _ => {
                        let from = rng.below(roots.len());
                        let k = rng.next();
                        let mut n = roots[from].borrow_mut(mc);
                        if !n.edges.is_empty() {
                            let len = n.edges.len();
                            n.edges.swap_remove(scale(k, len));
                        }
                    }
                }
            });
            if k % 64 == 63 {
                p.time(|| arena.collect_debt());
            }
        }
        let check = arena.mutate(|_, roots| {
            roots.len() as u64
                + roots
                    .iter()
                    .map(|r| r.borrow().edges.len() as u64)
                    .sum::<u64>()
        });
        arena.mutate_root(|_, roots| roots.clear());
        p.time(|| arena.finish_cycle());
        check
    }
}

pub fn run(peer: &str, smoke: bool, threads: usize, p: &mut Probe) -> Option<u64> {
    let n = ops(smoke);
    if threads == 1 {
        crate::dispatch!(
            peer,
            [
                rc,
                arc,
                gc_crate,
                boa,
                dumpster_unsync,
                dumpster_sync,
                tricolor_peer
            ],
            |m| single::<m::Handle>(n, p)
        );
        (peer == "gc-arena").then(|| arena::run(n, p))
    } else {
        // The peers whose handles cross threads; dumpster-sync deadlocks here (see the case's
        // note in main.rs).
        crate::dispatch!(peer, [arc, tricolor_peer], |m| multi::<m::Handle>(
            n, threads
        ));
        None
    }
}
