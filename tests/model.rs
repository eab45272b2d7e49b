//! Model-based randomized test: a seeded generator of operations on a graph of GC objects
//! (allocate, link and unlink through `GcCell`, move handles between cells and Rust-side slots,
//! clone, drop, upgrade weak references, `collect()`), checked against a plain model of
//! reachability. After each forced cycle every object the model says is reachable is intact (its
//! id and edges match the model) and every object it says is unreachable has been dropped,
//! exactly once. A failure prints the seed; `MODEL_SEED=<n>` replays one.
//!
//! Several threads each drive their own model on the shared heap at once, so cycles run while
//! other threads mutate.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tricolor_gc::{collect, Finalize, Gc, GcCell, Trace, Weak};

type Dropped = Arc<Mutex<HashMap<u64, u32>>>;

struct Track {
    id: u64,
    dropped: Dropped,
}
impl Drop for Track {
    fn drop(&mut self) {
        *self.dropped.lock().unwrap().entry(self.id).or_insert(0) += 1;
    }
}

#[derive(Trace, Finalize)]
struct MNode {
    id: u64,
    edges: GcCell<Vec<Gc<MNode>>>,
    #[gc(ignore)]
    _t: Track,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SLOTS: usize = 16;
const STEPS: usize = 20_000;

struct Model {
    rng: Rng,
    seed: u64,
    next_id: u64,
    /// Rust-side slots (roots) and what the model says they hold.
    slots: Vec<Option<Gc<MNode>>>,
    slot_ids: Vec<Option<u64>>,
    /// The model's edges of every allocated, not yet dropped object.
    edges: HashMap<u64, Vec<u64>>,
    weaks: Vec<(Weak<MNode>, u64)>,
    dropped: Dropped,
}

impl Model {
    fn new(seed: u64, id_base: u64) -> Model {
        Model {
            rng: Rng(seed),
            seed,
            next_id: id_base,
            slots: (0..SLOTS).map(|_| None).collect(),
            slot_ids: vec![None; SLOTS],
            edges: HashMap::new(),
            weaks: Vec::new(),
            dropped: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn reachable(&self) -> HashSet<u64> {
        let mut seen = HashSet::new();
        let mut stack: Vec<u64> = self.slot_ids.iter().flatten().copied().collect();
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                stack.extend(self.edges[&id].iter().copied());
            }
        }
        seen
    }

    fn step(&mut self) {
        let s = self.rng.below(SLOTS);
        let t = self.rng.below(SLOTS);
        match self.rng.below(100) {
            0..=24 => {
                let id = self.next_id;
                self.next_id += 1;
                let n = Gc::new(MNode {
                    id,
                    edges: GcCell::new(Vec::new()),
                    _t: Track {
                        id,
                        dropped: self.dropped.clone(),
                    },
                });
                self.edges.insert(id, Vec::new());
                if self.rng.below(4) == 0 {
                    self.weaks.push((Gc::downgrade(&n), id));
                }
                self.slots[s] = Some(n);
                self.slot_ids[s] = Some(id);
            }
            25..=44 => {
                // link: slot s's node gets an edge to slot t's node
                if let (Some(a), Some(b)) = (&self.slots[s], &self.slots[t]) {
                    a.edges.borrow_mut().push(b.clone());
                    let (ia, ib) = (self.slot_ids[s].unwrap(), self.slot_ids[t].unwrap());
                    self.edges.get_mut(&ia).unwrap().push(ib);
                }
            }
            45..=54 => {
                // unlink one edge
                if let Some(a) = &self.slots[s] {
                    let ia = self.slot_ids[s].unwrap();
                    let n = self.edges[&ia].len();
                    if n > 0 {
                        let k = self.rng.below(n);
                        a.edges.borrow_mut().remove(k);
                        self.edges.get_mut(&ia).unwrap().remove(k);
                    }
                }
            }
            55..=64 => {
                // move a handle out of a node's cell into slot t (rooted now)
                if let Some(a) = &self.slots[s] {
                    let ia = self.slot_ids[s].unwrap();
                    let n = self.edges[&ia].len();
                    if n > 0 {
                        let k = self.rng.below(n);
                        let h = a.edges.borrow_mut().swap_remove(k);
                        let id = self.edges.get_mut(&ia).unwrap().swap_remove(k);
                        assert_eq!(h.id, id, "seed {}: edge mismatch", self.seed);
                        self.slots[t] = Some(h);
                        self.slot_ids[t] = Some(id);
                    }
                }
            }
            65..=74 => {
                self.slots[s] = None;
                self.slot_ids[s] = None;
            }
            75..=84 => {
                self.slots[t] = self.slots[s].clone();
                self.slot_ids[t] = self.slot_ids[s];
            }
            85..=92 => {
                if !self.weaks.is_empty() {
                    let k = self.rng.below(self.weaks.len());
                    let live = self.reachable();
                    let (w, id) = &self.weaks[k];
                    match w.upgrade() {
                        Some(g) => {
                            assert_eq!(g.id, *id);
                            self.slots[t] = Some(g);
                            self.slot_ids[t] = Some(*id);
                        }
                        None => assert!(
                            !live.contains(id),
                            "seed {}: weak to reachable {id} is empty",
                            self.seed
                        ),
                    }
                }
            }
            _ => self.check(),
        }
    }

    /// Forces a cycle and compares the heap with the model.
    fn check(&mut self) {
        collect();
        let live = self.reachable();
        let dropped = self.dropped.lock().unwrap().clone();
        for (id, n) in &dropped {
            assert_eq!(*n, 1, "seed {}: object {id} dropped {n} times", self.seed);
            assert!(
                !live.contains(id),
                "seed {}: reachable object {id} was dropped",
                self.seed
            );
        }
        let all: Vec<u64> = self.edges.keys().copied().collect();
        for id in all {
            if !live.contains(&id) {
                assert!(
                    dropped.contains_key(&id),
                    "seed {}: unreachable object {id} survived a full cycle",
                    self.seed
                );
                self.edges.remove(&id);
            }
        }
        // Walk the real graph from the roots; it must match the model exactly.
        let mut seen = HashSet::new();
        let mut stack: Vec<Gc<MNode>> = self.slots.iter().flatten().cloned().collect();
        while let Some(n) = stack.pop() {
            if !seen.insert(n.id) {
                continue;
            }
            let e = n.edges.borrow();
            let ids: Vec<u64> = e.iter().map(|c| c.id).collect();
            assert_eq!(
                ids, self.edges[&n.id],
                "seed {}: edges of {} differ",
                self.seed, n.id
            );
            stack.extend(e.iter().cloned());
        }
        assert_eq!(
            seen, live,
            "seed {}: the heap's reachable set differs from the model's",
            self.seed
        );
        self.weaks.retain(|(w, id)| {
            let up = w.upgrade();
            assert_eq!(
                up.is_some(),
                live.contains(id),
                "seed {}: weak to {id}",
                self.seed
            );
            up.is_some()
        });
    }
}

fn run(seed: u64, id_base: u64, steps: usize) {
    let mut m = Model::new(seed, id_base);
    for _ in 0..steps {
        m.step();
    }
    m.check();
    m.slots.iter_mut().for_each(|s| *s = None);
    m.slot_ids.iter_mut().for_each(|s| *s = None);
    m.check();
    assert!(
        m.edges.is_empty(),
        "seed {seed}: objects left after dropping every root"
    );
}

fn seeds() -> Vec<u64> {
    match std::env::var("MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(s) => vec![s],
        None => (1..=8).collect(),
    }
}

#[test]
fn single_thread_matches_the_model() {
    for seed in seeds() {
        run(seed, seed << 40, STEPS);
    }
}

#[test]
fn threads_each_with_a_model_share_the_heap() {
    for threads in [2usize, 4, 8] {
        let hs: Vec<_> = (0..threads as u64)
            .map(|t| std::thread::spawn(move || run(1000 + t, (1000 + t) << 40, STEPS / 4)))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
}
