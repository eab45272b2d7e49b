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

/// Moves `value` into a new object. On failure the value comes back, so that it is dropped by
/// the caller, outside the operation (its drop glue is user code).
///
/// The order inside the operation is what keeps user code from running while a slot is
/// reserved: the moved-in handles are unrooted first (a hand-written `unroot` is user code; if it
/// panics, no slot is held and the value unwinds with each handle's own root bit telling its
/// drop what to do), then the slot is taken, written, coloured and published with nothing in
/// between that could allocate or unwind.
#[inline(always)]
pub(crate) fn alloc<T: Trace + Send + Sync + 'static>(mut value: T) -> Result<NonNull<GcBox<T>>, (AllocError, T)> {
    let size = std::mem::size_of::<GcBox<T>>();
    let align = std::mem::align_of::<GcBox<T>>();
    let sc = size_to_class(size, align);
    let class = SpanClass::new(sc, T::is_noscan(), !T::needs_sweep_drop());
    // Asked before the operation: a hand-written impl could override it with anything.
    let finalizer = T::has_finalizer();
    with_op(|op| {
        // The handles moving into the object stop being roots; while marking, each 1→0 shades.
        // A cycle cannot start marking before this operation has published the object as a
        // root (it waits for the operation), so the handles are never unreachable.
        if !T::is_noscan() {
            // SAFETY: `value` is about to become heap contents; nobody else can see it.
            unsafe { value.unroot() };
        }
        let (addr, idx, span) = match slot(op, sc, size, align, class) {
            Ok(s) => s,
            Err(e) => {
                if !T::is_noscan() {
                    // SAFETY: the value stays the caller's: its handles are roots again.
                    unsafe { value.root() };
                }
                return Err((e, value));
            }
        };
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
        if finalizer {
            finalizer::register(addr, vtable_of::<T>());
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
/// `src` points at a valid `U` that the caller owns (it is unrooted and re-rooted in place, so
/// it must be writable unless `noscan`). `noscan` may be true only if the value holds no `Gc`,
/// `nodrop` only if dropping it does nothing at sweep time.
pub(crate) unsafe fn alloc_dst<U: ?Sized + Trace + Send + Sync + 'static>(
    src: *mut U,
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
        // Unrooted in place before a slot is taken, as in `alloc`.
        if !noscan {
            // SAFETY: `src` is valid and about to become heap contents (caller).
            unsafe { (*src).unroot() };
        }
        let (addr, idx, span) = match slot(op, sc, size, align, class) {
            Ok(s) => s,
            Err(e) => {
                if !noscan {
                    // SAFETY: the value stays the caller's: its handles are roots again.
                    unsafe { (*src).root() };
                }
                return Err(e);
            }
        };
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
