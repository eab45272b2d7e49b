//! `mheap`: the page heap. Memory comes from the system allocator in chunks of 4 MiB aligned to
//! their size (Go's arenas, smaller). The first page of each chunk holds its page → span table,
//! so finding the span of any object is a mask, one load and no lock: that is what markers do for
//! every pointer they shade. The next pages hold the chunk's side bytes (module `mbitmap`: each
//! object's root count and weak-cleared bit), and spans take the pages from
//! `mbitmap::FIRST_DATA_PAGE` on. A large object gets a chunk-aligned run of its own when it
//! does not fit in a chunk.
//!
//! Free pages are tracked per chunk with a bitvec bitmap under the heap lock. A chunk whose pages
//! all become free again is returned to the system once empty chunks are more than half the heap;
//! below that, the scavenger ([`scavenge`], Go's `mgcscavenge.go`) gives the memory of free pages
//! back with `madvise(MADV_DONTNEED)` after each cycle, keeping the address range, until the heap
//! holds no more than its goal and 10%, or than the most pages in use during the last two cycles
//! if more (`mgc::gc_sweep` says why).

use crate::header::{uncommon_root, Header};
use crate::locks::Mutex;
use crate::mbitmap::{side_addr, FIRST_DATA_PAGE, GRANULE, SIDE_PAGE};
use crate::mspan::{MSpan, SpanClass};
use crate::sizeclasses::PAGE_SIZE;
use bitvec::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::OnceLock;

pub(crate) use crate::sizeclasses::CHUNK_SIZE;
pub(crate) const PAGES_PER_CHUNK: usize = CHUNK_SIZE / PAGE_SIZE;

/// Stored in page 0 of every chunk.
#[repr(C)]
struct ChunkMeta {
    spans: [AtomicPtr<MSpan>; PAGES_PER_CHUNK],
}
const _: () = assert!(std::mem::size_of::<ChunkMeta>() <= PAGE_SIZE);

struct Chunk {
    base: usize,
    /// Bytes of the allocation (a multiple of CHUNK_SIZE; more than one chunk for huge objects).
    bytes: usize,
    /// One bit per page of the first chunk: set = in use. The metadata pages (the span table
    /// and the side bytes, below `FIRST_DATA_PAGE`) are always set.
    used: BitArr!(for PAGES_PER_CHUNK, in u64),
    used_pages: usize,
    /// One bit per page: free, and its memory given back to the system by the scavenger (it
    /// reads as zeros when touched again). Never set for a used page.
    released: BitArr!(for PAGES_PER_CHUNK, in u64),
    released_pages: usize,
}

pub(crate) struct MHeap {
    chunks: Vec<Chunk>,
    /// Go's `allspans`: every span in use, for the root scan and the sweeper.
    all: Vec<*mut MSpan>,
    /// Span structs whose pages were freed, kept for reuse: the marker may still hold a pointer
    /// to a span struct from a stale read of a chunk table, so span structs are never freed.
    #[allow(clippy::vec_box)] // the boxes give span structs addresses that never move
    spare: Vec<Box<MSpan>>,
    /// Freed since the last handshake, and not yet reusable (see [`MHeap::reclaim`]).
    #[allow(clippy::vec_box)]
    retired_spans: Vec<Box<MSpan>>,
    /// Chunks emptied since the last handshake, not yet returned to the system.
    retired_chunks: Vec<Chunk>,
}

// SAFETY: the raw span pointers are owned by the heap and only dereferenced under the protocols
// of `mspan`; the heap itself is only reached through its mutex.
unsafe impl Send for MHeap {}

/// The page heap. Lock order (lib.rs): never held together with an mcentral set; nothing but
/// atomics is touched while it is held.
pub(crate) static HEAP: Mutex<MHeap> = Mutex::new(MHeap {
    chunks: Vec::new(),
    all: Vec::new(),
    spare: Vec::new(),
    retired_spans: Vec::new(),
    retired_chunks: Vec::new(),
});

/// The heap's sweep generation (Go's `mheap_.sweepgen`): +2 at each mark termination; a span
/// whose own `sweepgen` is two behind needs sweeping (module `sweep`).
pub(crate) static SWEEPGEN: AtomicU32 = AtomicU32::new(2);

/// Bytes of memory obtained from the system and not yet returned.
pub(crate) static HEAP_SYS: AtomicUsize = AtomicUsize::new(0);

/// The hard limit on `HEAP_SYS` (`GCHARDLIMIT`, `set_hard_memory_limit`); `usize::MAX` until set,
/// `usize::MAX - 1` for none.
static HARD_LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

fn hard_limit() -> usize {
    let l = HARD_LIMIT.load(Ordering::Relaxed);
    if l != usize::MAX {
        return l;
    }
    let init = crate::config::get()
        .hard_limit
        .map_or(usize::MAX - 1, |b| b.min(usize::MAX as u64 - 1) as usize);
    let _ = HARD_LIMIT.compare_exchange(usize::MAX, init, Ordering::Relaxed, Ordering::Relaxed);
    HARD_LIMIT.load(Ordering::Relaxed)
}

/// Sets a hard limit on the memory the heap obtains from the system, returning the previous one
/// (`u64::MAX - 1`: none). Past it the heap does not grow: `Gc::try_new` returns
/// [`AllocError`] and `Gc::new` panics, instead of the process being killed for memory. The
/// allocation does not run a cycle itself (it could not wait for one from inside the
/// allocation); call [`collect`](crate::collect) and retry. The soft limit,
/// [`set_memory_limit`](crate::set_memory_limit) / `GCMEMLIMIT`, only makes cycles more frequent,
/// as Go's does.
///
/// # Example
/// ```
/// let old = tricolor_gc::set_hard_memory_limit(8 << 30);
/// tricolor_gc::set_hard_memory_limit(old);
/// ```
pub fn set_hard_memory_limit(bytes: u64) -> u64 {
    let old = hard_limit() as u64;
    HARD_LIMIT.store(bytes.min(usize::MAX as u64 - 1) as usize, Ordering::Relaxed);
    old
}

/// An allocation the heap could not serve: `Gc::try_new` and the other `try_` constructors
/// return it, and [`AllocError::cause`] says which of the three reasons it was.
///
/// # Example
/// ```
/// use tricolor_gc::{AllocFailure, Gc};
/// let old = tricolor_gc::set_hard_memory_limit(0); // no room for another chunk
/// let big = Gc::try_new([0u8; 1 << 20]); // a large object needs fresh pages
/// tricolor_gc::set_hard_memory_limit(old);
/// let err = big.unwrap_err();
/// assert!(matches!(err.cause(), AllocFailure::HardLimit { .. }));
/// println!("{err}"); // says which limit, and what to do
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocError {
    cause: AllocFailure,
}

/// Why an allocation failed ([`AllocError::cause`]).
///
/// # Example
/// ```
/// use tricolor_gc::AllocFailure;
/// let c = AllocFailure::Unsupported { size: 8, align: 1 << 14 };
/// assert!(matches!(c, AllocFailure::Unsupported { .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocFailure {
    /// Growing the heap by `requested` bytes would pass the hard limit (`GCHARDLIMIT`,
    /// [`set_hard_memory_limit`]) of `limit` bytes, with `heap_sys` bytes obtained already.
    HardLimit {
        /// The limit in force.
        limit: usize,
        /// Bytes the heap had from the system.
        heap_sys: usize,
        /// Bytes the heap asked for (a chunk, or a large object's pages).
        requested: usize,
    },
    /// The system allocator refused `requested` bytes.
    System {
        /// Bytes asked of the system allocator.
        requested: usize,
    },
    /// No slot can hold a value of this size and alignment (an alignment above a page, 8 KiB,
    /// or a size that overflows with the header).
    Unsupported {
        /// The object's size in bytes (the value after its header, as laid out in a slot).
        size: usize,
        /// The value's alignment.
        align: usize,
    },
}

impl AllocError {
    pub(crate) fn new(cause: AllocFailure) -> AllocError {
        AllocError { cause }
    }

    /// Which of the three reasons made the allocation fail.
    ///
    /// # Example
    /// ```
    /// #[repr(align(16384))]
    /// struct Huge(u8);
    /// impl tricolor_gc::Finalize for Huge {}
    /// // SAFETY: holds no Gc.
    /// unsafe impl tricolor_gc::Trace for Huge { tricolor_gc::unsafe_empty_trace!(); }
    ///
    /// let err = tricolor_gc::Gc::try_new(Huge(0)).err().unwrap();
    /// assert!(matches!(err.cause(), tricolor_gc::AllocFailure::Unsupported { align: 16384, .. }));
    /// ```
    pub fn cause(&self) -> AllocFailure {
        self.cause
    }
}

impl std::fmt::Display for AllocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cause {
            AllocFailure::HardLimit {
                limit,
                heap_sys,
                requested,
            } => write!(
                f,
                "tricolor: out of memory: the hard memory limit (GCHARDLIMIT or \
                 set_hard_memory_limit) is {limit} bytes, the heap has {heap_sys} and needed \
                 {requested} more; drop data and call collect() before retrying, or raise the limit"
            ),
            AllocFailure::System { requested } => write!(
                f,
                "tricolor: out of memory: the system allocator refused {requested} bytes"
            ),
            AllocFailure::Unsupported { size, align } => write!(
                f,
                "tricolor: cannot allocate a value of {size} bytes aligned to {align}: the heap \
                 serves alignments up to a page (8 KiB) and sizes that fit in memory"
            ),
        }
    }
}
impl std::error::Error for AllocError {}

/// The span of the object that starts at `addr`.
///
/// The reference may outlive the object as memory (span structs are never deallocated, and are
/// reused for another span only after a handshake: `MHeap::reclaim`), which is why its lifetime
/// is `'static`; but once the object is freed the struct may describe another span, so it means
/// something only while the object lives.
///
/// # Safety
/// `addr` must be the address of an object allocated by this heap and not yet freed.
#[inline(always)]
pub(crate) unsafe fn span_of(addr: usize) -> &'static MSpan {
    let chunk = addr & !(CHUNK_SIZE - 1);
    let page = (addr - chunk) / PAGE_SIZE;
    // SAFETY: every object lives in a chunk whose page 0 is its ChunkMeta, and the entry for an
    // allocated object's page points at its span for as long as the object exists.
    unsafe {
        let meta = &*(chunk as *const ChunkMeta);
        &*meta.spans[page].load(Ordering::Acquire)
    }
}

/// Adds a root to the object of header `h`, flagging its span for the root scan when it is the
/// first (`protocol::roots`); aborts past `i32::MAX` roots (`mbitmap`).
///
/// # Safety
/// `h` is the header of an allocated object of the heap (not the outside-the-heap target of
/// `Weak::new`, whose count never leaves 1), which stays allocated during the call: the caller
/// holds a root on it or a reference into a live object that holds it.
#[inline(always)]
pub(crate) unsafe fn add_root(h: &Header) {
    // SAFETY: forwarded.
    let old = unsafe { h.inc_roots_raw() };
    if uncommon_root(old) {
        // SAFETY: forwarded.
        unsafe { first_root(h) }
    }
}

/// A first root flags the span.
#[cold]
#[inline(never)]
unsafe fn first_root(h: &Header) {
    // SAFETY: an allocated heap object (caller).
    unsafe { span_of(h as *const Header as usize) }.note_rooted();
}

impl Chunk {
    /// Marks `n` free pages from `page` used; those the scavenger had released are the system's
    /// zero pages again once touched.
    fn take_pages(&mut self, page: usize, n: usize) {
        self.used[page..page + n].fill(true);
        self.used_pages += n;
        let released = self.released[page..page + n].count_ones();
        if released > 0 {
            self.released[page..page + n].fill(false);
            self.released_pages -= released;
            HEAP_RELEASED.fetch_sub(released * PAGE_SIZE, Ordering::Relaxed);
        }
    }
}

/// Bytes of `HEAP_SYS` whose memory the scavenger gave back (Go's `HeapReleased`).
pub(crate) static HEAP_RELEASED: AtomicUsize = AtomicUsize::new(0);

/// Bytes of `HEAP_SYS` in chunks' metadata pages (span tables and side bytes): memory the
/// scavenger's budget, which is about pages for spans, does not count (the side bytes' pages
/// go back with the spans' pages they describe).
static HEAP_META: AtomicUsize = AtomicUsize::new(0);

/// Bytes of pages in spans (Go's `HeapInUse`; chunk metadata pages are not counted).
pub(crate) static HEAP_INUSE: AtomicUsize = AtomicUsize::new(0);

/// The most `HEAP_INUSE` has been since the scavenger last looked (`take_inuse_peak`).
static INUSE_PEAK: AtomicUsize = AtomicUsize::new(0);

/// The highest `HEAP_INUSE` since the last call, which restarts the watch from the present.
pub(crate) fn take_inuse_peak() -> usize {
    INUSE_PEAK.swap(HEAP_INUSE.load(Ordering::Relaxed), Ordering::Relaxed)
}

/// Go's scavenger, run by the collector after each cycle's sweep: gives the memory of free pages
/// back to the system until the heap holds at most `retain` bytes, and returns how many bytes it
/// released. Each run of pages is taken out of the page allocator (marked used)
/// under the heap lock and released outside it, so allocating threads wait for neither the
/// system call nor one another, and never get a page while its memory is being dropped.
pub(crate) fn scavenge(retain: usize) -> usize {
    if !sys::CAN_RELEASE {
        return 0;
    }
    let unit = release_unit();
    if unit == 0 {
        return 0;
    }
    let mut released = 0;
    loop {
        let held = HEAP_SYS
            .load(Ordering::Relaxed)
            .saturating_sub(HEAP_RELEASED.load(Ordering::Relaxed))
            .saturating_sub(HEAP_META.load(Ordering::Relaxed));
        let excess_pages = held.saturating_sub(retain) / PAGE_SIZE;
        if excess_pages == 0 {
            return released;
        }
        let Some((base, page, n)) = HEAP.lock().reserve_free_run(excess_pages, unit) else {
            return released;
        };
        // SAFETY: the pages are free and marked used, so no span owns them and none can be
        // allocated over them until `return_released` below; they are whole system pages
        // (`release_unit`), so the release drops nothing beside them.
        unsafe { sys::release(base + page * PAGE_SIZE, n * PAGE_SIZE) };
        if let Some((at, len)) = side_run(base, page, n) {
            // SAFETY: as above: the side bytes of reserved pages describe no object, and no
            // other page's bytes share a whole unit with them (`side_run`).
            unsafe { sys::release(at, len) };
        }
        HEAP.lock().return_released(base, page, n);
        released += n * PAGE_SIZE;
    }
}

/// The whole system pages of side bytes (module `mbitmap`) that describe only the pages
/// `page..page + n` of the chunk at `base`: (address, length), or `None` if there is none.
/// A unit of side bytes describes `GRANULE` times its length of heap, so only long runs give
/// any back; the rest stay, at most an eighth of the heap pages around them.
fn side_run(base: usize, page: usize, n: usize) -> Option<(usize, usize)> {
    let unit = sys::page_size().max(PAGE_SIZE);
    let side = |p: usize| base + SIDE_PAGE * PAGE_SIZE + p * PAGE_SIZE / GRANULE;
    let (from, to) = (side(page), side(page + n));
    let (from, to) = (from.next_multiple_of(unit), to / unit * unit);
    (to > from).then(|| (from, to - from))
}

/// Heap pages per system page, the scavenger's unit of release: `madvise` rounds a length up
/// to whole system pages, so a run of heap pages that did not cover whole system pages would
/// drop the contents of the heap pages that share its last system page (live spans, on a
/// system with 16 or 64 KiB pages). Go releases whole physical pages for the same reason
/// (`physPageSize`). 0 (release nothing) for a system page larger than a chunk.
fn release_unit() -> usize {
    static UNIT: OnceLock<usize> = OnceLock::new();
    *UNIT.get_or_init(|| unit_for(sys::page_size()))
}

/// [`release_unit`] for a system page of `sys_page` bytes.
fn unit_for(sys_page: usize) -> usize {
    if !sys_page.is_power_of_two() || sys_page > CHUNK_SIZE {
        0
    } else {
        sys_page.div_ceil(PAGE_SIZE)
    }
}

impl MHeap {
    /// The last run of free, unreleased pages in a one-chunk chunk, at most `max` long and made
    /// of whole aligned groups of `unit` pages (system pages, [`release_unit`]), marked used for
    /// the scavenger: (chunk base, first page, pages). From the end: the page allocator takes
    /// the first fit from the front (`find_pages`), so the pages released are those it will
    /// reach last, as Go's scavenger releases from the highest addresses. Chunks are aligned to
    /// their size, so a group aligned within its chunk is a whole system page.
    fn reserve_free_run(&mut self, max: usize, unit: usize) -> Option<(usize, usize, usize)> {
        let max_groups = max / unit;
        if max_groups == 0 {
            return None;
        }
        for c in self
            .chunks
            .iter_mut()
            .rev()
            .filter(|c| c.bytes == CHUNK_SIZE)
        {
            if PAGES_PER_CHUNK - c.used_pages == c.released_pages {
                continue;
            }
            let mut end = None;
            let mut n = 0;
            // The first groups hold the chunk's metadata pages, which are always used.
            for g in (0..PAGES_PER_CHUNK / unit).rev() {
                let free = (g * unit..(g + 1) * unit).all(|p| !c.used[p] && !c.released[p]);
                match (free, end) {
                    (true, None) => {
                        end = Some(g);
                        n = 1;
                    }
                    (true, Some(_)) => n += 1,
                    (false, Some(_)) => break,
                    (false, None) => {}
                }
                if n == max_groups {
                    break;
                }
            }
            if let Some(last) = end {
                let (page, pages) = ((last + 1 - n) * unit, n * unit);
                c.used[page..page + pages].fill(true);
                c.used_pages += pages;
                return Some((c.base, page, pages));
            }
        }
        None
    }

    /// Files a run that [`reserve_free_run`](Self::reserve_free_run) reserved as free and
    /// released.
    fn return_released(&mut self, base: usize, page: usize, n: usize) {
        let c = self
            .chunks
            .iter_mut()
            .find(|c| c.base == base)
            .expect("a chunk with reserved pages stays");
        c.used[page..page + n].fill(false);
        c.used_pages -= n;
        c.released[page..page + n].fill(true);
        c.released_pages += n;
        HEAP_RELEASED.fetch_add(n * PAGE_SIZE, Ordering::Relaxed);
    }

    fn new_chunk(&mut self, bytes: usize) -> Result<usize, AllocError> {
        let heap_sys = HEAP_SYS.load(Ordering::Relaxed);
        let limit = hard_limit();
        if heap_sys.saturating_add(bytes) > limit {
            return Err(AllocError::new(AllocFailure::HardLimit {
                limit,
                heap_sys,
                requested: bytes,
            }));
        }
        let layout = Layout::from_size_align(bytes, CHUNK_SIZE).map_err(|_| {
            AllocError::new(AllocFailure::Unsupported {
                size: bytes,
                align: CHUNK_SIZE,
            })
        })?;
        // Not `alloc_zeroed`: for this alignment the system allocator would memset the whole
        // chunk, faulting in 4 MiB at once (a multi-millisecond stall of the allocating thread).
        // Only the page-0 span table must start zeroed; a slot is always written before it is
        // published, the sweeper reads published slots only, and the side bytes that the root
        // scan reads for unallocated slots are zeroed with their span (`alloc_span`).
        // From the system allocator, not the global one: if the program installed
        // `GcAllocator`, the heap itself must not count as memory outside the heap.
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            return Err(AllocError::new(AllocFailure::System { requested: bytes }));
        }
        // SAFETY: page 0 of the new chunk is ours and at least `size_of::<ChunkMeta>()` long.
        unsafe { std::ptr::write_bytes(p, 0, std::mem::size_of::<ChunkMeta>()) };
        let mut used: BitArr!(for PAGES_PER_CHUNK, in u64) = BitArray::ZERO;
        used[..FIRST_DATA_PAGE].fill(true);
        self.chunks.push(Chunk {
            base: p as usize,
            bytes,
            used,
            used_pages: FIRST_DATA_PAGE,
            released: BitArray::ZERO,
            released_pages: 0,
        });
        HEAP_SYS.fetch_add(bytes, Ordering::Relaxed);
        HEAP_META.fetch_add(FIRST_DATA_PAGE * PAGE_SIZE, Ordering::Relaxed);
        Ok(self.chunks.len() - 1)
    }

    fn find_pages(&mut self, npages: usize) -> Result<(usize, usize), AllocError> {
        if npages <= PAGES_PER_CHUNK - FIRST_DATA_PAGE {
            for (ci, c) in self.chunks.iter().enumerate() {
                if c.bytes != CHUNK_SIZE || PAGES_PER_CHUNK - c.used_pages < npages {
                    continue;
                }
                for start in c.used.iter_zeros() {
                    if start + npages > PAGES_PER_CHUNK {
                        break;
                    }
                    if c.used[start..start + npages].not_any() {
                        return Ok((ci, start));
                    }
                }
            }
            let ci = self.new_chunk(CHUNK_SIZE)?;
            return Ok((ci, FIRST_DATA_PAGE));
        }
        let bytes = (npages + FIRST_DATA_PAGE) * PAGE_SIZE;
        let ci = self.new_chunk(bytes.next_multiple_of(CHUNK_SIZE))?;
        Ok((ci, FIRST_DATA_PAGE))
    }

    /// A new span of `npages` for `class`, registered in the chunk table and in `all`.
    pub fn alloc_span(
        &mut self,
        npages: usize,
        class: SpanClass,
        sweepgen: u32,
        value_off: usize,
    ) -> Result<*mut MSpan, AllocError> {
        let (ci, page) = self.find_pages(npages)?;
        let c = &mut self.chunks[ci];
        let marked = npages.min(PAGES_PER_CHUNK - page);
        c.take_pages(page, marked);
        let inuse =
            HEAP_INUSE.fetch_add(npages * PAGE_SIZE, Ordering::Relaxed) + npages * PAGE_SIZE;
        INUSE_PEAK.fetch_max(inuse, Ordering::Relaxed);
        let base = c.base + page * PAGE_SIZE;
        let span = MSpan::new(base, npages, class, sweepgen, value_off);
        // The side bytes of the span's objects start at 0: a fresh chunk's memory is
        // uninitialized, and the root scan reads the side byte of every slot of a span whose
        // slots are evenly spaced granules, allocated or not (`markroot`). A span of one
        // object (a large object's, or a class of one slot per span) needs its one byte: a
        // large span's share of the array would be up to 240 KiB to fault in.
        let (from, len) = if span.nelems == 1 {
            (side_addr(base + value_off), 1)
        } else {
            (side_addr(base), marked * PAGE_SIZE / GRANULE)
        };
        // SAFETY: side bytes of pages `page..page + marked` of chunk `c` (an object's value
        // lies in its slot: `header::headered_size`), inside its side array, whose address
        // was exposed with the chunk's. The pages were free, so no object's byte is among
        // them, and nothing reads them until the span is published (below, under the heap
        // lock that this thread holds).
        unsafe { std::ptr::write_bytes(std::ptr::with_exposed_provenance_mut::<u8>(from), 0, len) };
        let ptr: *mut MSpan = match self.spare.pop() {
            Some(mut b) => {
                *b = span;
                Box::into_raw(b)
            }
            None => Box::into_raw(Box::new(span)),
        };
        // SAFETY: page 0 of the chunk is its ChunkMeta (zeroed at creation).
        let meta = unsafe { &*(c.base as *const ChunkMeta) };
        for p in page..page + marked {
            meta.spans[p].store(ptr, Ordering::Release);
        }
        // SAFETY: the span was just created and is not shared yet.
        unsafe { *(*ptr).all_index.get() = self.all.len() };
        self.all.push(ptr);
        Ok(ptr)
    }

    /// Returns a span's pages. The span must be empty (every object swept) and owned by the caller.
    ///
    /// # Safety
    /// No object of the span is reachable and no other party holds the span.
    pub unsafe fn free_span(&mut self, span: *mut MSpan) {
        // SAFETY: the caller owns the span.
        let s = unsafe { &*span };
        // SAFETY: `all_index` is only touched under the heap lock, which we hold.
        let idx = unsafe { *s.all_index.get() };
        self.all.swap_remove(idx);
        if let Some(&moved) = self.all.get(idx) {
            // SAFETY: `all_index` is only touched under the heap lock, which we hold.
            unsafe { *(*moved).all_index.get() = idx };
        }
        let chunk_base = s.base & !(CHUNK_SIZE - 1);
        let ci = self
            .chunks
            .iter()
            .position(|c| c.base == chunk_base)
            .expect("span outside every chunk");
        let c = &mut self.chunks[ci];
        let page = (s.base - c.base) / PAGE_SIZE;
        let marked = s.npages.min(PAGES_PER_CHUNK - page);
        c.used[page..page + marked].fill(false);
        c.used_pages -= marked;
        HEAP_INUSE.fetch_sub(s.npages * PAGE_SIZE, Ordering::Relaxed);
        debug_assert!(c.released[page..page + marked].not_any());
        // Nothing may look an address of these pages up any more: null says so loudly.
        // SAFETY: page 0 is the ChunkMeta.
        let meta = unsafe { &*(c.base as *const ChunkMeta) };
        for p in page..page + marked {
            meta.spans[p].store(std::ptr::null_mut(), Ordering::Release);
        }
        // Keep empty chunks for reuse while they are a small share of the heap: handing them
        // back and faulting fresh pages in again costs more than the memory.
        let now_empty = c.used_pages == FIRST_DATA_PAGE;
        let small = c.bytes == CHUNK_SIZE;
        let sys = HEAP_SYS.load(Ordering::Relaxed);
        let empty = self
            .chunks
            .iter()
            .filter(|c| c.used_pages == FIRST_DATA_PAGE && c.bytes == CHUNK_SIZE)
            .count();
        let keep = small && empty * CHUNK_SIZE <= (sys / 2).max(64 << 20);
        if now_empty && !keep {
            // Out of the page allocator now; back to the system at the next handshake.
            self.retired_chunks.push(self.chunks.swap_remove(ci));
        }
        // SAFETY: the caller owns the span and it has no objects: nothing reads its tables.
        unsafe { s.specials.release() };
        // SAFETY: the span struct came from Box::into_raw in `alloc_span`.
        self.retired_spans.push(unsafe { Box::from_raw(span) });
    }

    /// Called by the collector right after a handshake (the end of the sweep, and the start of
    /// marking): the span structs and chunks freed before it become reusable and are returned
    /// to the system, so that a `&'static MSpan` read inside an operation (`span_of`) stays a
    /// span struct until the operation ends. This is epoch-based reclamation with operations as
    /// the pinned sections. Its first client, `Weak::upgrade` reading the span of an object the
    /// sweeper may have freed, is gone: a `Weak` now keeps its object's memory (module
    /// `weakhandle`), so no reclamation scheme at all is needed on that path.
    pub fn reclaim(&mut self) {
        self.spare.append(&mut self.retired_spans);
        for c in self.retired_chunks.drain(..) {
            HEAP_SYS.fetch_sub(c.bytes, Ordering::Relaxed);
            HEAP_META.fetch_sub(FIRST_DATA_PAGE * PAGE_SIZE, Ordering::Relaxed);
            HEAP_RELEASED.fetch_sub(c.released_pages * PAGE_SIZE, Ordering::Relaxed);
            // SAFETY: the chunk came from `System.alloc` with this layout, no span uses it, and
            // no operation that could still look at its table is running (see above).
            unsafe {
                System.dealloc(
                    c.base as *mut u8,
                    Layout::from_size_align_unchecked(c.bytes, CHUNK_SIZE),
                )
            };
        }
    }

    /// A copy of the list of spans in use (for the root scan and checkmark).
    pub fn all_spans(&self) -> Vec<SpanRef> {
        self.all.iter().map(|&p| SpanRef(p)).collect()
    }
}

/// A span pointer that may cross threads: a copy of an entry of the heap's span list, for the
/// root scan, the resurrection pass and the checkmark pass. Valid as memory forever (span structs
/// are never deallocated); its span is in use, and the struct not reused, as long as marking is
/// on (spans are freed only by sweeping, which does not overlap marking).
#[derive(Clone, Copy)]
pub(crate) struct SpanRef(pub *mut MSpan);
// SAFETY: span structs live forever (see `MHeap::spare`) and their shared fields are atomics.
unsafe impl Send for SpanRef {}
// SAFETY: as above.
unsafe impl Sync for SpanRef {}

impl SpanRef {
    /// The span. Safe: the struct is never deallocated; anything but its atomics and immutable
    /// fields is still owned as `mspan`'s protocol says.
    #[inline(always)]
    pub fn get(&self) -> &'static MSpan {
        // SAFETY: span structs are never deallocated (`MHeap::spare`).
        unsafe { &*self.0 }
    }
}

#[cfg(all(target_os = "linux", not(miri)))]
mod sys {
    pub(super) const CAN_RELEASE: bool = true;

    /// Gives the memory of `len` bytes at `addr` back to the system; the range stays mapped and
    /// reads as zeros when next touched.
    ///
    /// # Safety
    /// The range is whole system pages (`release_unit`), inside one of the heap's chunks, and
    /// holds nothing anyone will read before writing it.
    pub(super) unsafe fn release(addr: usize, len: usize) {
        // SAFETY: forwarded from the caller; MADV_DONTNEED on private anonymous memory only
        // drops its contents. A failure leaves the memory resident, which is harmless.
        unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    }

    /// The system's page size.
    pub(super) fn page_size() -> usize {
        // SAFETY: `sysconf` reads a constant of the system; -1 (unknown) becomes a size that
        // `unit_for` refuses.
        unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
    }
}

#[cfg(not(all(target_os = "linux", not(miri))))]
mod sys {
    pub(super) const CAN_RELEASE: bool = false;
    /// Not reached: `scavenge` returns first where nothing can be released.
    ///
    /// # Safety
    /// None needed; it does nothing.
    pub(super) unsafe fn release(_addr: usize, _len: usize) {}
    /// Not reached either.
    pub(super) fn page_size() -> usize {
        super::PAGE_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap_of_one_chunk(used: &[usize]) -> MHeap {
        let mut c = Chunk {
            base: CHUNK_SIZE,
            bytes: CHUNK_SIZE,
            used: BitArray::ZERO,
            used_pages: 0,
            released: BitArray::ZERO,
            released_pages: 0,
        };
        for &p in used.iter().chain(&[0]) {
            c.used.set(p, true);
            c.used_pages += 1;
        }
        MHeap {
            chunks: vec![c],
            all: Vec::new(),
            spare: Vec::new(),
            retired_spans: Vec::new(),
            retired_chunks: Vec::new(),
        }
    }

    /// The scavenger releases whole system pages only: with 16 KiB system pages (two heap
    /// pages each), a free heap page whose system page it shares with a used one is never
    /// released, since `madvise` would round the length up over the used page (review finding,
    /// 2026-12-07).
    #[test]
    fn the_scavenger_releases_whole_system_pages() {
        assert_eq!(unit_for(4096), 1);
        assert_eq!(unit_for(8192), 1);
        assert_eq!(unit_for(16384), 2);
        assert_eq!(unit_for(65536), 8);
        assert_eq!(unit_for(usize::MAX), 0);
        assert_eq!(unit_for(2 * CHUNK_SIZE), 0);

        // Page 6 free, every other page used: a run of one heap page with 8 KiB system pages,
        // nothing with 16 KiB ones (page 6 shares its system page with page 7).
        let all_but_6: Vec<usize> = (1..PAGES_PER_CHUNK).filter(|&p| p != 6).collect();
        assert_eq!(
            heap_of_one_chunk(&all_but_6).reserve_free_run(64, 1),
            Some((CHUNK_SIZE, 6, 1))
        );
        assert_eq!(heap_of_one_chunk(&all_but_6).reserve_free_run(64, 2), None);

        // Pages 5 to 12 free: with 16 KiB pages the aligned pairs 6-7, 8-9, 10-11, taken from
        // the end; with 64 KiB pages (8 heap pages) the one aligned group 8-15 is not all free.
        let free = 5..=12;
        let used: Vec<usize> = (1..PAGES_PER_CHUNK).filter(|p| !free.contains(p)).collect();
        let mut h = heap_of_one_chunk(&used);
        assert_eq!(h.reserve_free_run(64, 2), Some((CHUNK_SIZE, 6, 6)));
        assert!(h.chunks[0].used[6..12].all(), "the run is reserved");
        assert_eq!(heap_of_one_chunk(&used).reserve_free_run(64, 8), None);
        // At most `max` pages, in whole groups, from the end of the run.
        assert_eq!(
            heap_of_one_chunk(&used).reserve_free_run(3, 2),
            Some((CHUNK_SIZE, 10, 2))
        );
        assert_eq!(heap_of_one_chunk(&used).reserve_free_run(1, 2), None);
    }
}
