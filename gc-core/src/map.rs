//! `GcMap<K, V>`: a hash map inside the heap whose every store costs O(1) barrier and rooting
//! work, keys included.
//!
//! The entries are a dense array of `(K, V)` in the element store of `GcVec` (module `vec`:
//! its locking, barrier and chunked marking apply unchanged), and a separate open-addressing
//! index of positions keeps each entry's hash. Because the entries are owned by the array and
//! the hashes are stored, rooting or unrooting the map flips its keys' handles in place and
//! never rehashes: no user `Hash` or `Eq` runs inside a collector operation. The user's `Hash`
//! and `Eq` run only in the lookups, under the map's lock but outside any operation; the
//! operation that follows moves one entry.
//!
//! Order: insertion order, until a removal, which moves the last entry into the removed one's
//! place (as `IndexMap::swap_remove`).

use crate::alg::GcHashState;
use crate::handle::Gc;
use crate::malloc;
use crate::operation::Op;
use crate::trace::{Finalize, Trace, Tracer};
use crate::vec::{self, Elements, ReadGuard};
use std::borrow::Borrow;
use std::cell::UnsafeCell;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;

/// Positions of the entries by hash: linear probing over a power-of-two table, with
/// backward-shift deletion. A slot is 0 (empty) or the position + 1 in its low 32 bits and the
/// hash's high 32 bits above them, so that a probe compares keys (a read of the entry, likely a
/// cache miss in a large map) only for a slot whose hash bits match. The full hashes are kept
/// per entry for growth and removal. Holds no handles, so the marker never reads it; it changes
/// only under the map's exclusive lock.
#[derive(Default)]
struct Index {
    /// `hashes[pos]`: the hash of the entry at `pos`.
    hashes: Vec<u64>,
    slots: Vec<u64>,
}

fn slot_of(hash: u64, pos: usize) -> u64 {
    (hash & !0xFFFF_FFFF) | (pos as u64 + 1)
}

fn pos_of(slot: u64) -> usize {
    (slot & 0xFFFF_FFFF) as usize - 1
}

impl Index {
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The slot holding an entry with hash `hash` for which `is(pos)`, and that position.
    fn find(&self, hash: u64, mut is: impl FnMut(usize) -> bool) -> Option<(usize, usize)> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let tag = hash & !0xFFFF_FFFF;
        let mut i = hash as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if s & !0xFFFF_FFFF == tag {
                let pos = pos_of(s);
                if is(pos) {
                    return Some((i, pos));
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Records a new entry at `pos` (= the old number of entries) with `hash`.
    fn insert(&mut self, hash: u64, pos: usize) {
        assert!(pos < u32::MAX as usize - 1, "GcMap: too many entries");
        self.hashes.push(hash);
        if self.hashes.len() * 8 > self.slots.len() * 7 {
            self.grow();
        } else {
            self.place(hash, pos);
        }
    }

    fn place(&mut self, hash: u64, pos: usize) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot_of(hash, pos);
    }

    /// Doubles the table and places every entry again from its stored hash.
    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(8);
        self.slots = vec![0; n];
        for pos in 0..self.hashes.len() {
            self.place(self.hashes[pos], pos);
        }
    }

    /// Forgets the entry in slot `i` at position `pos`; the entry that was last (if another)
    /// now sits at `pos`, as `swap_remove` leaves it.
    fn remove(&mut self, mut i: usize, pos: usize) {
        let mask = self.mask();
        // Backward-shift deletion: pull later members of the probe run into the hole.
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            let home = self.hashes[pos_of(s)] as usize & mask;
            // Move `j` into the hole unless its home lies cyclically in (i, j].
            let in_between = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !in_between {
                self.slots[i] = s;
                i = j;
            }
        }
        self.slots[i] = 0;
        let last = self.hashes.len() - 1;
        if pos != last {
            let hash = self.hashes[last];
            let (slot, _) = self
                .find(hash, |p| p == last)
                .expect("the last entry is indexed");
            self.slots[slot] = slot_of(hash, pos);
        }
        self.hashes.swap_remove(pos);
    }

    fn clear(&mut self) {
        self.hashes.clear();
        self.slots.fill(0);
    }
}

/// A hash map for the heap, with O(1) barrier work per store (keys included) and safe to
/// share between threads.
///
/// Entries move in and out only through methods; `get` clones a value out; `view` lends all
/// the entries for reading, in insertion order (a removal moves the last entry into the removed
/// one's place). Calls from several threads take turns (a blocking lock); the keys' `Hash` and
/// `Eq` run under that lock, never inside the collector, so they may allocate or panic without
/// harm to the heap (a panic leaves the map as it was). A view blocks the methods that change
/// the map until it is dropped. Storing under a key already present replaces the value and
/// keeps the key already stored (the one given is dropped), as `HashMap::insert` does.
///
/// # Example
/// ```
/// use tricolor_gc::{Gc, GcMap};
/// let table: Gc<GcMap<Gc<str>, Gc<u64>>> = Gc::new(GcMap::new());
/// table.insert(Gc::from("one"), Gc::new(1));
/// assert_eq!(*table.get("one").unwrap(), 1);
/// assert!(table.get("two").is_none());
/// ```
pub struct GcMap<K, V, S = GcHashState> {
    entries: Elements<(K, V)>,
    /// Guarded by the entries' lock (read under it shared, changed under it exclusive).
    index: UnsafeCell<Index>,
    hasher: S,
}

// SAFETY: the entries are an `Elements` (Sync for `Send + Sync` contents); the index is only
// touched under the entries' lock, as an `RwLock` would guard it; the hasher is only read.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Send + Sync> Sync for GcMap<K, V, S> {}

impl<K, V> GcMap<K, V> {
    /// An empty map, hashing with a [`GcHashState`] of its own: a fast hash with random seeds
    /// (its docs say what it does not promise; `with_hasher(RandomState::new())` gives std's
    /// SipHash).
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMap::<u8, u8>::new();
    /// assert!(m.is_empty());
    /// ```
    pub fn new() -> GcMap<K, V> {
        GcMap::with_hasher(GcHashState::new())
    }
}

impl<K, V, S> GcMap<K, V, S> {
    /// An empty map that hashes with `hasher`.
    ///
    /// # Example
    /// ```
    /// use std::hash::BuildHasherDefault;
    /// use std::collections::hash_map::DefaultHasher;
    /// let m = tricolor_gc::GcMap::<u8, u8, _>::with_hasher(BuildHasherDefault::<DefaultHasher>::default());
    /// m.insert(1, 2);
    /// assert_eq!(m.get(&1), Some(2));
    /// ```
    pub fn with_hasher(hasher: S) -> GcMap<K, V, S> {
        GcMap {
            entries: Elements::from_vec(Vec::new()),
            index: UnsafeCell::new(Index::default()),
            hasher,
        }
    }

    /// The number of entries (read without the lock).
    ///
    /// # Example
    /// ```
    /// let m: tricolor_gc::GcMap<u8, u8> = [(1, 1), (2, 2)].into_iter().collect();
    /// assert_eq!(m.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if there are no entries.
    ///
    /// # Example
    /// ```
    /// assert!(tricolor_gc::GcMap::<u8, u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Trace + Hash + Eq, V: Trace, S: BuildHasher> GcMap<K, V, S> {
    /// Inserts `value` under `key` and returns the value it replaces, if any.
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMap::new();
    /// assert_eq!(m.insert("a", 1), None);
    /// assert_eq!(m.insert("a", 2), Some(1));
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let hash = self.hasher.hash_one(&key);
        let mut w = self.entries.write();
        // SAFETY: the exclusive lock is held.
        let index = unsafe { &mut *self.index.get() };
        let found = index.find(hash, |pos| w.elements()[pos].0 == key);
        match found {
            Some((_, pos)) => {
                let old = if w.replaces_racily::<V>() {
                    let old = w.replace_value_handle(pos, move |_| Ok(value), true);
                    vec::infallible(old).expect("handed out, so read")
                } else {
                    w.edit(|e| e.replace_value(pos, value))
                };
                // The key given is dropped after the lock: its drop is user code.
                drop(w);
                drop(key);
                Some(old)
            }
            None => {
                let pos = w.elements().len();
                // The entry first: if a hand-written `unroot` unwinds, the index is untouched.
                w.edit(|e| e.push((key, value)));
                index.insert(hash, pos);
                None
            }
        }
    }

    /// Inserts `value` under `key`, dropping the value it replaces: `map[key] = value`.
    /// Cheaper than [`insert`](GcMap::insert) when the old value is not wanted: it is not
    /// handed out, so its object is not touched (only marked, while a cycle is marking).
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMap::new();
    /// m.put("a", 1);
    /// m.put("a", 2);
    /// assert_eq!(m.get("a"), Some(2));
    /// ```
    pub fn put(&self, key: K, value: V) {
        let hash = self.hasher.hash_one(&key);
        let mut w = self.entries.write();
        // SAFETY: the exclusive lock is held.
        let index = unsafe { &mut *self.index.get() };
        let found = index.find(hash, |pos| w.elements()[pos].0 == key);
        let (old, key) = match found {
            Some((_, pos)) if w.replaces_racily::<V>() => {
                let r = w.replace_value_handle(pos, move |_| Ok(value), false);
                (vec::infallible(r), Some(key))
            }
            Some((_, pos)) => (Some(w.edit(|e| e.overwrite_value(pos, value))), Some(key)),
            None => {
                let pos = w.elements().len();
                w.edit(|e| e.push((key, value)));
                index.insert(hash, pos);
                (None, None)
            }
        };
        // Dropped after the lock: their drops are user code (the old value's handles are
        // unrooted and drop as no-ops).
        drop(w);
        drop(old);
        drop(key);
    }
}

impl<K: Trace + Hash + Eq, U: Trace + Send + Sync + 'static, S: BuildHasher> GcMap<K, Gc<U>, S> {
    /// Inserts a new object holding `value` under `key`, dropping the value it replaces:
    /// `map[key] = Gc::new(value)` in one step, as Go's `m[k] = &v`. The new object's handle
    /// goes straight into the map without ever holding a root (see `GcVec::put_new`).
    ///
    /// # Panics
    /// If the heap cannot grow (`key` and `value` are dropped).
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, GcMap};
    /// let m: GcMap<&str, Gc<u64>> = GcMap::new();
    /// m.put_new("a", 1);
    /// m.put_new("a", 2);
    /// assert_eq!(*m.get("a").unwrap(), 2);
    /// ```
    pub fn put_new(&self, key: K, value: U) {
        let hash = self.hasher.hash_one(&key);
        let mut value = malloc::Pending::new(value);
        // Taken only once the value has moved: if the allocation fails or unwinds, the key is
        // still here and drops in this frame, outside the operation (a drop is user code).
        let mut key = Some(key);
        let mut w = self.entries.write();
        // SAFETY: the exclusive lock is held.
        let index = unsafe { &mut *self.index.get() };
        let k = key.as_ref().expect("the key, not moved yet");
        let found = index.find(hash, |pos| w.elements()[pos].0 == *k);
        let mut entry = |new: Gc<U>| (key.take().expect("the key, moved once"), new);
        let r = match found {
            Some((_, pos)) if w.replaces_racily::<Gc<U>>() => {
                let new = |op: &Op<'_>| vec::new_element(op, false, &mut value);
                w.replace_value_handle(pos, new, false)
            }
            Some((_, pos)) => w.edit_after(
                |op, rooted| vec::new_element(op, rooted, &mut value),
                |e, new| new.map(|g| Some(e.overwrite_value(pos, g))),
            ),
            None => {
                let pos = w.elements().len();
                let r = w.edit_after(
                    |op, rooted| vec::new_element(op, rooted, &mut value),
                    |e, new| new.map(|g| e.push(entry(g))),
                );
                if r.is_ok() {
                    index.insert(hash, pos);
                }
                r.map(|()| None)
            }
        };
        drop(w);
        vec::moved_in(r);
    }
}

impl<K: Trace + Hash + Eq, V: Trace, S: BuildHasher> GcMap<K, V, S> {
    /// A clone of the value under `key`.
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMap::new();
    /// m.insert(String::from("k"), 7);
    /// assert_eq!(m.get("k"), Some(7));
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
        V: Clone,
    {
        let hash = self.hasher.hash_one(key);
        let r = self.entries.read();
        // SAFETY: the shared lock is held: no writer changes the index meanwhile.
        let index = unsafe { &*self.index.get() };
        let (_, pos) = index.find(hash, |pos| r[pos].0.borrow() == key)?;
        Some(r[pos].1.clone())
    }

    /// True if `key` has an entry.
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMap::new();
    /// m.insert(1u8, ());
    /// assert!(m.contains_key(&1) && !m.contains_key(&2));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let hash = self.hasher.hash_one(key);
        let r = self.entries.read();
        // SAFETY: as in `get`.
        let index = unsafe { &*self.index.get() };
        index.find(hash, |pos| r[pos].0.borrow() == key).is_some()
    }

    /// Removes the entry of `key` and returns its value.
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMap::new();
    /// m.insert(1, "one");
    /// assert_eq!(m.remove(&1), Some("one"));
    /// assert!(m.is_empty());
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let hash = self.hasher.hash_one(key);
        let mut w = self.entries.write();
        // SAFETY: the exclusive lock is held.
        let index = unsafe { &mut *self.index.get() };
        let (slot, pos) = index.find(hash, |pos| w.elements()[pos].0.borrow() == key)?;
        // The index first: the entries' `swap_remove` moves them before any user code runs
        // (a hand-written `root` of the entry handed out), so if that unwinds, the index and
        // the entries agree.
        index.remove(slot, pos);
        let (k, v) = w.edit(|e| e.swap_remove(pos));
        drop(w);
        drop(k);
        Some(v)
    }

    /// Removes every entry.
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMap::new();
    /// m.insert(1, 1);
    /// m.clear();
    /// assert!(m.is_empty());
    /// ```
    pub fn clear(&self) {
        let removed = {
            let mut w = self.entries.write();
            // SAFETY: the exclusive lock is held.
            unsafe { &mut *self.index.get() }.clear();
            w.edit(|e| e.truncate(0))
        };
        drop(removed);
    }

    /// A shared view of the entries, in the map's order; methods that change the map wait
    /// until it is dropped.
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMap::new();
    /// m.insert("a", 1);
    /// m.insert("b", 2);
    /// let keys: Vec<&str> = m.view().iter().map(|(k, _)| *k).collect();
    /// assert_eq!(keys, ["a", "b"]);
    /// ```
    pub fn view(&self) -> GcMapView<'_, K, V> {
        GcMapView {
            guard: self.entries.read(),
        }
    }
}

/// A shared view of a [`GcMap`]'s entries: derefs to `[(K, V)]`.
///
/// # Example
/// ```
/// let m = tricolor_gc::GcMap::new();
/// m.insert(1, 'x');
/// let v: tricolor_gc::GcMapView<'_, i32, char> = m.view();
/// assert_eq!(v[0], (1, 'x'));
/// ```
pub struct GcMapView<'a, K, V> {
    guard: ReadGuard<'a, (K, V)>,
}

impl<K, V> Deref for GcMapView<'_, K, V> {
    type Target = [(K, V)];
    fn deref(&self) -> &[(K, V)] {
        &self.guard
    }
}

impl<K, V> Default for GcMap<K, V> {
    fn default() -> Self {
        GcMap::new()
    }
}

impl<K: Trace + Hash + Eq, V: Trace> FromIterator<(K, V)> for GcMap<K, V> {
    /// # Example
    /// ```
    /// let m: tricolor_gc::GcMap<&str, i32> = [("a", 1), ("a", 2)].into_iter().collect();
    /// assert_eq!(m.get("a"), Some(2));
    /// ```
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let m = GcMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl<K: Trace + Hash + Eq + fmt::Debug, V: Trace + fmt::Debug, S: BuildHasher> fmt::Debug
    for GcMap<K, V, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.view().iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K, V, S> Finalize for GcMap<K, V, S> {
    fn has_finalizer() -> bool {
        false
    }
}

// SAFETY: keys and values are traced through the entries' store (module `vec`); root/unroot
// flip every key's and value's handles in place with exclusive access (no rehash: the index
// keeps the hashes).
unsafe impl<K: Trace, V: Trace, S> Trace for GcMap<K, V, S> {
    fn trace(&self, t: &mut Tracer) {
        self.entries.trace(t);
    }
    unsafe fn root(&mut self) {
        self.entries.set_rooted(true);
    }
    unsafe fn unroot(&mut self) {
        self.entries.set_rooted(false);
    }
    fn is_noscan() -> bool {
        K::is_noscan() && V::is_noscan()
    }
}
