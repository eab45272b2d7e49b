//! Allocation: `Gc::new`'s path through the mcache (small objects) or the page heap (large ones),
//! with the colour decision and the unrooting of the moved-in handles in one operation.

use crate::barrier::{with_op, Op};
use crate::header::{vtable_of, GcBox, Header};
use crate::mcentral::central;
use crate::mheap::{AllocError, HEAP};
use crate::mspan::{MSpan, SpanClass};
use crate::sizeclasses::{size_to_class, PAGE_SIZE};
use crate::trace::Trace;
use crate::{dst, finalizer, mark, pacer, stats, sweep};
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
        let (addr, idx, span) = slot(op, sc, size, align, class)?;
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

/// A free slot of class `sc` (0: a large object's own span).
#[inline(always)]
fn slot(op: &Op<'_>, sc: usize, size: usize, align: usize, class: SpanClass) -> Result<(usize, usize, &'static MSpan), AllocError> {
    if sc != 0 {
        // SAFETY: no other borrow of the mcache is live; the borrow ends before any user code.
        unsafe { op.mcache() }.alloc(class)
    } else {
        alloc_large(size, align, class)
    }
}

/// Moves the dynamically sized value at `src` into a new object (see module `dst` for the
/// layout: the value after the header, and, unless the object is both noscan and nodrop, its own
/// fat pointer in the last two words of the slot, so that the marker and the sweeper can rebuild
/// it from the header's address alone).
///
/// On success the bytes of `*src` now belong to the object: the caller must free `src`'s memory
/// without dropping the value. On failure nothing was moved.
///
/// # Safety
/// `src` points at a valid `U`. `noscan` may be true only if the value holds no `Gc`, `nodrop`
/// only if dropping it does nothing at sweep time.
pub(crate) unsafe fn alloc_dst<U: ?Sized + Trace + Send + Sync + 'static>(
    src: *const U,
    noscan: bool,
    nodrop: bool,
) -> Result<NonNull<GcBox<U>>, AllocError> {
    // SAFETY: `src` is a valid `U` (caller).
    let value = std::alloc::Layout::for_value(unsafe { &*src });
    let (boxed, offset) = std::alloc::Layout::new::<Header>().extend(value).map_err(|_| AllocError)?;
    let trailer = !(noscan && nodrop);
    let mut size = boxed.size();
    if trailer {
        size = size
            .checked_next_multiple_of(8)
            .and_then(|s| s.checked_add(dst::TRAILER_SIZE))
            .ok_or(AllocError)?;
    }
    let align = boxed.align();
    let sc = size_to_class(size, align);
    let class = SpanClass::new(sc, noscan, nodrop);
    with_op(|op| {
        let (addr, idx, span) = slot(op, sc, size, align, class)?;
        let obj = dst::place(src, addr);
        // SAFETY: the slot is free, owned by this operation, at least `size` bytes long and
        // aligned for the box (its class was chosen for both); `src` is valid for `value.size()`
        // bytes and cannot overlap a free slot.
        unsafe {
            (addr as *mut Header).write(Header {
                vtable: dst::vtable_of::<U>(trailer),
                roots: AtomicUsize::new(1),
            });
            std::ptr::copy_nonoverlapping(src as *const u8, (addr + offset) as *mut u8, value.size());
            if trailer {
                dst::write_trailer(obj, addr + span.elemsize);
            }
            // The moved-in handles stop being roots, as in `alloc`.
            (*obj).value.unroot();
        }
        if op.marking() {
            born_black(op, span, idx);
        }
        span.publish(idx);
        // SAFETY: `obj` has the slot's non-null address.
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
