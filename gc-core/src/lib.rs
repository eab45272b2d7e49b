//! The runtime of tricolor, a concurrent, Go-style tricolor garbage collector.
//!
//! Users depend on the facade crate `tricolor`; this crate holds the heap (`mheap`, `mcentral`,
//! `mcache`, `mspan`, `sizeclasses`), the handles (`Gc`, `GcCell`, `GcSlot`, `Weak`), the write
//! barrier and operation protocol (`barrier`), concurrent marking (`mark`), lazy sweeping
//! (`sweep`), the cycle (`mgc`), the pacer (`pacer`), finalizers, statistics and `GCTRACE`.
//! The module names follow Go's runtime so that a reader of `src/runtime` finds their way.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[doc(hidden)]
pub mod protocol;
mod sync;

/// Applies `#[cfg(not(loom))]` to every item: under loom only `protocol` is compiled and modeled.
macro_rules! runtime {
    ($($item:item)*) => { $(#[cfg(not(loom))] $item)* };
}

#[cfg(not(loom))]
mod trace;

runtime! {
    mod barrier;
    mod cell;
    mod config;
    mod dst;
    mod finalizer;
    mod gc;
    mod gctrace;
    mod header;
    mod impls;
    mod malloc;
    mod mark;
    mod mcache;
    mod mcentral;
    mod mgc;
    mod mheap;
    mod mspan;
    mod pacer;
    #[cfg(feature = "serde")]
    mod serde_impls;
    mod sizeclasses;
    mod slot;
    mod stats;
    mod sweep;
    mod weak;
    pub use cell::{BorrowError, BorrowMutError, GcCell, GcCellRef, GcCellRefMut};
    pub use finalizer::run_finalizers;
    pub use gc::Gc;
    pub use mark::Tracer;
    pub use mgc::{collect, safepoint};
    pub use mheap::{set_hard_memory_limit, AllocError};
    pub use pacer::{set_gc_percent, set_memory_limit};
    pub use slot::GcSlot;
    pub use stats::{stats, SizeClassStats, Stats};
    pub use trace::{Finalize, Trace};
    #[doc(hidden)]
    pub use trace::TracedTypesMustNotImplementDrop;
    pub use weak::Weak;

    /// The byte freed slots are filled with under `GCPOISON=1`.
    pub const POISON_BYTE: u8 = 0xDB;

    /// Aborts the process with a message: used for collector bugs and failed verifications, where
    /// continuing could free live memory.
    #[cold]
    pub(crate) fn fatal(msg: &str) -> ! {
        eprintln!("tricolor: fatal: {msg}");
        std::process::abort()
    }

    /// Prints a message on stderr the first time it is seen.
    #[cold]
    pub(crate) fn report_once(msg: &str) {
        static SEEN: parking_lot::Mutex<Option<std::collections::HashSet<String>>> = parking_lot::Mutex::new(None);
        let mut s = SEEN.lock();
        if s.get_or_insert_with(Default::default).insert(msg.to_string()) {
            eprintln!("{msg}");
        }
    }

    /// Introspection for tests of the collector itself; not a stable API.
    #[doc(hidden)]
    pub mod __private {

        /// Size class of an allocation of `size` bytes with alignment `align` (0: large).
        pub fn size_class_of(size: usize, align: usize) -> usize {
            crate::sizeclasses::size_to_class(size, align)
        }
        /// Object size of each size class.
        pub const CLASS_SIZE: [u32; 68] = crate::sizeclasses::CLASS_SIZE;
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
    }
}
