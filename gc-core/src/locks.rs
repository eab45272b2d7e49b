//! The runtime's blocking locks: `parking_lot`'s, except under Miri, where a thin wrapper over
//! `std::sync` with the same API stands in. Miri rejects the futex call of `parking_lot_core`
//! (it passes `&AtomicI32` where the variadic `syscall` expects `*mut u32`) whenever a thread
//! actually parks; std's locks make the same system call in the form Miri models.

#[cfg(not(miri))]
pub(crate) use parking_lot::{
    Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

#[cfg(miri)]
pub(crate) use miri_shim::*;

#[cfg(miri)]
mod miri_shim {
    use std::ops::{Deref, DerefMut};
    use std::sync::PoisonError;

    /// `parking_lot::Mutex`'s API over `std::sync::Mutex` (poisoning ignored, as parking_lot
    /// has none).
    #[derive(Default)]
    pub(crate) struct Mutex<T: ?Sized>(std::sync::Mutex<T>);
    pub(crate) struct MutexGuard<'a, T: ?Sized>(Option<std::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) const fn new(t: T) -> Self {
            Mutex(std::sync::Mutex::new(t))
        }
    }
    impl<T: ?Sized> Mutex<T> {
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().unwrap_or_else(PoisonError::into_inner)))
        }
        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            match self.0.try_lock() {
                Ok(g) => Some(MutexGuard(Some(g))),
                Err(std::sync::TryLockError::Poisoned(p)) => Some(MutexGuard(Some(p.into_inner()))),
                Err(std::sync::TryLockError::WouldBlock) => None,
            }
        }
    }
    impl<T: ?Sized> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("a guard between waits")
        }
    }
    impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().expect("a guard between waits")
        }
    }

    /// `parking_lot::Condvar`'s API over `std::sync::Condvar`.
    pub(crate) struct Condvar(std::sync::Condvar);
    impl Condvar {
        pub(crate) const fn new() -> Self {
            Condvar(std::sync::Condvar::new())
        }
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let g = guard.0.take().expect("a guard between waits");
            guard.0 = Some(self.0.wait(g).unwrap_or_else(PoisonError::into_inner));
        }
        pub(crate) fn notify_all(&self) -> usize {
            self.0.notify_all();
            0
        }
    }

    /// `parking_lot::RwLock`'s API over `std::sync::RwLock`.
    pub(crate) struct RwLock<T: ?Sized>(std::sync::RwLock<T>);
    pub(crate) struct RwLockReadGuard<'a, T: ?Sized>(std::sync::RwLockReadGuard<'a, T>);
    pub(crate) struct RwLockWriteGuard<'a, T: ?Sized>(std::sync::RwLockWriteGuard<'a, T>);

    impl<T> RwLock<T> {
        pub(crate) const fn new(t: T) -> Self {
            RwLock(std::sync::RwLock::new(t))
        }
    }
    impl<T: ?Sized> RwLock<T> {
        pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
            RwLockReadGuard(self.0.read().unwrap_or_else(PoisonError::into_inner))
        }
        /// std's `read` may block behind a waiting writer where parking_lot's `read_recursive`
        /// does not; Miri's tests take no recursive read with a writer waiting.
        pub(crate) fn read_recursive(&self) -> RwLockReadGuard<'_, T> {
            self.read()
        }
        pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
            RwLockWriteGuard(self.0.write().unwrap_or_else(PoisonError::into_inner))
        }
        pub(crate) fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
            self.0.try_read().ok().map(RwLockReadGuard)
        }
        pub(crate) fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
            self.0.try_write().ok().map(RwLockWriteGuard)
        }
    }
    impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }
    impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.0
        }
    }
    impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.0
        }
    }
    impl<T: Default> Default for RwLock<T> {
        fn default() -> Self {
            RwLock::new(T::default())
        }
    }
}
