//! `GcMutex<T>` and `GcRwLock<T>`: blocking locks for values in the heap, with `GcCell`'s
//! rooting rules.
//!
//! Each is a `parking_lot` lock that orders the users' threads, around a `GcCell` that tells the
//! collector. `lock`/`write` first wait for the `parking_lot` lock, outside any collector
//! operation, and then take the cell's exclusive borrow (which roots the contents, shading them
//! while marking: `GcCell::try_borrow_mut`); dropping the guard unroots and releases the cell,
//! then the lock. So:
//! - a thread that holds the lock, or waits for it, is not inside an operation: mark
//!   termination's stop never waits for it, however long it holds the lock;
//! - a marker never touches the `parking_lot` lock: it reads the cell under its own borrow and
//!   skips it while a writer holds it (the contents are roots then), so it cannot deadlock
//!   against a lock holder.
//!
//! Like `GcCell`, a `lock` costs O(handles in the value) (the contents are rooted and unrooted
//! whole): these locks are for small shared aggregates. Large shared arrays and maps belong in
//! `GcVec` and `GcMap`, which are `Sync` on their own.

use crate::cell::{GcCell, GcCellRef, GcCellRefMut};
use crate::operation::in_operation;
use crate::trace::{Finalize, Trace, Tracer};
use std::fmt;
use std::ops::{Deref, DerefMut};

/// A blocking lock may not be taken inside a collector operation (from a hand-written `Trace`).
fn not_in_an_operation() {
    if in_operation() {
        panic!(
            "tricolor: a GcMutex/GcRwLock taken inside a collector operation (from a Trace \
             impl?): it could wait for a thread that waits for the collector"
        );
    }
}

/// A mutual-exclusion lock for a value in the heap: `std::sync::Mutex`'s blocking `lock`, with
/// the barrier of [`GcCell`].
///
/// # Example
/// ```
/// use tricolor_gc::{Gc, GcMutex};
/// let counter = Gc::new(GcMutex::new((0u64, Vec::<Gc<u64>>::new())));
/// let threads: Vec<_> = (0..4)
///     .map(|_| {
///         let c = counter.clone();
///         std::thread::spawn(move || {
///             for i in 0..100 {
///                 let mut g = c.lock();
///                 g.0 += 1;
///                 if i % 50 == 0 {
///                     g.1.push(Gc::new(i));
///                 }
///             }
///         })
///     })
///     .collect();
/// for t in threads {
///     t.join().unwrap();
/// }
/// assert_eq!(counter.lock().0, 400);
/// ```
pub struct GcMutex<T> {
    lock: crate::locks::Mutex<()>,
    cell: GcCell<T>,
}

/// The guard of a [`GcMutex`]: derefs to the value; the lock is released when it drops.
///
/// # Example
/// ```
/// let m = tricolor_gc::GcMutex::new(1);
/// let mut g: tricolor_gc::GcMutexGuard<'_, i32> = m.lock();
/// *g += 1;
/// drop(g);
/// assert_eq!(*m.lock(), 2);
/// ```
pub struct GcMutexGuard<'a, T: Trace> {
    // Declared first: dropped first, so the cell goes back into the heap before the lock lets
    // the next thread in.
    value: GcCellRefMut<'a, T>,
    _lock: crate::locks::MutexGuard<'a, ()>,
}

impl<T> GcMutex<T> {
    /// A new lock holding `value`.
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMutex::new(vec![1]);
    /// assert_eq!(m.lock().len(), 1);
    /// ```
    pub const fn new(value: T) -> GcMutex<T> {
        GcMutex {
            lock: crate::locks::Mutex::new(()),
            cell: GcCell::new(value),
        }
    }

    /// Takes the value out of a lock that is not in the heap.
    ///
    /// # Example
    /// ```
    /// assert_eq!(tricolor_gc::GcMutex::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.cell.into_inner()
    }
}

impl<T: Trace> GcMutex<T> {
    /// Waits for the lock, then lends the value exclusively until the guard drops.
    ///
    /// # Panics
    /// If called inside a collector operation (from a hand-written `Trace` impl).
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMutex::new(String::new());
    /// m.lock().push('x');
    /// assert_eq!(*m.lock(), "x");
    /// ```
    pub fn lock(&self) -> GcMutexGuard<'_, T> {
        not_in_an_operation();
        let lock = self.lock.lock();
        self.guard(lock)
    }

    /// Takes the lock if it is free.
    ///
    /// # Example
    /// ```
    /// let m = tricolor_gc::GcMutex::new(0);
    /// let g = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<GcMutexGuard<'_, T>> {
        not_in_an_operation();
        let lock = self.lock.try_lock()?;
        Some(self.guard(lock))
    }

    fn guard<'a>(&'a self, lock: crate::locks::MutexGuard<'a, ()>) -> GcMutexGuard<'a, T> {
        // Holding the lock, nobody else borrows the cell: only a marker can be inside, and
        // the borrow waits for it.
        let value = self
            .cell
            .try_borrow_mut()
            .expect("a GcMutex's cell is borrowed only under its lock");
        GcMutexGuard { value, _lock: lock }
    }
}

impl<T: Trace> Deref for GcMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Trace> DerefMut for GcMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// A reader-writer lock for a value in the heap: `std::sync::RwLock`'s blocking `read` and
/// `write`, with the barrier of [`GcCell`] on `write`. Readers share with the marker.
///
/// # Example
/// ```
/// use tricolor_gc::{Gc, GcRwLock};
/// let config = Gc::new(GcRwLock::new(vec![Gc::new(1u8)]));
/// config.write().push(Gc::new(2));
/// assert_eq!(config.read().len(), 2);
/// ```
pub struct GcRwLock<T> {
    lock: crate::locks::RwLock<()>,
    cell: GcCell<T>,
}

/// A shared guard of a [`GcRwLock`].
///
/// # Example
/// ```
/// let l = tricolor_gc::GcRwLock::new(5);
/// let r: tricolor_gc::GcRwLockReadGuard<'_, i32> = l.read();
/// assert_eq!(*r, 5);
/// ```
pub struct GcRwLockReadGuard<'a, T> {
    value: GcCellRef<'a, T>,
    _lock: crate::locks::RwLockReadGuard<'a, ()>,
}

/// The exclusive guard of a [`GcRwLock`].
///
/// # Example
/// ```
/// let l = tricolor_gc::GcRwLock::new(5);
/// let mut w: tricolor_gc::GcRwLockWriteGuard<'_, i32> = l.write();
/// *w = 6;
/// drop(w);
/// assert_eq!(*l.read(), 6);
/// ```
pub struct GcRwLockWriteGuard<'a, T: Trace> {
    value: GcCellRefMut<'a, T>,
    _lock: crate::locks::RwLockWriteGuard<'a, ()>,
}

impl<T> GcRwLock<T> {
    /// A new lock holding `value`.
    ///
    /// # Example
    /// ```
    /// let l = tricolor_gc::GcRwLock::new('a');
    /// assert_eq!(*l.read(), 'a');
    /// ```
    pub const fn new(value: T) -> GcRwLock<T> {
        GcRwLock {
            lock: crate::locks::RwLock::new(()),
            cell: GcCell::new(value),
        }
    }

    /// Takes the value out of a lock that is not in the heap.
    ///
    /// # Example
    /// ```
    /// assert_eq!(tricolor_gc::GcRwLock::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.cell.into_inner()
    }
}

impl<T: Trace> GcRwLock<T> {
    /// Waits until no writer holds the lock, then lends the value shared.
    ///
    /// # Example
    /// ```
    /// let l = tricolor_gc::GcRwLock::new(1);
    /// let (a, b) = (l.read(), l.read());
    /// assert_eq!(*a + *b, 2);
    /// ```
    pub fn read(&self) -> GcRwLockReadGuard<'_, T> {
        not_in_an_operation();
        let lock = self.lock.read();
        self.read_guard(lock)
    }

    /// Takes the lock shared if no writer holds it.
    ///
    /// # Example
    /// ```
    /// let l = tricolor_gc::GcRwLock::new(1);
    /// let w = l.write();
    /// assert!(l.try_read().is_none());
    /// drop(w);
    /// assert!(l.try_read().is_some());
    /// ```
    pub fn try_read(&self) -> Option<GcRwLockReadGuard<'_, T>> {
        not_in_an_operation();
        let lock = self.lock.try_read()?;
        Some(self.read_guard(lock))
    }

    /// Waits until nobody holds the lock, then lends the value exclusively.
    ///
    /// # Example
    /// ```
    /// let l = tricolor_gc::GcRwLock::new(vec![0]);
    /// l.write().push(1);
    /// assert_eq!(l.read().len(), 2);
    /// ```
    pub fn write(&self) -> GcRwLockWriteGuard<'_, T> {
        not_in_an_operation();
        let lock = self.lock.write();
        self.write_guard(lock)
    }

    /// Takes the lock exclusively if nobody holds it.
    ///
    /// # Example
    /// ```
    /// let l = tricolor_gc::GcRwLock::new(0);
    /// let r = l.read();
    /// assert!(l.try_write().is_none());
    /// drop(r);
    /// assert!(l.try_write().is_some());
    /// ```
    pub fn try_write(&self) -> Option<GcRwLockWriteGuard<'_, T>> {
        not_in_an_operation();
        let lock = self.lock.try_write()?;
        Some(self.write_guard(lock))
    }

    fn read_guard<'a>(
        &'a self,
        lock: crate::locks::RwLockReadGuard<'a, ()>,
    ) -> GcRwLockReadGuard<'a, T> {
        let value = self
            .cell
            .try_borrow()
            .expect("a GcRwLock's cell is borrowed exclusively only under its write lock");
        GcRwLockReadGuard { value, _lock: lock }
    }

    fn write_guard<'a>(
        &'a self,
        lock: crate::locks::RwLockWriteGuard<'a, ()>,
    ) -> GcRwLockWriteGuard<'a, T> {
        let value = self
            .cell
            .try_borrow_mut()
            .expect("a GcRwLock's cell is borrowed only under its lock");
        GcRwLockWriteGuard { value, _lock: lock }
    }
}

impl<T> Deref for GcRwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Trace> Deref for GcRwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Trace> DerefMut for GcRwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: Trace + fmt::Debug> fmt::Debug for GcMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_lock() {
            Some(g) => f.debug_struct("GcMutex").field("value", &&*g).finish(),
            None => f.write_str("GcMutex { <locked> }"),
        }
    }
}

impl<T: Trace + fmt::Debug> fmt::Debug for GcRwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read() {
            Some(g) => f.debug_struct("GcRwLock").field("value", &&*g).finish(),
            None => f.write_str("GcRwLock { <locked> }"),
        }
    }
}

impl<T: Default> Default for GcMutex<T> {
    fn default() -> Self {
        GcMutex::new(T::default())
    }
}

impl<T: Default> Default for GcRwLock<T> {
    fn default() -> Self {
        GcRwLock::new(T::default())
    }
}

impl<T> Finalize for GcMutex<T> {
    fn has_finalizer() -> bool {
        false
    }
}

impl<T> Finalize for GcRwLock<T> {
    fn has_finalizer() -> bool {
        false
    }
}

/// `Trace` through the cell: what `GcCell` does (a marker skips the value while a writer holds
/// it, the writer's borrow rooted it), and the same sweep flags.
macro_rules! lock_trace {
    ($lock:ident) => {
        // SAFETY: forwards to the cell, whose impl is the barrier-aware one; the lock itself
        // holds no handles.
        unsafe impl<T: Trace> Trace for $lock<T> {
            fn trace(&self, t: &mut Tracer) {
                self.cell.trace(t)
            }
            unsafe fn root(&mut self) {
                // SAFETY: forwarded.
                unsafe { self.cell.root() }
            }
            unsafe fn unroot(&mut self) {
                // SAFETY: forwarded.
                unsafe { self.cell.unroot() }
            }
            fn is_noscan() -> bool {
                T::is_noscan()
            }
            fn needs_sweep_drop() -> bool {
                T::needs_sweep_drop()
            }
        }
    };
}
lock_trace!(GcMutex);
lock_trace!(GcRwLock);
