//! The users' lock of `GcVec` and `GcMap`: a blocking reader-writer lock that a thread which
//! takes it exclusively many times in a row comes to own, entering and leaving it with plain
//! stores.
//!
//! Why: a container's store is a few plain instructions, and a blocking lock wraps them in two
//! locked read-modify-writes. A locked instruction waits for every store before it to reach the
//! cache, so on a large container each store's miss on its slot is paid in full before the
//! next store can begin, where Go's plain stores overlap their misses. Most containers are used
//! by one thread at a time, so the lock is biased towards that thread (as HotSpot biased its
//! monitors): the owner enters by storing its state and reading the bias, ordered by the
//! compiler fence of the `membarrier` pair; any other thread revokes the bias for good, paying
//! the heavy fence (one `membarrier` system call, about 1–2 µs here) once per container. The
//! protocol is `protocol::bias`, modelled in `gc-core/tests/loom.rs`.
//!
//! Since a revocation is paid once per container, a container is biased only after `STREAK`
//! exclusive acquisitions in a row by one thread (reads do not count): containers that threads
//! write from the start never pay it, and one handed to another thread after its streak pays it
//! over at least `STREAK` stores. A revoker waits for the owner's hold to end (a method's body,
//! or a view the owner holds) spinning, then yielding, then sleeping (`sync::backoff`).
//!
//! The owner's guards are `!Send`: only the owner thread writes its `held` word. A thread that
//! holds a view and calls a method that moves elements of the same container deadlocks on the
//! fallback, as with any `RwLock`; the owner (or former owner) panics instead while it holds
//! the view through its `held` word. Shared holds never wait for each other: the owner nests
//! reads inside its own even after a revocation, and a revoking reader waits only for the
//! owner's exclusive hold.

use crate::locks::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use crate::protocol::bias::{self, Refused};
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;

/// Exclusive acquisitions in a row by one thread before it owns the lock.
const STREAK: u32 = 256;

/// A reader-writer lock (with no data of its own) biased towards the thread that uses it alone.
pub(crate) struct BiasedRwLock {
    /// `protocol::bias`: UNBIASED, REVOKED or the owner's token.
    bias: AtomicU64,
    /// The token of the thread that owns or owned the bias (0 before one does): set with
    /// `bias`, never cleared, so that a former owner still finds its `held` holds.
    owner: AtomicU64,
    /// `protocol::bias`: the owner's holds, written only by the owner thread.
    held: AtomicU32,
    /// The last thread to take the fallback exclusively, and how many times in a row: used only
    /// with the fallback held exclusively.
    streak: UnsafeCell<(u64, u32)>,
    fallback: RwLock<()>,
}

// SAFETY: `streak` is used only with `fallback` held exclusively; the rest is atomics and a lock.
unsafe impl Sync for BiasedRwLock {}

/// A shared hold of a [`BiasedRwLock`].
pub(crate) struct ReadGuard<'a> {
    _hold: ReadHold<'a>,
}

/// An exclusive hold of a [`BiasedRwLock`]: two words, the lock and the fallback's guard (null
/// for the owner, whose `held` is found from the lock). It is built on the stack of every
/// container store, and each store there waits behind the store to the container's slot when
/// that misses the cache (BENCHMARKS.md, "Random stores against Go"); it was four words.
pub(crate) struct WriteGuard<'a> {
    lock: &'a BiasedRwLock,
    hold: WriteHold<'a>,
}

enum WriteHold<'a> {
    /// Entered as the owner: the exit writes `held`, so it must happen on this thread.
    Owner(NotSend),
    Fallback {
        _guard: RwLockWriteGuard<'a, ()>,
    },
}

impl Drop for WriteGuard<'_> {
    // Inlined: every store of a container ends here, and an outlined call cost a frame per
    // store (callgrind: 15 instructions of 200).
    #[inline(always)]
    fn drop(&mut self) {
        match self.hold {
            WriteHold::Owner(_) => bias::owner_exit(&self.lock.held, true),
            // The fallback guard is released after this, as the field drops.
            WriteHold::Fallback { .. } => self.lock.own_if_streak_done(),
        }
    }
}

/// `!Send` (only the owner thread may write its `held` word) but `Sync`, as a lock guard is.
struct NotSend(PhantomData<*const ()>);
// SAFETY: holds nothing; it only keeps the guard on its thread.
unsafe impl Sync for NotSend {}

/// A shared hold.
enum ReadHold<'a> {
    /// Entered as the owner: the exit writes `held`, so it must happen on this thread.
    Owner {
        held: &'a AtomicU32,
        _not_send: NotSend,
    },
    Fallback {
        _guard: RwLockReadGuard<'a, ()>,
    },
}

impl Drop for ReadHold<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if let ReadHold::Owner { held, .. } = self {
            bias::owner_exit(held, false);
        }
    }
}

impl BiasedRwLock {
    pub(crate) fn new() -> BiasedRwLock {
        BiasedRwLock {
            bias: AtomicU64::new(bias::UNBIASED),
            owner: AtomicU64::new(0),
            held: AtomicU32::new(0),
            streak: UnsafeCell::new((0, 0)),
            fallback: RwLock::new(()),
        }
    }

    /// Shared access (waits while another thread holds the lock exclusively).
    #[inline(always)]
    pub(crate) fn read(&self) -> ReadGuard<'_> {
        self.read_as(false)
    }

    /// Shared access that does not queue behind a waiting writer (for a thread that may hold a
    /// shared guard already).
    pub(crate) fn read_recursive(&self) -> ReadGuard<'_> {
        self.read_as(true)
    }

    #[inline(always)]
    fn read_as(&self, recursive: bool) -> ReadGuard<'_> {
        if self.enter_as_owner(false) {
            ReadGuard {
                _hold: ReadHold::Owner {
                    held: &self.held,
                    _not_send: NotSend(PhantomData),
                },
            }
        } else {
            self.read_fallback(recursive)
        }
    }

    /// Exclusive access (waits while another thread holds the lock).
    #[inline(always)]
    pub(crate) fn write(&self) -> WriteGuard<'_> {
        if self.enter_as_owner(true) {
            WriteGuard {
                lock: self,
                hold: WriteHold::Owner(NotSend(PhantomData)),
            }
        } else {
            self.write_fallback()
        }
    }

    /// Enters as the owner (exclusively if `exclusive`), if this thread owns the lock; the
    /// caller's guard then exits through `held`.
    #[inline(always)]
    fn enter_as_owner(&self, exclusive: bool) -> bool {
        let Some(token) = token() else {
            return false;
        };
        if self.owner.load(Ordering::Relaxed) != token {
            return false;
        }
        match bias::owner_enter(&self.bias, &self.held, token, exclusive) {
            Ok(()) => true,
            Err(Refused::NotOwner) => false,
            Err(Refused::Reentered) => reentered(),
        }
    }

    #[cold]
    #[inline(never)]
    fn read_fallback(&self, recursive: bool) -> ReadGuard<'_> {
        loop {
            let g = if recursive {
                self.fallback.read_recursive()
            } else {
                self.fallback.read()
            };
            let b = self.bias.load(Ordering::Relaxed);
            if b == bias::UNBIASED || b == bias::REVOKED {
                return ReadGuard {
                    _hold: ReadHold::Fallback { _guard: g },
                };
            }
            // Another thread owns the lock (this one would have entered as the owner: an
            // owner's bias changes only by a revocation). Revoking takes the fallback
            // exclusively, and waits only for the owner's exclusive hold; then read.
            drop(g);
            let w = self.fallback.write();
            let b = self.bias.load(Ordering::Relaxed);
            if b != bias::UNBIASED && b != bias::REVOKED {
                bias::revoke(&self.bias, &self.held, false);
            }
            drop(w);
        }
    }

    /// Called as every exclusive fallback hold ends, with the fallback still held: the hold
    /// completed its thread's streak if the streak is `STREAK` long, since only
    /// `write_fallback`'s unbiased case lengthens it, under this same hold, and becoming the
    /// owner empties it (so that holds after a revocation, which do not count, never find it
    /// full).
    #[inline(always)]
    fn own_if_streak_done(&self) {
        // SAFETY: the fallback is held exclusively (the caller's guard), which `streak` requires.
        let streak = unsafe { &mut *self.streak.get() };
        if streak.1 >= STREAK {
            let t = std::mem::take(streak).0;
            self.become_owner(t);
        }
    }

    /// Makes thread `t` the owner, at the end of the exclusive hold that completed its streak.
    /// The fallback is still held exclusively (the guard's hold drops after this): nobody else
    /// is inside, and every later fallback entry reads these stores after the release.
    #[cold]
    #[inline(never)]
    fn become_owner(&self, t: u64) {
        self.owner.store(t, Ordering::Relaxed);
        self.bias.store(t, Ordering::Relaxed);
    }

    #[cold]
    #[inline(never)]
    fn write_fallback(&self) -> WriteGuard<'_> {
        let g = self.fallback.write();
        match self.bias.load(Ordering::Relaxed) {
            bias::UNBIASED => {
                if let Some(t) = token() {
                    // SAFETY: the fallback is held exclusively.
                    let streak = unsafe { &mut *self.streak.get() };
                    if streak.0 == t {
                        streak.1 += 1;
                    } else {
                        *streak = (t, 1);
                    }
                }
            }
            // The former owner's shared holds are readers this writer waits for.
            bias::REVOKED => bias::wait_for_owner(&self.held, true),
            // Owned by another thread (see `read_fallback`).
            _ => bias::revoke(&self.bias, &self.held, true),
        }
        WriteGuard {
            lock: self,
            hold: WriteHold::Fallback { _guard: g },
        }
    }
}

#[cold]
#[inline(never)]
fn reentered() -> ! {
    panic!(
        "tricolor: a GcVec/GcMap method that moves elements was called while this thread holds \
         a view of the same container, or inside one of its methods (a key's Hash or Eq): it \
         would deadlock"
    );
}

/// This thread's token: 2, 3, ... (never `UNBIASED` or `REVOKED`, never reused), or `None`
/// while the thread's locals are being destroyed.
#[inline(always)]
fn token() -> Option<u64> {
    thread_local! {
        static TOKEN: Cell<u64> = const { Cell::new(0) };
    }
    TOKEN
        .try_with(|t| {
            let v = t.get();
            if v != 0 {
                return v;
            }
            let v = fresh_token();
            t.set(v);
            v
        })
        .ok()
}

#[cold]
fn fresh_token() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(2);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    impl BiasedRwLock {
        fn revoked(&self) -> bool {
            self.bias.load(Ordering::Relaxed) == bias::REVOKED
        }
        fn owned_here(&self) -> bool {
            token().is_some_and(|t| self.bias.load(Ordering::Relaxed) == t)
        }
        fn owned(streak: u32) -> BiasedRwLock {
            let l = BiasedRwLock::new();
            for _ in 0..streak {
                drop(l.write());
            }
            l
        }
    }

    #[test]
    fn a_streak_of_exclusive_holds_makes_the_thread_the_owner_as_the_last_one_ends() {
        let l = BiasedRwLock::owned(STREAK - 1);
        assert!(!l.owned_here());
        let last = l.write();
        assert!(
            !l.owned_here(),
            "not while the hold that completes the streak lasts"
        );
        drop(last);
        assert!(l.owned_here());
        // Shared holds by the owner nest.
        let a = l.read();
        let b = l.read();
        assert_eq!(l.held.load(Ordering::Relaxed), 2);
        drop((a, b));
        assert_eq!(l.held.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_writer_revokes_and_waits_for_the_owners_view() {
        let l = Arc::new(BiasedRwLock::owned(STREAK));
        let view = l.read();
        let entered = Arc::new(AtomicUsize::new(0));
        let other = {
            let (l, entered) = (l.clone(), entered.clone());
            std::thread::spawn(move || {
                let _w = l.write();
                entered.store(1, std::sync::atomic::Ordering::SeqCst);
            })
        };
        // The writer can only get in once the view is gone (it may be waiting already).
        assert_eq!(entered.load(std::sync::atomic::Ordering::SeqCst), 0);
        drop(view);
        other.join().unwrap();
        assert_eq!(entered.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(l.revoked());
        // The former owner now takes the fallback, and never owns the lock again.
        for _ in 0..2 * STREAK {
            drop(l.write());
        }
        assert!(l.revoked() && !l.owned_here());
    }

    /// A view taken and dropped by another thread (which revokes an owned lock).
    fn read_elsewhere(l: &Arc<BiasedRwLock>) {
        let l = l.clone();
        std::thread::spawn(move || drop(l.read())).join().unwrap();
    }

    /// Readers never wait for readers: another thread reads (revoking) while the owner holds a
    /// view, and the owner reads again inside its view after the revocation.
    #[test]
    fn a_reader_revokes_without_waiting_for_the_owners_view() {
        let l = Arc::new(BiasedRwLock::owned(STREAK));
        let view = l.read();
        read_elsewhere(&l);
        assert!(l.revoked());
        let nested = l.read();
        assert_eq!(
            l.held.load(Ordering::Relaxed),
            2,
            "nested in the owner's word"
        );
        read_elsewhere(&l);
        drop((nested, view));
        assert_eq!(l.held.load(Ordering::Relaxed), 0);
        drop(l.write());
    }

    #[test]
    #[should_panic(expected = "holds a view")]
    fn the_owner_asking_for_exclusive_access_under_its_own_view_panics() {
        let l = BiasedRwLock::owned(STREAK);
        let _view = l.read();
        let _w = l.write();
    }

    #[test]
    #[should_panic(expected = "holds a view")]
    fn so_does_a_former_owner() {
        let l = Arc::new(BiasedRwLock::owned(STREAK));
        let _view = l.read();
        read_elsewhere(&l);
        assert!(l.revoked());
        let _w = l.write();
    }

    #[test]
    fn alternating_threads_never_bias_it() {
        let l = Arc::new(BiasedRwLock::new());
        for _ in 0..4 {
            for _ in 0..STREAK - 1 {
                drop(l.write());
            }
            let l2 = l.clone();
            std::thread::spawn(move || drop(l2.write())).join().unwrap();
        }
        assert!(!l.owned_here() && !l.revoked());
    }
}
