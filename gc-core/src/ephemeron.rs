//! `GcWeakMap<K, V>`: a map from objects to objects whose entries are ephemerons (JavaScript's
//! `WeakMap`, boa_gc's `Ephemeron`): an entry keeps its value alive exactly as long as its key
//! is alive, and neither the map nor the value keeps the key alive, even when the value
//! refers back to the key.
//!
//! # How the collector sees an entry
//! The value's edge hangs off the key, not off the map: the key's span has a bit that says
//! "this object is a key" (module `mspecial`), and `mspecial::EPHEMERONS` lists each key's
//! (map, value) pairs. When a marker marks a key whose bit is set, it also queues a tagged
//! entry that reports the key's values as edges (module `mark`), so a value is marked if and
//! only if its key is (or something else reaches it), in one pass, with no fixpoint round at
//! mark termination. The stop does nothing for ephemerons.
//!
//! The barrier for these edges:
//! - `insert` adds an edge key → value: while marking, the new value is shaded (Dijkstra), so a
//!   key the marker already visited cannot hide it; a key made a key during marking is covered
//!   the same way.
//! - `remove` and replacing an entry delete an edge: the value is handed back rooted (and a
//!   `Weak::upgrade` shades while marking), and the map hands values out no other way, so a
//!   deleted edge can hide nothing the program can still reach (the Yuasa argument's premise).
//! - The sweeper drops the pairs of a key it finds dead, before the key's slot can be reused,
//!   and those of a key it keeps only for its finalizer (whose weak references clear too, and whose
//!   values were not marked through it); the resurrection pass of unknown-type finalizers does
//!   the same. So an address in `EPHEMERONS` is always the live key it was filed under.
//!
//! # The map itself
//! The table (key address → weak key, weak value) lives in malloc under a mutex: the map owns
//! no edges, so the marker never reads it. Entries of dead keys are dropped from the table when
//! any method but `clear` first runs after a cycle has ended (amortized: one pass per cycle,
//! against the cycle's own work), so the table does not grow with dead keys. Until then a dead
//! entry's `Weak`s keep the memory of its key and value (not their values, which the sweeper
//! drops on time: module `weakhandle`); a map that is no longer used at all keeps that memory
//! until it is dropped.

use crate::alg::GcHashState;
use crate::barrier::shade;
use crate::handle::Gc;
use crate::header::Header;
use crate::locks::Mutex;
use crate::mheap::span_of;
use crate::mspecial::EPHEMERONS;
use crate::operation::with_op;
use crate::trace::{Finalize, Trace, Tracer};
use crate::weak::Weak;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Keys a `clear` or a drop of a map unfiles per hold of [`EPHEMERONS`]: the holder is outside
/// any operation, so a stop does not wait for it to leave, and the stop's drain takes the lock
/// (`mark::visit_ephemerons`); a whole large table under it would lengthen that stop (found by
/// review, 2026-12-07).
const UNFILE_BATCH: usize = 256;

/// A map whose entries live as long as their keys: see the module docs.
///
/// Keys are objects compared by identity (`Gc::ptr_eq`), not by value. Values are handles.
/// Every method takes the map's lock briefly; calls from several threads serialize.
/// There is no iteration: which entries are still there depends on when the collector runs.
///
/// # Example
/// ```
/// use tricolor_gc::{Gc, GcWeakMap};
/// let map: GcWeakMap<String, u32> = GcWeakMap::new();
/// let key = Gc::new(String::from("node"));
/// map.insert(&key, Gc::new(1));
/// assert_eq!(*map.get(&key).unwrap(), 1);
///
/// let weak_value = Gc::downgrade(&map.get(&key).unwrap());
/// drop(key); // the entry, and its value, go once the collector finds the key unreachable
/// tricolor_gc::collect();
/// assert!(weak_value.upgrade().is_none());
/// assert_eq!(map.len(), 0);
/// ```
pub struct GcWeakMap<K: ?Sized + 'static, V: ?Sized + 'static> {
    id: u64,
    table: Mutex<Table<K, V>>,
}

struct Table<K: ?Sized + 'static, V: ?Sized + 'static> {
    /// By the key's address, hashed with the maps' own hash (`alg`): addresses are the
    /// allocator's, not a user's choice.
    entries: HashMap<usize, Entry<K, V>, GcHashState>,
    /// `Stats::num_gc` when dead keys were last dropped from `entries`.
    purged_at: u64,
}

struct Entry<K: ?Sized + 'static, V: ?Sized + 'static> {
    key: Weak<K>,
    value: Weak<V>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl<K: ?Sized + 'static, V: ?Sized + 'static> GcWeakMap<K, V> {
    /// An empty map.
    ///
    /// # Example
    /// ```
    /// let m: tricolor_gc::GcWeakMap<str, u8> = tricolor_gc::GcWeakMap::new();
    /// assert!(m.is_empty());
    /// ```
    pub fn new() -> Self {
        GcWeakMap {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            table: Mutex::new(Table {
                entries: HashMap::with_hasher(GcHashState::new()),
                purged_at: 0,
            }),
        }
    }

    /// Maps `key` to `value` and returns the value it replaces. The entry keeps `value` alive
    /// for as long as `key` lives.
    ///
    /// A key whose weak references were cleared (an object the collector found unreachable
    /// and a finalizer then kept alive) has no entries, as it has no weak references: `insert`
    /// files nothing for it, drops `value` and returns `None`.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcWeakMap};
    /// let m = GcWeakMap::new();
    /// let k = Gc::new(1u8);
    /// assert!(m.insert(&k, Gc::new("a")).is_none());
    /// assert_eq!(*m.insert(&k, Gc::new("b")).unwrap(), "a");
    /// ```
    pub fn insert(&self, key: &Gc<K>, value: Gc<V>) -> Option<Gc<V>> {
        let k = key.header() as *const Header as usize;
        let v = value.header() as *const Header as usize;
        // Before the lock: a downgrade may allocate its span's table of weak counts, and other
        // users of the map should not wait for that.
        let entry = Entry {
            key: Gc::downgrade(key),
            value: Gc::downgrade(&value),
        };
        let mut t = self.table.lock();
        t.purge_if_a_cycle_ended();
        let old = t.entries.remove(&k).filter(|e| e.key.addr() == k);
        if entry.key.addr() != k {
            // The key's weak references were cleared (found unreachable, then kept alive by
            // a finalizer): it can key nothing, as `get` could never find the entry again and
            // its pair would keep `value` for as long as the key lives. Its old entry's pairs
            // went when it was cleared. Cleared stays cleared, and `key` is rooted, so this
            // cannot change while we hold it.
            return None;
        }
        let old_value = old.as_ref().and_then(|e| e.value.upgrade());
        // SAFETY: `key` is a live object (we hold a handle to it).
        let span = unsafe { span_of(k) };
        with_op(|op| {
            {
                let mut e = EPHEMERONS.lock();
                let pairs = e.get_or_insert_with(Default::default).entry(k).or_default();
                match pairs.iter_mut().find(|(m, _)| *m == self.id) {
                    Some(p) => p.1 = v,
                    None => pairs.push((self.id, v)),
                }
            }
            // After the pair is filed: a marker that sees the bit finds it.
            span.specials.set_ephemeron_key(span.index_of(k));
            if op.marking() {
                shade(value.header());
            }
        });
        t.entries.insert(k, entry);
        old_value
    }

    /// The value mapped to `key`, if any.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcWeakMap};
    /// let m = GcWeakMap::new();
    /// let k = Gc::new(1u8);
    /// m.insert(&k, Gc::new(5u64));
    /// assert_eq!(*m.get(&k).unwrap(), 5);
    /// assert!(m.get(&Gc::new(1u8)).is_none()); // another object
    /// ```
    pub fn get(&self, key: &Gc<K>) -> Option<Gc<V>> {
        let k = key.header() as *const Header as usize;
        let mut t = self.table.lock();
        t.purge_if_a_cycle_ended();
        let e = t.entries.get(&k).filter(|e| e.key.addr() == k)?;
        e.value.upgrade()
    }

    /// Whether `key` has an entry.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcWeakMap};
    /// let m = GcWeakMap::new();
    /// let k = Gc::new(());
    /// m.insert(&k, Gc::new(0));
    /// assert!(m.contains_key(&k));
    /// ```
    pub fn contains_key(&self, key: &Gc<K>) -> bool {
        let k = key.header() as *const Header as usize;
        let mut t = self.table.lock();
        t.purge_if_a_cycle_ended();
        t.entries.get(&k).is_some_and(|e| e.key.addr() == k)
    }

    /// Removes `key`'s entry and returns its value.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcWeakMap};
    /// let m = GcWeakMap::new();
    /// let k = Gc::new(());
    /// m.insert(&k, Gc::new(3));
    /// assert_eq!(*m.remove(&k).unwrap(), 3);
    /// assert!(!m.contains_key(&k));
    /// ```
    pub fn remove(&self, key: &Gc<K>) -> Option<Gc<V>> {
        let k = key.header() as *const Header as usize;
        let mut t = self.table.lock();
        t.purge_if_a_cycle_ended();
        let e = t.entries.remove(&k).filter(|e| e.key.addr() == k)?;
        // Rooted (and shaded while marking) before the edge goes.
        let value = e.value.upgrade();
        self.unfile([k]);
        value
    }

    /// Entries whose key has not been found unreachable. O(entries): it checks each key.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcWeakMap};
    /// let m = GcWeakMap::new();
    /// let k = Gc::new(());
    /// m.insert(&k, Gc::new(0));
    /// assert_eq!(m.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        let mut t = self.table.lock();
        t.purge_if_a_cycle_ended();
        t.entries.values().filter(|e| e.key.addr() != 0).count()
    }

    /// `len() == 0`.
    ///
    /// # Example
    /// ```
    /// assert!(tricolor_gc::GcWeakMap::<u8, u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcWeakMap};
    /// let m = GcWeakMap::new();
    /// let k = Gc::new(());
    /// m.insert(&k, Gc::new(0));
    /// m.clear();
    /// assert!(m.is_empty());
    /// ```
    pub fn clear(&self) {
        let mut t = self.table.lock();
        self.unfile(t.entries.drain().map(|(k, _)| k));
    }

    /// Drops this map's pairs for the keys at `keys` (a no-op for a key whose pairs the sweeper
    /// dropped), [`UNFILE_BATCH`] keys per acquisition of the global lock. The caller holds the
    /// map's own lock, so no pair of this map is filed meanwhile; between batches a marker may
    /// still find some of its pairs and mark their values, which keeps them one cycle longer.
    fn unfile(&self, keys: impl IntoIterator<Item = usize>) {
        let mut keys = keys.into_iter().peekable();
        while keys.peek().is_some() {
            let mut e = EPHEMERONS.lock();
            let Some(all) = e.as_mut() else { return };
            for k in keys.by_ref().take(UNFILE_BATCH) {
                if let Some(pairs) = all.get_mut(&k) {
                    pairs.retain(|(m, _)| *m != self.id);
                    // The key's bit stays: a key with no pairs costs the marker a lookup, and
                    // clearing it would race with another map's `insert`.
                    if pairs.is_empty() {
                        all.remove(&k);
                    }
                }
            }
        }
    }
}

impl<K: ?Sized + 'static, V: ?Sized + 'static> Table<K, V> {
    /// Drops the entries of dead keys once per cycle (their pairs went with the sweep), and
    /// with them their `Weak`s, which keep the dead keys' and values' memory. One load of a
    /// global counter when no cycle ended since the last call.
    fn purge_if_a_cycle_ended(&mut self) {
        let n = crate::mstats::CYCLES_RECORDED.load(std::sync::atomic::Ordering::Relaxed);
        if n != self.purged_at {
            self.purged_at = n;
            self.entries.retain(|&k, e| e.key.addr() == k);
        }
    }
}

impl<K: ?Sized + 'static, V: ?Sized + 'static> Default for GcWeakMap<K, V> {
    fn default() -> Self {
        GcWeakMap::new()
    }
}

impl<K: ?Sized + 'static, V: ?Sized + 'static> Drop for GcWeakMap<K, V> {
    /// The map's pairs go with it: its values no longer live through their keys. (Run by the
    /// sweeper for a map inside a dead object; it touches no other object, only the weak
    /// counts of its keys' and values' spans.)
    fn drop(&mut self) {
        let mut t = self.table.lock();
        self.unfile(t.entries.drain().map(|(k, _)| k));
    }
}

impl<K: ?Sized + 'static, V: ?Sized + 'static> std::fmt::Debug for GcWeakMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GcWeakMap({} entries)", self.len())
    }
}

impl<K: ?Sized + 'static, V: ?Sized + 'static> Finalize for GcWeakMap<K, V> {
    fn has_finalizer() -> bool {
        false
    }
}

// SAFETY: the map owns no edges: its keys are weak, and its values hang off their keys
// (`mspecial::EPHEMERONS`), which the marker visits when it marks a key.
unsafe impl<K: ?Sized + 'static, V: ?Sized + 'static> Trace for GcWeakMap<K, V> {
    fn trace(&self, _: &mut Tracer) {}
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
    fn is_noscan() -> bool {
        true
    }
    fn needs_sweep_drop() -> bool {
        true // its `Drop` unfiles its pairs
    }
}
