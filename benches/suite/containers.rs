//! Workload 8, containers: an interpreter's arrays and tables, with a live handle in every
//! element. Three variants, each at 10,000, 100,000 and 1,000,000 elements (the per-operation
//! time must not grow with the container):
//! - `push`: `n` pushes of fresh handles onto an empty vector;
//! - `set`: `n` stores of fresh handles at random positions (seeded splitmix64, the same in
//!   every peer) of an `n`-element vector (built before the timing);
//! - `map`: `n` inserts of fresh handles under the keys `0..n`, then `n` stores over random
//!   existing keys.
//!
//! The containers live in each collector's heap (`Gc<GcVec>`/`Gc<GcMap>` for tricolor, a `Gc`
//! of the peer's own cell of a `Vec`/`HashMap` for the other collectors), or behind `Rc<RefCell>`
//! and `Arc<Mutex>`. The figure is the timed phase's wall time per operation (the map: inserts
//! and stores together), collections included.

use crate::probe::Probe;
use crate::rng::Rng;
use std::collections::HashMap;
use std::ops::DerefMut;
use std::time::Instant;

pub const SEED: u64 = 0xC0FF_EE00_D15E_A5E5;

/// The sizes of the cases; the `gc` crate only runs the smallest (below).
pub const SIZES: [u32; 3] = [10_000, 100_000, 1_000_000];

/// Elements per case: the size, or a hundredth of it for the smoke run.
pub fn count(size: u32, smoke: bool) -> usize {
    if smoke {
        size as usize / 100
    } else {
        size as usize
    }
}

/// What a peer's containers do, in its own idiom.
pub trait Peer {
    type List;
    type Table;
    fn list() -> Self::List;
    fn push(l: &Self::List, v: u64);
    fn set(l: &Self::List, i: usize, v: u64);
    fn list_sum(l: &Self::List) -> u64;
    fn table() -> Self::Table;
    fn insert(t: &Self::Table, k: u64, v: u64);
    fn table_sum(t: &Self::Table) -> u64;
}

fn run_peer<P: Peer>(variant: &str, n: usize, p: &mut Probe) -> u64 {
    let mut rng = Rng::new(SEED);
    let (check, ops, t) = match variant {
        "push" => {
            let l = P::list();
            let t = Instant::now();
            for i in 0..n {
                P::push(&l, i as u64);
            }
            let t = t.elapsed();
            (P::list_sum(&l), n, t)
        }
        "set" => {
            let l = P::list();
            for i in 0..n {
                P::push(&l, i as u64);
            }
            let t = Instant::now();
            for k in 0..n {
                P::set(&l, rng.below(n), (n + k) as u64);
            }
            let t = t.elapsed();
            (P::list_sum(&l), n, t)
        }
        _ => {
            let m = P::table();
            let t = Instant::now();
            for i in 0..n {
                P::insert(&m, i as u64, i as u64);
            }
            for k in 0..n {
                P::insert(&m, rng.below(n) as u64, (n + k) as u64);
            }
            let t = t.elapsed();
            (P::table_sum(&m), 2 * n, t)
        }
    };
    p.note("ns_per_op_x100", (t.as_nanos() * 100 / ops as u128) as i64);
    check
}

/// tricolor: `GcVec` and `GcMap` in the heap.
pub mod tricolor_peer {
    use tricolor_gc::{Gc, GcMap, GcVec};
    pub struct Peer;
    impl super::Peer for Peer {
        type List = Gc<GcVec<Gc<u64>>>;
        type Table = Gc<GcMap<u64, Gc<u64>>>;
        fn list() -> Self::List {
            Gc::new(GcVec::new())
        }
        // The `_new` methods allocate the object and store its handle in one step, as Go's
        // `l[i] = &v` does: the handle never holds a root (`push(Gc::new(v))` takes one and
        // gives it back, a read-modify-write per store).
        fn push(l: &Self::List, v: u64) {
            l.push_new(v);
        }
        fn set(l: &Self::List, i: usize, v: u64) {
            // `put_new`, not `set`: the old element is dropped, as `l[i] = v` drops it elsewhere.
            l.put_new(i, v);
        }
        fn list_sum(l: &Self::List) -> u64 {
            l.view().iter().map(|g| **g).sum()
        }
        fn table() -> Self::Table {
            Gc::new(GcMap::new())
        }
        fn insert(t: &Self::Table, k: u64, v: u64) {
            t.put_new(k, v);
        }
        fn table_sum(t: &Self::Table) -> u64 {
            t.view().iter().map(|(_, g)| **g).sum()
        }
    }
}

/// Lends a peer's cell's contents mutably, whatever the cell calls it.
pub trait Lend<T> {
    fn lend(&self) -> impl DerefMut<Target = T> + '_;
}
impl<T> Lend<T> for RefCell<T> {
    fn lend(&self) -> impl DerefMut<Target = T> + '_ {
        self.borrow_mut()
    }
}
impl<T> Lend<T> for Mutex<T> {
    fn lend(&self) -> impl DerefMut<Target = T> + '_ {
        self.lock().unwrap()
    }
}
impl<T: gc::Trace> Lend<T> for RustGcCell<T> {
    fn lend(&self) -> impl DerefMut<Target = T> + '_ {
        self.borrow_mut()
    }
}
impl<T: boa_gc::Trace> Lend<T> for GcRefCell<T> {
    fn lend(&self) -> impl DerefMut<Target = T> + '_ {
        self.borrow_mut()
    }
}

/// The workload for a peer whose containers are its own cell of a std `Vec` or `HashMap`
/// behind its pointer (facts from `peers::with_peer!`).
macro_rules! containers_peer {
    ($name:ident, $label:literal, $ptr:ident, $cell:ident, [$(#[$attr:meta])*], [$(#[$fattr:meta])*], $collect:expr) => {
        pub mod $name {
            use super::*;
            pub struct Peer;
            impl super::Peer for Peer {
                type List = $ptr<$cell<Vec<$ptr<u64>>>>;
                type Table = $ptr<$cell<HashMap<u64, $ptr<u64>>>>;
                fn list() -> Self::List {
                    $ptr::new($cell::new(Vec::new()))
                }
                fn push(l: &Self::List, v: u64) {
                    l.lend().push($ptr::new(v));
                }
                fn set(l: &Self::List, i: usize, v: u64) {
                    l.lend()[i] = $ptr::new(v);
                }
                fn list_sum(l: &Self::List) -> u64 {
                    let s = l.lend().iter().map(|g| **g).sum();
                    s
                }
                fn table() -> Self::Table {
                    $ptr::new($cell::new(HashMap::new()))
                }
                fn insert(t: &Self::Table, k: u64, v: u64) {
                    t.lend().insert(k, $ptr::new(v));
                }
                fn table_sum(t: &Self::Table) -> u64 {
                    let s = t.lend().values().map(|g| **g).sum();
                    s
                }
            }
        }
    };
}

use crate::peers::*;

crate::pointer_peers!(containers_peer: rc, arc, gc_crate, boa, dumpster_unsync);

/// The peers that take part at `size`: the `gc` crate roots and unroots a whole `GcCell`'s
/// contents on every `borrow_mut` (O(len) per store, as tricolor's `GcCell` does), so it runs
/// the smallest size only.
pub fn takes_part(peer: &str, size: u32) -> bool {
    peer != "gc" || size == SIZES[0]
}

pub fn run(peer: &str, size: u32, variant: &str, smoke: bool, p: &mut Probe) -> Option<u64> {
    let n = count(size, smoke);
    if !takes_part(peer, size) {
        return None;
    }
    crate::dispatch!(
        peer,
        [rc, arc, gc_crate, boa, dumpster_unsync, tricolor_peer],
        |m| run_peer::<m::Peer>(variant, n, p)
    );
    None
}
