//! `mcache`: a thread's cached span per span class, so that the allocation fast path takes no lock
//! (Go's `mcache.alloc`). The mcache is owned by its thread inside operations, and by the
//! collector during mark termination, which flushes every mcache back to the mcentrals so that
//! the spans can be swept (Go flushes lazily per P; tricolor cannot reach into a running
//! thread, and a stop in which no operation runs is exactly when the collector may).

use crate::mcentral::central;
use crate::mheap::AllocError;
use crate::mspan::{MSpan, SpanClass, NUM_SPAN_CLASSES};
use crate::mstats;

pub(crate) struct MCache {
    /// One word per class (the count of a cached span's objects when it was cached, to count
    /// this cache's mallocs, is the span's own `SpanAlloc::cached_count`): every thread has an
    /// mcache, and it is memory the thread's `GcAllocator` remainder does not see go.
    alloc: [*mut MSpan; NUM_SPAN_CLASSES],
}

impl MCache {
    pub fn new() -> MCache {
        MCache {
            alloc: [std::ptr::null_mut(); NUM_SPAN_CLASSES],
        }
    }

    /// A free slot of `class`: its address, its index and its span (owned by this mcache).
    /// `grew` is called after a refill took a span (the heap grew: the cycle module checks the
    /// pacer's trigger there, a layer above this one).
    #[inline(always)]
    pub fn alloc(
        &mut self,
        class: SpanClass,
        grew: impl Fn(),
    ) -> Result<(usize, usize, &'static MSpan), AllocError> {
        let c = class.index();
        loop {
            let s = self.alloc[c];
            if !s.is_null() {
                // SAFETY: a cached span is owned by this mcache, whose owner is the caller;
                // span structs are never freed.
                let span: &'static MSpan = unsafe { &*s };
                // SAFETY: as above, we own the span's allocation state.
                if let Some(idx) = unsafe { span.next_free() } {
                    return Ok((span.addr_of(idx), idx, span));
                }
            }
            self.refill(class)?;
            grew();
        }
    }

    /// Swaps the cached span of `class` for one with free slots (Go's `mcache.refill`).
    #[cold]
    #[inline(never)]
    fn refill(&mut self, class: SpanClass) -> Result<(), AllocError> {
        self.uncache(class);
        let s = central(class).cache_span()?;
        // SAFETY: cache_span hands the span to us.
        let span = unsafe { &*s };
        span.note_cached();
        // SAFETY: we own the span now.
        let a = unsafe { &mut *span.alloc.get() };
        let count = a.alloc_count;
        a.cached_count = count;
        mstats::note_cached(span.elemsize, span.nelems - count);
        self.alloc[class.index()] = s;
        crate::sweep::pay_credit(span.elemsize * (span.nelems - count));
        Ok(())
    }

    fn uncache(&mut self, class: SpanClass) {
        let c = class.index();
        let s = std::mem::replace(&mut self.alloc[c], std::ptr::null_mut());
        if s.is_null() {
            return;
        }
        // SAFETY: the span was cached here, so we own it until it is filed.
        let span = unsafe { &*s };
        span.note_given_back();
        // SAFETY: as above.
        let (count, cached) = unsafe {
            let a = &*span.alloc.get();
            (a.alloc_count, a.cached_count)
        };
        let free = span.nelems - count;
        mstats::note_uncached(span.elemsize, span.class.sizeclass(), free, count - cached);
        central(class).uncache_span(s, free);
    }

    /// Gives every cached span back (thread exit, mark termination).
    pub fn release_all(&mut self) {
        for c in 0..NUM_SPAN_CLASSES {
            self.uncache(SpanClass::from_index(c));
        }
    }
}
