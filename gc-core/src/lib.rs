//! The runtime of tricolor, a concurrent, Go-style tricolor garbage collector.
//!
//! Users depend on the facade package `tricolor-gc` (library `tricolor_gc`), whose front page
//! is the guide; this crate is the runtime. Its modules are named
//! after Go's runtime (`mheap`, `mcentral`, `mcache`, `mspan`, `sizeclasses`, `mgc`, `mgcwork`,
//! `mstats`, `pacer`, `barrier`, ...) so that a reader of `src/runtime` finds their way.
//!
//! # Layers
//! Each module imports only from its own layer or the layers below it (`tests/layers.rs` checks
//! this and prints the graph). Within a layer, imports point one way but for one cycle that Go
//! has too: `mcentral` ↔ `sweep` (a refill sweeps; a sweep files the span back).
//!
//! | layer | modules | what it is |
//! |---|---|---|
//! | 4 handles | `malloc`, `gcalloc`, `handle`, `dst`, `cell`, `slot`, `vec`, `map`, `lock`, `weak`, `ephemeron`, `impls`, `serde_impls`, `stats` | what users hold and call: `Gc::new` (`malloc`), the pacer-aware global allocator (`gcalloc`), `Gc`, `GcCell`, `GcSlot`, `GcVec`, `GcMap`, `GcMutex`, `GcRwLock`, `Weak`, `GcWeakMap`, the std `Trace` impls, the `stats()` snapshot |
//! | 3 collector | `mgcwork`, `operation`, `barrier`, `mark`, `markroot`, `markdone`, `weakhandle`, `finalizer`, `pacer`, `gctrace`, `mgc` | the gray queue, the operation protocol, the write barrier, marking, the root scan's jobs, mark termination, weak references, finalizers, the pacer, `GCTRACE`, the cycle |
//! | 2 heap | `mspecial`, `mspan`, `mheap`, `mcentral`, `sweep`, `mcache` | per-span weak counts and finalizer bitmaps, spans and their bitmaps, the page heap, the central span lists, sweeping, per-thread span caches |
//! | 1 object | `trace`, `header`, `mbitmap` | the `Trace` and `Finalize` traits with the `Tracer` they report to, the object header, and the side bytes that hold each object's root count and weak-cleared bit |
//! | 0 base | `alg`, `sync`, `membarrier`, `locks`, `biaslock`, `protocol`, `throw`, `config`, `cputime`, `sizeclasses`, `mstats` | the maps' default hash, atomics (loom's under `--cfg loom`), asymmetric fences, blocking locks (std's under Miri), the containers' biased lock, the lock-free protocols loom checks, aborting, the environment, CPU clocks, size classes, raw counters |
//!
//! # Lock order
//! The global locks, outermost first (Go writes its order down in `lockrank.go`); a lock is
//! only taken while holding locks above it in this list:
//! 1. `operation::ORPHAN_BUSY` (a thread tearing down runs a whole operation holding it)
//! 2. `operation::REGISTRY` (the stop flushes the mcaches while holding it)
//! 3. an `mcentral` span set (never two at once; dropped before `mheap::HEAP` is taken)
//! 4. `mheap::HEAP`
//! 5. `mgcwork::GRAY`
//! 6. leaves: `mspecial::EPHEMERONS` (taken under a `GcWeakMap`'s own lock, under which only
//!    it and `mstats::HISTORY` are taken), `finalizer::LEARNED`, `finalizer::IDLE_LOCK`, `mstats::HISTORY`,
//!    `mstats::OBSERVER`, `gctrace::WRITER`, `throw::report_once`'s set, `mbitmap::SPILL`
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

// Layer 0: base. Under `--cfg loom` only the protocols and their atomics are compiled.
#[cfg(not(loom))]
mod alg;
#[cfg(not(loom))]
mod biaslock;
#[cfg(not(loom))]
mod config;
#[cfg(not(loom))]
mod cputime;
#[cfg(not(loom))]
mod locks;
#[cfg(not(loom))]
mod membarrier;
#[cfg(not(loom))]
mod mstats;
#[doc(hidden)]
pub mod protocol;
#[cfg(not(loom))]
mod sizeclasses;
mod sync;
#[cfg(not(loom))]
mod throw;

// Layer 1: the object.
#[cfg(not(loom))]
mod header;
#[cfg(not(loom))]
mod mbitmap;
#[cfg(not(loom))]
mod trace;

// Layer 2: the heap.
#[cfg(not(loom))]
mod mcache;
#[cfg(not(loom))]
mod mcentral;
#[cfg(not(loom))]
mod mheap;
#[cfg(not(loom))]
mod mspan;
#[cfg(not(loom))]
mod mspecial;
#[cfg(not(loom))]
mod sweep;

// Layer 3: the collector.
#[cfg(not(loom))]
mod barrier;
#[cfg(not(loom))]
mod finalizer;
#[cfg(not(loom))]
mod gctrace;
#[cfg(not(loom))]
mod mark;
#[cfg(not(loom))]
mod markdone;
#[cfg(not(loom))]
mod markroot;
#[cfg(not(loom))]
mod mgc;
#[cfg(not(loom))]
mod mgcwork;
#[cfg(not(loom))]
mod operation;
#[cfg(not(loom))]
mod pacer;
#[cfg(not(loom))]
mod weakhandle;

// Layer 4: the handles.
#[cfg(not(loom))]
mod cell;
#[cfg(not(loom))]
mod dst;
#[cfg(not(loom))]
mod ephemeron;
#[cfg(not(loom))]
mod gcalloc;
#[cfg(not(loom))]
mod handle;
#[cfg(not(loom))]
mod impls;
#[cfg(not(loom))]
mod lock;
#[cfg(not(loom))]
mod malloc;
#[cfg(not(loom))]
mod map;
#[cfg(all(feature = "serde", not(loom)))]
mod serde_impls;
#[cfg(not(loom))]
mod slot;
#[cfg(not(loom))]
mod stats;
#[cfg(not(loom))]
mod vec;
#[cfg(not(loom))]
mod weak;

/// Whether entering an operation runs without a hardware fence (module `membarrier`), for the
/// benchmarks' reports.
#[cfg(not(loom))]
#[doc(hidden)]
pub fn asymmetric_fences() -> bool {
    membarrier::init();
    membarrier::asymmetric()
}

#[cfg(not(loom))]
pub use alg::{GcHashState, GcHasher};
#[cfg(not(loom))]
pub use cell::{BorrowError, BorrowMutError, GcCell, GcCellRef, GcCellRefMut};
#[cfg(not(loom))]
pub use config::POISON_BYTE;
#[cfg(not(loom))]
pub use ephemeron::GcWeakMap;
#[cfg(not(loom))]
pub use finalizer::run_finalizers;

#[cfg(not(loom))]
pub use gcalloc::GcAllocator;
#[cfg(not(loom))]
pub use handle::Gc;
#[cfg(not(loom))]
pub use lock::{GcMutex, GcMutexGuard, GcRwLock, GcRwLockReadGuard, GcRwLockWriteGuard};
#[cfg(not(loom))]
pub use map::{GcMap, GcMapView};
#[cfg(not(loom))]
pub use mgc::{collect, safepoint};
#[cfg(not(loom))]
pub use mheap::{set_hard_memory_limit, AllocError, AllocFailure};
#[cfg(not(loom))]
pub use pacer::{set_gc_percent, set_memory_limit};
#[cfg(not(loom))]
pub use slot::GcSlot;
#[cfg(not(loom))]
pub use stats::{
    cycle_history, set_cycle_hook, stats, CycleHook, CycleRecord, SizeClassStats, Stats,
};

#[cfg(not(loom))]
pub use mstats::Trigger as CycleTrigger;

#[cfg(not(loom))]
pub use gctrace::{set_gctrace, set_gctrace_writer};
#[cfg(not(loom))]
#[doc(hidden)]
pub use trace::TracedTypesMustNotImplementDrop;
#[cfg(not(loom))]
pub use trace::{Finalize, Trace, Tracer};
#[cfg(not(loom))]
pub use vec::{GcVec, GcVecView};
#[cfg(not(loom))]
pub use weak::Weak;

/// Introspection for tests of the collector itself; not a stable API.
#[cfg(not(loom))]
#[doc(hidden)]
pub mod __private {
    /// A struct's or tuple's pointer map with one more field: `field`, the field type's
    /// `Trace::ptr_map`, at byte offset `at`. `None` if the field has no map, or has handles at
    /// an offset that is not a whole number of words. The one rule for the derive's maps and
    /// the tuples' (`impls`); the caller keeps the value within 512 bytes, so that no shift
    /// passes 64 bits.
    #[inline(always)]
    pub fn ptr_map_with_field(map: u64, field: Option<u64>, at: usize) -> Option<u64> {
        match field? {
            0 => Some(map),
            f if at.is_multiple_of(8) => Some(map | f << (at / 8)),
            _ => None,
        }
    }
    /// Size class of an allocation of `size` bytes with alignment `align` (0: large).
    pub fn size_class_of(size: usize, align: usize) -> usize {
        crate::sizeclasses::size_to_class(size, align)
    }
    /// Object size of each size class.
    pub const CLASS_SIZE: [u32; crate::sizeclasses::NUM_SIZE_CLASSES] =
        crate::sizeclasses::CLASS_SIZE;
    /// Spans in use, by the page heap's count.
    pub fn spans_in_use() -> usize {
        crate::mheap::HEAP.lock().all_spans().len()
    }
    /// Objects with a finalizer that have not been queued yet.
    pub fn finalizers_registered() -> usize {
        crate::finalizer::registered()
    }
    /// The span-class size of the object `g` points at.
    pub fn slot_size<T: ?Sized>(g: &crate::Gc<T>) -> usize {
        // SAFETY: a handle points at a live object.
        unsafe { crate::mheap::span_of(g.header() as *const _ as usize) }.elemsize
    }
    /// Leaves every root-scan job to the assists (the background workers take none), so that a
    /// test can make its own thread scan the roots. A cycle that starts while it is on waits
    /// for assists: a thread calling `safepoint` always gives them, a thread that allocates
    /// only once the pacer's schedule asks it to (never with automatic cycles off).
    pub fn leave_root_scan_to_assists(on: bool) {
        crate::markroot::leave_to_assists(on)
    }
    /// Makes the collector thread attempt no stop of its own, so that a test can make its own
    /// thread end each mark (through `safepoint`, or while waiting at the goal); a cycle that
    /// marks while it is on waits for such a thread.
    pub fn leave_mark_termination_to_mutators(on: bool) {
        crate::markdone::leave_to_mutators(on)
    }
    /// With the root scan left to assists (`leave_root_scan_to_assists(true)`, required: else
    /// the workers may finish the scan and this never returns true): runs, on this thread and
    /// inside an operation, every job of the root scan of the mark in progress, attempting no
    /// stop; true once this call finished the scan (false if no mark is on or its scan is not
    /// published yet). A test's objects allocated after it returned true are born after the
    /// scan. Its jobs count in neither `root_jobs_assist` nor `root_jobs_waiting`.
    pub fn run_root_scan() -> bool {
        crate::mgc::run_root_scan()
    }
    /// Makes the background sweep leave every span whose sweep runs no user code to the
    /// mutators (their sweep credit, or a wait at the hard goal), so that a test can make its
    /// own thread sweep them; a cycle that sweeps while it is on waits for such a thread.
    pub fn leave_sweep_to_mutators(on: bool) {
        crate::sweep::leave_to_mutators(on)
    }
}
