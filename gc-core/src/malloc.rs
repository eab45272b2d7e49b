//! Allocation: `Gc::new`'s path through the mcache (small objects) or the page heap (large ones),
//! with the colour decision and the unrooting of the moved-in handles in one operation.

use crate::barrier::{with_op, Op};
use crate::header::{vtable_of, GcBox, Header};
use crate::mcentral::central;
use crate::mheap::{AllocError, HEAP};
use crate::mspan::{MSpan, SpanClass};
use crate::sizeclasses::{size_to_class, PAGE_SIZE};
use crate::trace::Trace;
use crate::{finalizer, mark, pacer, stats, sweep};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Assist when a thread has allocated this much during one mark phase without helping.
const ASSIST_CHUNK: u64 = 64 << 10;

#[inline(always)]
pub(crate) fn alloc<T: Trace + Send + Sync + 'static>(mut value: T) -> Result<NonNull<GcBox<T>>, AllocError> {
    let size = std::mem::size_of::<GcBox<T>>();
    let align = std::mem::align_of::<GcBox<T>>();
    let sc = size_to_class(size, align);
    let class = SpanClass::new(sc, T::is_noscan(), !T::needs_sweep_drop());
    with_op(|op| {
        let (addr, idx, span) = if sc != 0 {
            // SAFETY: no other borrow of the mcache is live; the borrow ends before any user code.
            unsafe { op.mcache() }.alloc(class)?
        } else {
            alloc_large(size, align, class)?
        };
        // The handles moving into the object stop being roots; while marking, each 1→0 shades.
        // SAFETY: `value` is about to become heap contents, owned by the new object.
        unsafe { value.unroot() };
        let obj = addr as *mut GcBox<T>;
        // SAFETY: the slot is free, owned by this operation, and large enough and aligned for a
        // `GcBox<T>` (its class was chosen for this size and alignment).
        unsafe {
            obj.write(GcBox {
                header: Header {
                    vtable: vtable_of::<T>(),
                    roots: AtomicUsize::new(1),
                },
                value,
            })
        };
        if op.marking() {
            born_black(op, span, idx);
        }
        span.publish(idx);
        if T::has_finalizer() {
            finalizer::register(addr);
        }
        // SAFETY: `addr` is a non-null slot address.
        Ok(unsafe { NonNull::new_unchecked(obj) })
    })
}

/// Black allocation: an object allocated while marking is marked at birth. Every
/// `ASSIST_CHUNK` bytes of black allocation the thread checks whether marking is behind (the heap
/// has passed the goal) and, if so, assists with that much marking work (Go computes the exchange
/// rate from the remaining work; tricolor charges only when marking is behind, which keeps
/// assists and shared counters off the allocation path of a program the workers keep up with).
#[inline]
fn born_black(op: &Op<'_>, span: &MSpan, idx: usize) {
    let size = span.elemsize as u64;
    if span.try_mark(idx) {
        let b = &op.state.black_bytes;
        b.store(b.load(Ordering::Relaxed) + size, Ordering::Relaxed);
    }
    let d = &op.state.assist_debt;
    let debt = d.load(Ordering::Relaxed) + size;
    if debt < ASSIST_CHUNK {
        d.store(debt, Ordering::Relaxed);
        return;
    }
    d.store(0, Ordering::Relaxed);
    if stats::heap_live() >= pacer::GOAL.load(Ordering::Relaxed) {
        mark::assist(ASSIST_CHUNK);
    }
}

#[cold]
fn alloc_large(size: usize, align: usize, class: SpanClass) -> Result<(usize, usize, &'static MSpan), AllocError> {
    if align > PAGE_SIZE {
        return Err(AllocError);
    }
    let npages = size.div_ceil(PAGE_SIZE);
    let class = SpanClass::new(0, class.noscan(), class.nodrop());
    let s = HEAP.lock().alloc_span(npages, class, sweep::sweepgen())?;
    // SAFETY: span structs are never freed.
    let span: &'static MSpan = unsafe { &*s };
    // SAFETY: the span is new and ours.
    let idx = unsafe { span.next_free() }.expect("a new large span has its one slot free");
    stats::note_large(span);
    // The span is filed now, as full: nobody sweeps it before the next mark termination, which
    // cannot overlap this operation.
    central(class).uncache_span(s, 0);
    pacer::check_trigger();
    Ok((span.base, idx, span))
}
