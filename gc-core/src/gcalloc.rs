//! `GcAllocator`: a global allocator that lets the pacer see memory allocated outside the
//! collector's heap.
//!
//! A `Gc<Vec<u8>>` is 24 bytes in the collector's heap and its buffer lives in `malloc`'s. Go
//! counts the buffer (a `[]byte` is a heap object), so its pacer starts a cycle when buffers pile
//! up; without help, tricolor's sees only the 24 bytes, and a program whose garbage is mostly
//! buffers grows without bound between cycles. Installed as the global allocator, `GcAllocator`
//! counts every allocation and free of the process, and the count joins the heap the pacer
//! measures (`mstats::heap_live`): buffers trigger cycles, and a cycle's goal covers the buffers
//! that survive it, as in Go. Nothing outside the heap is marked, so what survives is estimated:
//! the outside bytes at mark termination, less what the sweep's drop glue freed (the buffers of
//! the objects found dead), counted by the thread that ran it.
//!
//! The counting is a thread-local sum, reported to the shared counter in steps of [`FLUSH`]
//! bytes, so an allocation costs a thread-local add and compare beside the system allocator's
//! work (`benches/gc_allocator.rs` measures it). A report that grows the total also checks the
//! trigger, as a span refill does. The check never allocates (the collector's request channel is
//! bounded) and is skipped on the collector's own threads, whose allocations may come from
//! inside the request channel's code.

use std::alloc::{GlobalAlloc, Layout, System};

/// Bytes a thread counts before it reports them.
pub(crate) const FLUSH: i64 = 64 << 10;

/// A global allocator that tells the collector's pacer about memory allocated outside its heap,
/// so that buffers owned by `Gc` values (`Vec`, `String`, `HashMap`, ...) trigger cycles as Go's
/// `[]byte` do. It wraps another allocator (the system's by default) and changes nothing about
/// how memory is allocated. `stats().external_alloc` reports what it counted, and `GCTRACE`'s
/// heap sizes include it.
///
/// Install it in the program's binary crate. Without it, tricolor paces by its own heap only,
/// which is right for programs whose data is mostly `Gc` objects.
///
/// # Example
/// ```
/// #[global_allocator]
/// static ALLOC: tricolor_gc::GcAllocator = tricolor_gc::GcAllocator::new();
///
/// let buf = tricolor_gc::Gc::new(vec![0u8; 1 << 20]);
/// assert!(tricolor_gc::stats().external_alloc >= 1 << 20);
/// # drop(buf);
/// ```
pub struct GcAllocator<A = System> {
    inner: A,
}

impl GcAllocator<System> {
    /// The system allocator, counted.
    ///
    /// # Example
    /// ```
    /// #[global_allocator]
    /// static ALLOC: tricolor_gc::GcAllocator = tricolor_gc::GcAllocator::new();
    /// ```
    pub const fn new() -> Self {
        GcAllocator { inner: System }
    }
}

impl Default for GcAllocator<System> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A> GcAllocator<A> {
    /// Another allocator (jemalloc, mimalloc, ...), counted.
    ///
    /// # Example
    /// ```
    /// use std::alloc::System;
    /// #[global_allocator]
    /// static ALLOC: tricolor_gc::GcAllocator<System> = tricolor_gc::GcAllocator::wrapping(System);
    /// ```
    pub const fn wrapping(inner: A) -> Self {
        GcAllocator { inner }
    }
}

/// Counts `delta` bytes on this thread; reports the sum once it reaches [`FLUSH`] either way.
#[inline(always)]
fn count(delta: i64) {
    let u = crate::mstats::UNREPORTED.get() + delta;
    if (-FLUSH..FLUSH).contains(&u) {
        crate::mstats::UNREPORTED.set(u);
    } else {
        crate::mstats::UNREPORTED.set(0);
        report(u);
    }
}

#[cold]
#[inline(never)]
fn report(u: i64) {
    crate::mstats::note_external(u);
    if u > 0 {
        crate::mgc::external_grew(u as u64);
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments and returns its result
// unchanged, so `inner`'s guarantees (a `GlobalAlloc` itself) are ours; the counting touches
// only a thread-local `Cell` and atomics, and never allocates (`mgc::external_grew` sends on a
// bounded channel), so it cannot re-enter the allocator.
unsafe impl<A: GlobalAlloc> GlobalAlloc for GcAllocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is `inner.alloc`'s.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is `inner.dealloc`'s (`ptr` came from this
        // allocator, hence from `inner`, with `layout`).
        unsafe { self.inner.dealloc(ptr, layout) };
        count(-(layout.size() as i64));
        crate::mstats::note_external_free(layout.size() as i64);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is `inner.realloc`'s.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as i64 - layout.size() as i64);
        }
        p
    }
}
