//! Allocation: `Gc::new`'s path through the mcache (small objects) or the page heap (large ones),
//! with the colour decision and the unrooting of the moved-in handles in one operation.

use crate::header::{headered_size, value_offset, vtable_of, HeaderWord, HEADER_SIZE};
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

/// The largest value allocated without a header: its pointer map has a bit per word.
const MAX_BARE: usize = 512;

/// The pointer map of `T` if its objects go without a header (`Trace::ptr_map`): small, at
/// most 8-aligned, with a map, no drop glue to run at sweep time and no finalizer, so that
/// neither the marker nor the sweeper nor the finalizer thread needs its vtable. Constant for
/// each type once inlined.
#[inline(always)]
pub(crate) fn bare_map<T: Trace + 'static>() -> Option<u64> {
    if size_of::<T>() > MAX_BARE
        || align_of::<T>() > 8
        || T::needs_sweep_drop()
        || T::has_finalizer()
    {
        return None;
    }
    T::ptr_map()
}

/// Where and how an object of a type is allocated.
#[derive(Clone, Copy)]
pub(crate) struct ObjLayout {
    /// The slot's size and alignment.
    pub size: usize,
    pub align: usize,
    /// Its size class (0: a large object), computed at compile time, and span class.
    pub sc: usize,
    pub class: SpanClass,
    /// Where the value starts in the slot: after the header word, or at 0 without one.
    pub value_off: usize,
    /// The pointer map of an object without a header.
    pub map: Option<u64>,
}

/// The layout of a `T` object: without a header if `bare_map` allows, else with one.
#[inline(always)]
fn box_class<T: Trace + 'static>() -> ObjLayout {
    if let Some(map) = bare_map::<T>() {
        let sc = const { size_to_class(size_of::<T>(), align_of::<T>()) };
        return ObjLayout {
            size: size_of::<T>(),
            align: align_of::<T>(),
            sc,
            class: SpanClass::bare(sc, map == 0),
            value_off: 0,
            map: Some(map),
        };
    }
    headered_class::<T>()
}

/// [`box_class`] of an object with a header: the header word, then the value at
/// `value_offset` of its alignment. A value aligned to more than 16 bytes takes the large
/// path, whose span has room for any offset (a small class has 8 or 16).
#[inline(always)]
pub(crate) fn headered_layout(size: usize, align: usize, noscan: bool, nodrop: bool) -> ObjLayout {
    let value_off = value_offset(align);
    let size = headered_size(size, align);
    let align = align.max(HEADER_SIZE);
    let sc = if align > 16 {
        0
    } else {
        size_to_class(size, align)
    };
    ObjLayout {
        size,
        align,
        sc,
        class: SpanClass::headered(sc, noscan, nodrop, align),
        value_off,
        map: None,
    }
}

/// [`headered_layout`] of `T`, its size class computed at compile time.
#[inline(always)]
fn headered_class<T: Trace + 'static>() -> ObjLayout {
    let value_off = const { value_offset(align_of::<T>()) };
    let align = const {
        if align_of::<T>() > HEADER_SIZE {
            align_of::<T>()
        } else {
            HEADER_SIZE
        }
    };
    let size = const { headered_size(size_of::<T>(), align_of::<T>()) };
    let sc = const {
        let align = if align_of::<T>() > HEADER_SIZE {
            align_of::<T>()
        } else {
            HEADER_SIZE
        };
        if align > 16 {
            0
        } else {
            size_to_class(headered_size(size_of::<T>(), align_of::<T>()), align)
        }
    };
    ObjLayout {
        size,
        align,
        sc,
        class: SpanClass::headered(sc, T::is_noscan(), !T::needs_sweep_drop(), align),
        value_off,
        map: None,
    }
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
) -> Result<NonNull<T>, AllocError> {
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
) -> Result<NonNull<T>, AllocError> {
    let l = box_class::<T>();
    {
        let finalizer = before_move(value);
        let (addr, idx, span) = match slot(op, &l) {
            Ok(s) => s,
            Err(e) => {
                if !T::is_noscan() {
                    // SAFETY: the value stays the caller's: its handles are roots again.
                    unsafe { value.root() };
                }
                return Err(e);
            }
        };
        let obj = addr + l.value_off;
        // SAFETY: moved out once; the caller does not drop it (`ManuallyDrop`) on success.
        let value = unsafe { ManuallyDrop::take(value) };
        // SAFETY: the slot is free, owned by this operation, and large enough and aligned for
        // the header word (if any) and the value after it (its class was chosen for both).
        unsafe {
            if l.map.is_none() {
                ((obj - HEADER_SIZE) as *mut HeaderWord).write(HeaderWord::of(vtable_of::<T>()));
            }
            (obj as *mut T).write(value);
            crate::mbitmap::init(obj, roots, false);
        }
        if let Some(map) = l.map.filter(|&m| m != 0) {
            // The class is a compile-time constant here (`box_class`), and so is its size.
            let words = crate::sizeclasses::CLASS_SIZE[l.sc] as usize / 8;
            // SAFETY: a type with a non-zero map gets a scanned class without headers
            // (`box_class`), whose spans have `ptr_bits`; `obj` is the slot's start (no
            // header: `value_off` is 0), and the span's `elemsize` is its class's size.
            unsafe { span.set_ptr_map(obj, map, words) };
        }
        publish_new(op, span, idx, l.sc, roots > 0);
        if finalizer {
            finalizer::register(span, idx, vtable_of::<T>());
        }
        // SAFETY: `obj` is inside a slot: non-null.
        Ok(unsafe { NonNull::new_unchecked(obj as *mut T) })
    }
}

/// `Gc::new_cyclic`'s allocation: a slot for a `GcBox<T>` whose header is
/// [`Header::unbuilt`] (a `()` with one root, the builder's, and its weak references cleared)
/// and whose value is not written yet. Coloured and published as any new object; [`build`]
/// moves the value in later.
pub(crate) fn alloc_unbuilt<T: Trace + Send + Sync + 'static>() -> Result<NonNull<T>, AllocError> {
    // Always with a header: the object is a `()` until built.
    let l = headered_class::<T>();
    let r = with_op(|op| {
        let (addr, idx, span) = slot(op, &l)?;
        let obj = addr + l.value_off;
        // SAFETY: the slot is free, owned by this operation, and large enough and aligned for
        // the header word and a `T`; only the header word is written, and nothing reads more
        // of a `()`.
        unsafe {
            ((obj - HEADER_SIZE) as *mut HeaderWord).write(HeaderWord::unbuilt());
            crate::mbitmap::init(obj, 1, true);
        }
        publish_new(op, span, idx, l.sc, true);
        // SAFETY: `obj` is inside a slot: non-null.
        Ok(unsafe { NonNull::new_unchecked(obj as *mut T) })
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
    obj: NonNull<T>,
    value: &mut ManuallyDrop<T>,
) {
    with_op(|_op| {
        // The object may already be black (it was rooted), so the shades of the unrooting are
        // what keeps the moved-in handles' targets this cycle.
        let finalizer = before_move(value);
        let p = obj.as_ptr();
        // SAFETY: moved out once; the caller does not drop it (`ManuallyDrop`) once it has.
        let value = unsafe { ManuallyDrop::take(value) };
        // SAFETY: the slot is ours (caller) and sized for a `T`; nothing reads the value
        // before the vtable is published below (a marker traces a `()` until then).
        unsafe { p.write(value) };
        // SAFETY: the value of the vtable's type was just written; once (caller).
        unsafe { crate::header::header(p as usize).publish_built(vtable_of::<T>()) };
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
    l: &ObjLayout,
) -> Result<(usize, usize, &'static MSpan), AllocError> {
    if l.sc == 0 {
        return alloc_large(l);
    }
    // SAFETY: no other borrow of the mcache is live; the borrow ends before any user code.
    unsafe { op.mcache() }.alloc(l.class, mgc::heap_grew)
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
fn alloc_large(l: &ObjLayout) -> Result<(usize, usize, &'static MSpan), AllocError> {
    let (size, align) = (l.size, l.align);
    if align > PAGE_SIZE {
        return Err(AllocError::new(AllocFailure::Unsupported { size, align }));
    }
    let npages = size.div_ceil(PAGE_SIZE);
    let class = SpanClass::new(0, l.class.noscan(), l.class.nodrop());
    let s = HEAP
        .lock()
        .alloc_span(npages, class, sweep::sweepgen(), l.value_off)?;
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
