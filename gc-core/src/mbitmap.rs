//! `mbitmap`: what the collector keeps about an object outside the object, as Go keeps its heap
//! bitmap and mark bits beside the heap rather than in it. Each 16-byte granule of a chunk has one
//! *side byte* in an array at the front of its chunk; the byte of an object's first granule holds
//! the object's root count (seven bits) and the bit that says its weak references are cleared
//! (`protocol::count`, `protocol::weak::CLEARED`). The bytes of the other granules are unused.
//!
//! # Why outside the object
//! An object's root count changes with every clone and drop of a rooted handle, and the root
//! scan reads it for every object allocated since the last scan. In the object's header it cost
//! four bytes of every object (with the type, a whole word: a two-handle node took 24 bytes,
//! Go's 16) and made the root scan read a cache line per object; here it costs one byte per
//! granule and the scan reads one byte per object, 64 objects' counts to a cache line. The
//! weak-cleared bit sits beside the count so that `Weak::upgrade` decides from the byte whose
//! count it then raises.
//!
//! # Finding the byte
//! Chunks are aligned to their size, so the byte of the object at `addr` is at a fixed offset
//! from the chunk's base, computed with a mask, a subtraction and a shift: no load. The array
//! takes pages `SIDE_PAGE..FIRST_DATA_PAGE` of every chunk, after the span table in page 0;
//! spans start at `FIRST_DATA_PAGE`. A huge object of several chunks starts in its first chunk,
//! whose array holds its byte (the later chunks of its allocation have no array). The array's
//! pages are touched only where objects are, and the scavenger gives them back with the pages
//! they describe (`mheap::scavenge`).
//!
//! # Counts past 127
//! A count that reaches 127 ([`SPILLED`]) keeps the roots past 127 in a table under a lock
//! ([`SPILL`]): a count that high is a hot shared object or a leak of clones, and every root
//! past it costs a lock and a hash lookup. The table's entry goes when the remainder returns
//! to 0.

use crate::locks::Mutex;
use crate::protocol::count::{self, Spilled, COUNT, SPILLED};
use crate::sizeclasses::{CHUNK_SIZE, PAGE_SIZE};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};

/// Bytes of heap per side byte. Slots are at least this long (`sizeclasses`), so each object
/// has a byte of its own: two object starts are 16 bytes apart or more, so they fall in
/// distinct granules whatever their size class (24-byte slots start in granules 0, 1, 3, 4,
/// 6, ...).
pub(crate) const GRANULE: usize = 16;
/// The page of its chunk where the side array starts (page 0 is the chunk's span table).
pub(crate) const SIDE_PAGE: usize = 1;
/// Pages of a chunk that the side array takes.
pub(crate) const SIDE_PAGES: usize = CHUNK_SIZE / GRANULE / PAGE_SIZE;
/// The first page of a chunk that a span may take.
pub(crate) const FIRST_DATA_PAGE: usize = SIDE_PAGE + SIDE_PAGES;

/// The address of the side byte of the heap address `addr`.
#[inline(always)]
pub(crate) const fn side_addr(addr: usize) -> usize {
    let chunk = addr & !(CHUNK_SIZE - 1);
    chunk + SIDE_PAGE * PAGE_SIZE + (addr - chunk) / GRANULE
}

/// The side byte of the object at `addr`.
///
/// # Safety
/// `addr` is the address of an object of the heap (in a chunk: not the outside-the-heap target
/// of `Weak::new`) whose slot stays allocated while the reference is used (the caller picks the
/// lifetime).
#[inline(always)]
pub(crate) unsafe fn side<'a>(addr: usize) -> &'a AtomicU8 {
    // SAFETY: the side array of the object's chunk lies at this address, inside the chunk's
    // allocation (whose address was exposed when the chunk was made), and holds atomics only.
    unsafe { &*std::ptr::with_exposed_provenance::<AtomicU8>(side_addr(addr)) }
}

/// Gives a new object at `addr` its side byte: `roots` roots, weak references cleared if
/// `cleared`. Called on a slot the caller owns, before the object is published.
///
/// # Safety
/// As [`side`].
#[inline(always)]
pub(crate) unsafe fn init(addr: usize, roots: u8, cleared: bool) {
    debug_assert!(roots < SPILLED);
    let cleared = if cleared {
        crate::protocol::weak::CLEARED
    } else {
        0
    };
    // SAFETY: forwarded.
    unsafe { side(addr) }.store(roots | cleared, Ordering::Relaxed);
}

/// More roots than this on one object is a leak of clones; stop before the count can wrap, as
/// `Arc` refuses to.
const MAX_ROOTS: u64 = i32::MAX as u64;

/// The roots past 127 of the objects whose count reads [`SPILLED`], by address. Lock order: a
/// leaf.
static SPILL: Mutex<Option<HashMap<usize, u32>>> = Mutex::new(None);

/// Adds a root to the object at `addr`; returns its count before (0: a first root, which must
/// flag the object's span).
///
/// # Safety
/// As [`side`]; the caller holds a root on the object or a path to it that keeps it allocated.
#[inline(always)]
pub(crate) unsafe fn add_root(addr: usize) -> u64 {
    // SAFETY: forwarded.
    let b = unsafe { side(addr) };
    match count::add(b) {
        Ok(old) => old as u64,
        Err(Spilled) => spill_add(addr, b),
    }
}

#[cold]
#[inline(never)]
fn spill_add(addr: usize, b: &AtomicU8) -> u64 {
    loop {
        {
            let mut guard = SPILL.lock();
            let t = guard.get_or_insert_with(HashMap::new);
            let extra = t.entry(addr).or_insert(0);
            let before = SPILLED as u64 + *extra as u64;
            if before >= MAX_ROOTS {
                std::process::abort();
            }
            if count::spill_add(b, extra) {
                return before;
            }
            if *extra == 0 {
                t.remove(&addr);
            }
        }
        // The count went below `SPILLED` while this thread waited for the lock: the fast path.
        if let Ok(old) = count::add(b) {
            return old as u64;
        }
    }
}

/// Removes a root unless it is the object's last: true if done (the last root goes in an
/// operation: [`release_last`]).
///
/// # Safety
/// As [`add_root`], the root removed being the caller's.
#[inline(always)]
pub(crate) unsafe fn release_if_not_last(addr: usize) -> bool {
    // SAFETY: forwarded. A spilled count keeps 127 roots after this one, so "done".
    unsafe { release(addr, count::release_if_not_last, true) }
}

/// Removes a root inside an operation: true if it was the last (the caller shades while
/// marking).
///
/// # Safety
/// As [`release_if_not_last`].
#[inline(always)]
pub(crate) unsafe fn release_last(addr: usize) -> bool {
    // SAFETY: forwarded. A spilled count keeps 127 roots after this one, so "not the last".
    unsafe { release(addr, count::release_last, false) }
}

/// Removes a root by the byte (`by_byte`, whose answer is returned), or from the spill table
/// while the count reads [`SPILLED`], answering `spilled` then.
///
/// # Safety
/// As [`release_if_not_last`].
#[inline(always)]
unsafe fn release(
    addr: usize,
    by_byte: impl Fn(&AtomicU8) -> Result<bool, Spilled>,
    spilled: bool,
) -> bool {
    // SAFETY: forwarded.
    let b = unsafe { side(addr) };
    loop {
        match by_byte(b) {
            Ok(answer) => return answer,
            Err(Spilled) => {
                if spill_remove(addr, b) {
                    return spilled;
                }
            }
        }
    }
}

/// Removes a root from a count that read [`SPILLED`]: from the table's remainder first, else
/// the count goes to 126; true if done. False if the count no longer reads `SPILLED` once the
/// lock is held: the other roots' releases may have taken it down meanwhile, to the caller's
/// own root even (review finding, 2026-12-07: this was thrown as a collector bug), so the
/// caller releases it by the byte again, last root and barrier included.
#[cold]
#[inline(never)]
fn spill_remove(addr: usize, b: &AtomicU8) -> bool {
    let mut guard = SPILL.lock();
    let t = guard.get_or_insert_with(HashMap::new);
    let mut none = 0;
    let extra = t.get_mut(&addr).unwrap_or(&mut none);
    if !count::spill_remove(b, extra) {
        return false;
    }
    if t.get(&addr) == Some(&0) {
        t.remove(&addr);
    }
    true
}

/// The object's root count, spilled remainder included (`Gc::root_count`).
///
/// # Safety
/// As [`side`].
pub(crate) unsafe fn root_count(addr: usize) -> u64 {
    // SAFETY: forwarded.
    let b = unsafe { side(addr) };
    let n = b.load(Ordering::SeqCst) & COUNT;
    if n != SPILLED {
        return n as u64;
    }
    let t = SPILL.lock();
    SPILLED as u64 + t.as_ref().and_then(|t| t.get(&addr)).copied().unwrap_or(0) as u64
}

/// Whether the object has roots: its count's bits read Acquire (`protocol::count::has_roots`).
///
/// # Safety
/// As [`side`].
#[inline(always)]
pub(crate) unsafe fn has_roots(addr: usize) -> bool {
    // SAFETY: forwarded.
    count::has_roots(unsafe { side(addr) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A release that found the count spilled and then, holding the lock, finds it below
    /// `SPILLED` (the other roots went meanwhile, down to the caller's own): the spill path
    /// says so, and the byte's own path then releases the last root.
    #[test]
    fn a_spilled_release_that_finds_the_last_root_gives_it_back() {
        let b = AtomicU8::new(1);
        let addr = &b as *const AtomicU8 as usize;
        assert!(!spill_remove(addr, &b));
        assert_eq!(count::release_if_not_last(&b), Ok(false));
        assert_eq!(count::release_last(&b), Ok(true));
        assert_eq!(b.load(Ordering::SeqCst), 0);
        let b = AtomicU8::new(SPILLED);
        assert!(spill_remove(addr, &b));
        assert_eq!(b.load(Ordering::SeqCst), SPILLED - 1);
    }

    #[test]
    fn the_side_array_fits_before_the_first_data_page() {
        let base = 64 * CHUNK_SIZE;
        assert_eq!(side_addr(base), base + PAGE_SIZE);
        let first = base + FIRST_DATA_PAGE * PAGE_SIZE;
        assert!(side_addr(first) >= base + PAGE_SIZE);
        let last = base + CHUNK_SIZE - GRANULE;
        assert_eq!(side_addr(last), base + FIRST_DATA_PAGE * PAGE_SIZE - 1);
        assert_eq!(side_addr(base + 16) - side_addr(base + 8), 1);
    }
}
