//! Allocation: `Gc::new`'s path through the mcache (small objects) or the page heap (large ones),
//! with the colour decision and the unrooting of the moved-in handles in one operation.

use crate::header::{vtable_of, GcBox, Header};
use crate::mcentral::central;
use crate::mgcwork::WORK;
use crate::mheap::{AllocError, AllocFailure, HEAP};
use crate::mspan::{MSpan, SpanClass};
use crate::operation::{with_op, Op};
use crate::sizeclasses::{size_to_class, PAGE_SIZE};
use crate::trace::Trace;
use crate::{finalizer, mark, markroot, mgc, mstats, pacer, sweep};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

/// Assist when a thread has allocated this much during one mark phase without helping.
const ASSIST_CHUNK: u64 = 64 << 10;

/// Drops a value unless it moved into the heap: armed until the move (`Gc::try_new`,
/// `Gc::new_cyclic`), so that it drops the value on an allocation failure and when a
/// hand-written `unroot` unwinds (which [`alloc`] and [`build`] allow only before the value
/// moves). Either way outside the collector's operation, whose guard has ended it by then: the
/// value's drop is user code. Disarmed with `mem::forget` once the value has moved.
pub(crate) struct Unmoved<'a, T>(pub &'a mut ManuallyDrop<T>);

impl<T> Drop for Unmoved<'_, T> {
    fn drop(&mut self) {
        // SAFETY: armed only while the value has not moved into the heap.
        unsafe { ManuallyDrop::drop(self.0) }
    }
}

/// A value on its way into a new object inside a container's method (`GcVec::put_new`), whose
/// allocation runs inside the method's operation: `moved` is set the moment the value moves, and
/// otherwise the value is dropped where this is, in the method's frame, outside the operation
/// (on an allocation failure, or when the method unwinds before the move). [`Unmoved`] does the
/// same for `Gc::new`, where the move and the disarming `forget` happen in one frame: a flag
/// there, as here, cost 2.2% of binary-trees 14's instructions (callgrind, cycles off).
pub(crate) struct Pending<T> {
    pub value: ManuallyDrop<T>,
    pub moved: bool,
}

impl<T> Pending<T> {
    pub fn new(value: T) -> Pending<T> {
        Pending {
            value: ManuallyDrop::new(value),
            moved: false,
        }
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        if !self.moved {
            // SAFETY: not moved into the heap, and dropped only here.
            unsafe { ManuallyDrop::drop(&mut self.value) }
        }
    }
}

/// The part of moving `*value` into a new object that may unwind, done before anything moves:
/// asks whether its type has a finalizer (a constant for every type but a hand-written impl
/// that overrides this hidden method), starting the finalizer thread if so (starting a thread
/// can fail), then unroots the handles moving into the object (a hand-written `unroot` is user
/// code). While marking, each 1→0 shades; a cycle cannot start marking before the caller's
/// operation has published the object as a root (it waits for the operation), so the handles
/// are never unreachable. Returns `has_finalizer()`.
#[inline(always)]
fn before_move<T: Trace + 'static>(value: &mut ManuallyDrop<T>) -> bool {
    let finalizer = T::has_finalizer();
    if finalizer {
        finalizer::start_thread();
    }
    if !T::is_noscan() {
        // SAFETY: `value` is about to become heap contents; nobody else can see it.
        unsafe { value.unroot() };
    }
    finalizer
}

/// A `GcBox<T>`'s size, alignment, size class (computed at compile time) and span class.
#[inline(always)]
fn box_class<T: Trace + 'static>() -> (usize, usize, usize, SpanClass) {
    let sc = const { size_to_class(size_of::<GcBox<T>>(), align_of::<GcBox<T>>()) };
    let class = SpanClass::new(sc, T::is_noscan(), !T::needs_sweep_drop());
    (size_of::<GcBox<T>>(), align_of::<GcBox<T>>(), sc, class)
}

/// Moves `*value` into a new object. On failure, and on an unwinding `unroot`, it stays where it
/// is, the caller's to drop outside the operation (its drop glue is user code); on success it has
/// moved (the caller must not drop it, hence the `ManuallyDrop`). Nothing after the move can
/// unwind. Passing it by reference keeps the result in registers (a value returned with the
/// error made the result, and `Gc::new`, bigger).
///
/// The order inside the operation is what keeps user code from running while a slot is
/// reserved: the moved-in handles are unrooted first (a hand-written `unroot` is user code; if it
/// panics, no slot is held and the value unwinds with each handle's own root bit telling its
/// drop what to do), then the slot is taken, written, coloured and published with nothing in
/// between that could allocate or unwind.
#[inline(always)]
pub(crate) fn alloc<T: Trace + Send + Sync + 'static>(
    value: &mut ManuallyDrop<T>,
) -> Result<NonNull<GcBox<T>>, AllocError> {
    let r = with_op(|op| alloc_in(op, value, 1));
    // Past the hard goal, the new object (a root, returned below) waits with its thread for the
    // cycle to end, outside the operation.
    mgc::hold_at_goal();
    r
}

/// [`alloc`] inside the caller's operation `op`, for an object born with `roots` roots, and
/// without the wait past the hard goal. A container's method (`GcVec::put_new`) calls it in the
/// operation that stores the new object's handle, unrooted (`roots == 0`) when the container is
/// in the heap, and waits (`mgc::hold_at_goal`) once outside. An unrooted object is unreachable
/// until that store, and no cycle can start marking before the operation ends; one that is
/// marking already allocates it black.
#[inline(always)]
pub(crate) fn alloc_in<T: Trace + Send + Sync + 'static>(
    op: &Op<'_>,
    value: &mut ManuallyDrop<T>,
    roots: u8,
) -> Result<NonNull<GcBox<T>>, AllocError> {
    let (size, align, sc, class) = box_class::<T>();
    {
        let finalizer = before_move(value);
        let (addr, idx, span) = match slot(op, sc, size, align, class) {
            Ok(s) => s,
            Err(e) => {
                if !T::is_noscan() {
                    // SAFETY: the value stays the caller's: its handles are roots again.
                    unsafe { value.root() };
                }
                return Err(e);
            }
        };
        let obj = addr as *mut GcBox<T>;
        // SAFETY: moved out once; the caller does not drop it (`ManuallyDrop`) on success.
        let value = unsafe { ManuallyDrop::take(value) };
        // SAFETY: the slot is free, owned by this operation, and large enough and aligned for a
        // `GcBox<T>` (its class was chosen for this size and alignment).
        unsafe {
            obj.write(GcBox {
                header: Header::of(vtable_of::<T>()),
                value,
            });
            crate::mbitmap::init(addr, roots, false);
        };
        publish_new(op, span, idx, sc, roots > 0);
        if finalizer {
            finalizer::register(span, idx, vtable_of::<T>());
        }
        // SAFETY: `addr` is a non-null slot address.
        Ok(unsafe { NonNull::new_unchecked(obj) })
    }
}

/// `Gc::new_cyclic`'s allocation: a slot for a `GcBox<T>` whose header is
/// [`Header::unbuilt`] (a `()` with one root, the builder's, and its weak references cleared)
/// and whose value is not written yet. Coloured and published as any new object; [`build`]
/// moves the value in later.
pub(crate) fn alloc_unbuilt<T: Trace + Send + Sync + 'static>(
) -> Result<NonNull<GcBox<T>>, AllocError> {
    let (size, align, sc, class) = box_class::<T>();
    let r = with_op(|op| {
        let (addr, idx, span) = slot(op, sc, size, align, class)?;
        let obj = addr as *mut GcBox<T>;
        // SAFETY: the slot is free, owned by this operation, and large enough and aligned for
        // a `GcBox<T>`; only the header is written, and nothing reads more of a `()`.
        unsafe {
            (&raw mut (*obj).header).write(Header::unbuilt());
            crate::mbitmap::init(addr, 1, true);
        }
        publish_new(op, span, idx, sc, true);
        // SAFETY: `addr` is a non-null slot address.
        Ok(unsafe { NonNull::new_unchecked(obj) })
    });
    mgc::hold_at_goal();
    r
}

/// Moves `*value` into the object [`alloc_unbuilt`] made, then gives the object its type
/// (`Header::publish_built`) and registers its finalizer, as [`alloc`] does for a new object.
/// If a hand-written `unroot` unwinds, the value has not moved (the caller drops it) and the
/// object stays a `()`.
///
/// # Safety
/// `obj` came from `alloc_unbuilt::<T>`, is still held by the builder's root, and is built
/// once.
pub(crate) unsafe fn build<T: Trace + Send + Sync + 'static>(
    obj: NonNull<GcBox<T>>,
    value: &mut ManuallyDrop<T>,
) {
    with_op(|_op| {
        // The object may already be black (it was rooted), so the shades of the unrooting are
        // what keeps the moved-in handles' targets this cycle.
        let finalizer = before_move(value);
        let p = obj.as_ptr();
        // SAFETY: moved out once; the caller does not drop it (`ManuallyDrop`) once it has.
        let value = unsafe { ManuallyDrop::take(value) };
        // SAFETY: the slot is ours (caller) and sized for a `GcBox<T>`; nothing reads the value
        // before the vtable is published below (a marker traces a `()` until then).
        unsafe { (&raw mut (*p).value).write(value) };
        // SAFETY: the value of the vtable's type was just written; once (caller).
        unsafe { (*p).header.publish_built(vtable_of::<T>()) };
        if finalizer {
            let addr = p as usize;
            // SAFETY: the object is allocated (the builder's root).
            let span = unsafe { crate::mheap::span_of(addr) };
            finalizer::register(span, span.index_of(addr), vtable_of::<T>());
        }
    });
}

/// A free slot of class `sc` (0: a large object's own span).
#[inline(always)]
pub(crate) fn slot(
    op: &Op<'_>,
    sc: usize,
    size: usize,
    align: usize,
    class: SpanClass,
) -> Result<(usize, usize, &'static MSpan), AllocError> {
    if sc == 0 {
        return alloc_large(size, align, class);
    }
    // SAFETY: no other borrow of the mcache is live; the borrow ends before any user code.
    unsafe { op.mcache() }.alloc(class, mgc::heap_grew)
}

/// Colours and publishes a new object whose header is written: slot `idx` of `span`, of size
/// class `sc`, born with a root if `rooted`. A large object's span is flagged for the root scan
/// here, after the publication; a small object's was flagged by the mcache that holds it
/// (`protocol::roots`, "Births").
#[inline(always)]
pub(crate) fn publish_new(op: &Op<'_>, span: &MSpan, idx: usize, sc: usize, rooted: bool) {
    if op.marking() {
        born_black(op, span, idx);
    }
    span.publish(idx);
    if sc == 0 && rooted {
        span.note_born_rooted(op.marking());
    }
}

/// Black allocation: an object allocated while marking is marked at birth. Every
/// `ASSIST_CHUNK` bytes of black allocation the thread checks whether marking is behind schedule
/// and, if so, assists (`assist_share`): the checks and the shared counters stay off the
/// allocation path of a program whose mark workers keep up.
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
    let work = assist_share(mstats::heap_live());
    if work > 0 && mark::assist(work, markroot::assist_job) < work {
        mgc::assist_unpaid();
    }
}

/// The marking an allocating thread owes, in bytes, when the heap is at `live`, from what this
/// cycle has marked so far (the root scan's jobs counted in, `markroot`): Go's schedule,
/// simplified. Marking should be as far through the work expected (what the last cycle
/// scanned, and this cycle's root scan) as the heap is from the trigger to the goal; a
/// thread that finds it behind marks the shortfall, at most four chunks at a time; past the
/// goal, a chunk's worth each time whatever the schedule says. Go also credits the workers' work
/// against assists and lets assists steal it; here the workers' progress is the credit.
#[inline]
fn assist_share(live: usize) -> u64 {
    let goal = pacer::GOAL.load(Ordering::Relaxed);
    if live >= goal {
        return ASSIST_CHUNK;
    }
    let trigger = pacer::TRIGGER.load(Ordering::Relaxed).min(goal - 1);
    let expected = (pacer::LAST_SCANNED.load(Ordering::Relaxed)
        + WORK.root_expected.load(Ordering::Relaxed)) as u64;
    let used = live.saturating_sub(trigger) as u64;
    let due = (expected as u128 * used as u128 / (goal - trigger) as u128) as u64;
    let marked =
        WORK.marked_bytes.load(Ordering::Relaxed) + WORK.root_credit.load(Ordering::Relaxed);
    due.saturating_sub(marked as u64).min(4 * ASSIST_CHUNK)
}

#[cold]
fn alloc_large(
    size: usize,
    align: usize,
    class: SpanClass,
) -> Result<(usize, usize, &'static MSpan), AllocError> {
    if align > PAGE_SIZE {
        return Err(AllocError::new(AllocFailure::Unsupported { size, align }));
    }
    let npages = size.div_ceil(PAGE_SIZE);
    let class = SpanClass::new(0, class.noscan(), class.nodrop());
    let s = HEAP.lock().alloc_span(npages, class, sweep::sweepgen())?;
    // SAFETY: span structs are never freed.
    let span: &'static MSpan = unsafe { &*s };
    // SAFETY: the span is new and ours.
    let idx = unsafe { span.next_free() }.expect("a new large span has its one slot free");
    mstats::note_large(span.elemsize);
    // As a span refill does (Go charges large allocations sweep credit too).
    sweep::pay_credit(span.elemsize);
    // The span is filed now, as full: nobody sweeps it before the next mark termination, which
    // cannot overlap this operation.
    central(class).uncache_span(s, 0);
    mgc::heap_grew();
    Ok((span.base, idx, span))
}
