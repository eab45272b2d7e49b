//! The `Trace` and `Finalize` traits: how the collector sees a user type.
//!
//! A traced value does three things for the collector:
//! - `trace` reports every `Gc` edge it holds (the marker calls it on another thread);
//! - `unroot` is called when the value moves into the GC heap (`Gc::new`, or a `GcCell` borrow
//!   ending): every handle reachable without crossing another `Gc` stops being a root;
//! - `root` is the inverse, called when a `GcCell` is mutably borrowed and its contents may leave.
//!
//! Handles that a container gives no `&mut` to (the keys of maps, the elements of sets and of
//! `BinaryHeap`) are never unrooted: they stay roots for as long as the container holds them, as
//! the handles inside an `Arc` do. Flipping them would mean rebuilding the container, which runs
//! the user's `Hash`, `Eq` or `Ord` inside a collector operation, where a panic, an allocation
//! or a blocking call corrupts or deadlocks the collector. (Keeping the root bit in a `Cell` to
//! flip it in place was tried: `UnsafeCell` hides the pointer's niche, and `Option<Gc<T>>`
//! doubled to two words.) A cycle through such a key is therefore not collected.
//!
//! # The trace contract
//! An implementation must report the same edges every time it is called while the value is not
//! mutated, must not allocate, clone or drop a `Gc`, must not block, and must not panic. `root`
//! and `unroot` must visit exactly the handles `trace` reports, except behind types (like `Arc`)
//! that cannot hand out `&mut`: those keep their handles rooted for their whole life, which is
//! always safe (they act as roots) and only costs the ability to collect cycles through them.
//! The derive macros generate all of this; hand-written impls are for leaf types
//! ([`unsafe_empty_trace!`](crate::unsafe_empty_trace)) and for containers.

use std::cell::Cell;
use std::collections::HashSet;

/// Receives the edges a [`Trace`](crate::Trace) implementation reports.
///
/// Users never build one; they pass it on to the fields of their type in a hand-written
/// `trace`.
///
/// # Example
/// ```
/// use tricolor_gc::{Finalize, Gc, Trace, Tracer};
/// struct Pair { a: Gc<i64>, b: Gc<i64> }
/// impl Finalize for Pair {}
/// // SAFETY: trace, root and unroot visit exactly the two handles.
/// unsafe impl Trace for Pair {
///     fn trace(&self, t: &mut Tracer) { self.a.trace(t); self.b.trace(t); }
///     unsafe fn root(&mut self) {
///         // SAFETY: forwarded from the collector, which calls this.
///         unsafe { self.a.root(); self.b.root(); }
///     }
///     unsafe fn unroot(&mut self) {
///         // SAFETY: forwarded from the collector, which calls this.
///         unsafe { self.a.unroot(); self.b.unroot(); }
///     }
/// }
/// let p = Gc::new(Pair { a: Gc::new(1), b: Gc::new(2) });
/// assert_eq!(*p.a + *p.b, 3);
/// ```
pub struct Tracer {
    /// Gray objects (header addresses) this tracer will scan.
    pub(crate) stack: Vec<usize>,
    pub(crate) mode: TracerMode,
    /// True while the tracer scans a gray object for the marker (not while a barrier shades a
    /// value, nor in the verification): the one scan of the object in this cycle, which large
    /// containers do in chunks.
    pub(crate) gray_scan: bool,
}

impl Tracer {
    /// A tracer that records the handles a [`Trace::trace`] reports, and marks nothing: for
    /// unit-testing a hand-written `Trace` impl (did `trace` visit every handle the value owns,
    /// once each?). Check `root`/`unroot` with `Gc::is_root` and `Gc::root_count`.
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Gc, Trace, Tracer};
    /// let (a, b) = (Gc::new(1u8), Gc::new(2u8));
    /// let pair = (a.clone(), Some(b.clone()));
    /// let mut t = Tracer::recording();
    /// pair.trace(&mut t);
    /// assert_eq!(t.edges(), 2);
    /// assert_eq!(t.count_of(&a), 1);
    /// assert_eq!(t.count_of(&b), 1);
    /// ```
    pub fn recording() -> Tracer {
        Tracer {
            stack: Vec::new(),
            mode: TracerMode::Record { edges: Vec::new() },
            gray_scan: false,
        }
    }

    /// How many edges a [`Tracer::recording`] tracer was given (0 for other tracers).
    ///
    /// # Example
    /// ```
    /// use tricolor_gc::{Trace, Tracer};
    /// let mut t = Tracer::recording();
    /// vec![1u32, 2].trace(&mut t); // no handles
    /// assert_eq!(t.edges(), 0);
    /// ```
    pub fn edges(&self) -> usize {
        match &self.mode {
            TracerMode::Record { edges } => edges.len(),
            _ => 0,
        }
    }

    /// The header addresses a recording tracer was given, in order.
    pub(crate) fn recorded(&self) -> &[usize] {
        match &self.mode {
            TracerMode::Record { edges } => edges,
            _ => &[],
        }
    }

    /// See the `gray_scan` field.
    #[inline]
    pub(crate) fn gray_scan(&self) -> bool {
        self.gray_scan
    }

    /// A [`Tracer::recording`] tracer: user code, outside any collector phase's rules.
    pub(crate) fn is_recording(&self) -> bool {
        matches!(self.mode, TracerMode::Record { .. })
    }

    /// A marking tracer: a mark worker's or an assist's scan of a gray object, or a barrier's
    /// shade inside an operation.
    #[inline]
    pub(crate) fn is_marking(&self) -> bool {
        matches!(self.mode, TracerMode::Mark { .. })
    }
}

/// What a tracer does with an edge.
pub(crate) enum TracerMode {
    /// Marks the target and queues it gray (marking; `marked` tallies the bytes).
    Mark { marked: usize },
    /// Records the target in `seen` (the checkmark verification, which must not touch marks).
    Check { seen: HashSet<usize> },
    /// Marks an unmarked target after clearing its weak references, and keeps it on this tracer's
    /// own stack (the resurrection pass of module `finalizer`, on the collector thread alone).
    Resurrect { marked: usize },
    /// Records each edge and follows none: `Tracer::recording`, for testing `Trace` impls.
    Record { edges: Vec<usize> },
}

/// A type the collector can trace.
///
/// # Safety
/// `trace`, `root` and `unroot` must visit every `Gc` the value owns (directly or through owned
/// containers, not through other `Gc`s), and nothing else; see the module docs for the contract.
/// A wrong implementation lets the collector free live objects. The hidden methods are the
/// collector's own (the derive and this crate's impls fill them in): a hand-written impl keeps
/// their defaults, which are right for any type.
///
/// # Example
/// ```
/// use tricolor_gc::{Gc, Trace, Finalize};
///
/// #[derive(Trace, Finalize)]
/// struct Node { value: i64, next: Option<Gc<Node>> }
///
/// let tail = Gc::new(Node { value: 2, next: None });
/// let head = Gc::new(Node { value: 1, next: Some(tail) });
/// assert_eq!(head.next.as_ref().unwrap().value, 2);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be traced by tricolor",
    note = "derive `Trace` for your own types, or skip a field that holds no `Gc` with `#[gc(ignore)]`",
    note = "`Cell`, `RefCell`, `Mutex` and `RwLock` are deliberately not `Trace`: mutate heap values through `GcCell` or `GcSlot`, which tell the collector"
)]
pub unsafe trait Trace: Finalize {
    /// Reports every `Gc` edge of this value to `tracer`.
    fn trace(&self, tracer: &mut Tracer);

    /// Makes every handle owned by this value a root again.
    ///
    /// # Safety
    /// Only the collector calls this, on a value that is leaving the heap.
    unsafe fn root(&mut self);

    /// Makes every handle owned by this value stop being a root.
    ///
    /// # Safety
    /// Only the collector calls this, on a value that is entering the heap: afterwards the
    /// handles are kept alive only by the object that holds them.
    unsafe fn unroot(&mut self);

    /// True if no value of this type can hold a `Gc`: its objects live in "noscan" spans that the
    /// marker never scans. Hand-written impls keep the default (`false`, always safe).
    #[doc(hidden)]
    #[inline(always)]
    fn is_noscan() -> bool
    where
        Self: Sized,
    {
        false
    }

    /// True if dropping an unrooted value of this type (one inside the heap, dead or alive)
    /// does something. Handles inside the heap are unrooted and drop as no-ops, so a struct of
    /// `Gc`s and numbers needs no drop glue at sweep time (its spans are swept by swapping
    /// bitmaps alone), and a container overwrites such an element without reading it.
    #[doc(hidden)]
    #[inline(always)]
    fn needs_sweep_drop() -> bool
    where
        Self: Sized,
    {
        core::mem::needs_drop::<Self>()
    }

    /// Where a value of this type keeps its handles, if it is simple enough for the marker to
    /// find them without its `trace`: bit `i` set if word `i` (8 bytes at offset `8 * i`) is a
    /// sized `Gc` or an `Option` of one (null for `None`), and every other byte holds no handle.
    /// `None` (the default, always safe) for every other type. A small object of a type with a
    /// map and no sweep drop or finalizer is allocated without a header (module `malloc`):
    /// the map goes to its span's pointer bits, as Go writes its heap bitmap.
    #[doc(hidden)]
    #[inline(always)]
    fn ptr_map() -> Option<u64>
    where
        Self: Sized,
    {
        None
    }

    /// True if a value of this type is one word that is one handle (a sized `Gc`): a container
    /// may then replace it with one atomic store while markers trace it (`trace_racy`), without
    /// excluding them (module `vec`, *Handles replaced without the state word*). Hand-written
    /// impls keep the default (`false`), and with it the defaults of `trace_racy`,
    /// `replace_racy` and `store_racy`, which are right for every other type.
    #[doc(hidden)]
    #[inline(always)]
    fn is_atomic_handle() -> bool
    where
        Self: Sized,
    {
        false
    }

    /// Traces the value at `this`, reading every part for which `is_atomic_handle` holds with
    /// an atomic load and never through a reference, because a container's writer may be
    /// replacing such a part meanwhile. The default traces through a reference: right for
    /// every type whose values are never replaced that way while traced.
    ///
    /// # Safety
    /// `this` points at a valid value, and nothing writes to it meanwhile except such atomic
    /// replacements of its atomic-handle parts.
    #[doc(hidden)]
    #[inline(always)]
    unsafe fn trace_racy(this: *const Self, tracer: &mut Tracer)
    where
        Self: Sized,
    {
        // SAFETY: forwarded from the caller; the default's types are not replaced racily.
        unsafe { (*this).trace(tracer) }
    }

    /// Puts `new` at `slot` and returns the value that was there: with one atomic store
    /// (Release) for a type for which `is_atomic_handle` holds, so that markers may read the
    /// slot meanwhile with `trace_racy`. Called only for such types.
    ///
    /// # Safety
    /// `slot` points at a valid value that only the caller writes, and that others only read,
    /// with `trace_racy`; `is_atomic_handle` holds.
    #[doc(hidden)]
    #[inline(always)]
    unsafe fn replace_racy(slot: *mut Self, new: Self) -> Self
    where
        Self: Sized,
    {
        // SAFETY: forwarded; only reached for types no marker reads (never, by the contract).
        unsafe { std::ptr::replace(slot, new) }
    }

    /// [`replace_racy`](Trace::replace_racy) without reading the slot: the value there is
    /// overwritten, not dropped, so that the store need not wait for the slot's cache line.
    ///
    /// # Safety
    /// As for `replace_racy`, and dropping the overwritten value would do nothing.
    #[doc(hidden)]
    #[inline(always)]
    unsafe fn store_racy(slot: *mut Self, new: Self)
    where
        Self: Sized,
    {
        // SAFETY: forwarded, as in `replace_racy`.
        unsafe { std::ptr::write(slot, new) }
    }
}

/// Code that runs once, on the finalizer thread, before an unreachable object is freed.
///
/// Everything the object reaches is still alive while `finalize` runs; the object itself is
/// freed in a later cycle if it is still unreachable then (Go's `SetFinalizer` semantics). An
/// object that reaches itself through a cycle is kept alive by its own referents and is never
/// finalized, as in Go. A panic in `finalize` is caught and reported once.
///
/// A type has a finalizer when its impl overrides `finalize`; `#[derive(Finalize)]` and an empty
/// hand-written `impl Finalize for T {}` give none. For a hand-written impl the collector cannot
/// see the difference until it has finalized one object of the type (Rust has no way to ask
/// whether a default method was overridden): the first dead objects of such a type are kept one
/// cycle longer and finalized, and from then on the type is known. Derive `Finalize` where the
/// impl is empty to skip even that.
///
/// # Only the object's own type is finalized, not its fields
/// A value with a finalizer that sits in a field (of a derived struct, in a `GcCell`, a `Box`,
/// an `Option`) is not finalized when the object holding it dies; `gc`'s finalize glue would
/// reach it. Deliberately, as Go's `SetFinalizer` is per object: a finalizer is a per-object
/// special registered at allocation, which keeps the object and everything it reaches alive
/// for one more cycle and costs the finalizer thread a call. Running field finalizers would
/// make every object that merely contains such a value finalizable, and the question of order
/// (outer first? fields in which order, when one field's finalizer reads another?) has no
/// answer that suits every program. To finalize a part, make it an object of its own
/// (`Gc<Part>`: its finalizer runs when it dies), or call the fields' `finalize` from the outer
/// type's, in the order you choose:
///
/// ```
/// use tricolor_gc::{Finalize, Gc, Trace};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// static LOG: AtomicUsize = AtomicUsize::new(0);
///
/// #[derive(Trace)]
/// struct Handle(u32);
/// impl Finalize for Handle {
///     fn finalize(&self) { LOG.fetch_add(1, Ordering::SeqCst); }
/// }
///
/// #[derive(Trace)]
/// struct Session { a: Handle, b: Handle }
/// impl Finalize for Session {
///     fn finalize(&self) { self.b.finalize(); self.a.finalize(); } // your order
/// }
/// drop(Gc::new(Session { a: Handle(1), b: Handle(2) }));
/// tricolor_gc::collect();
/// tricolor_gc::run_finalizers();
/// assert_eq!(LOG.load(Ordering::SeqCst), 2);
/// ```
///
/// # Example
/// ```
/// use tricolor_gc::{Gc, Trace, Finalize};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// static CLOSED: AtomicUsize = AtomicUsize::new(0);
///
/// #[derive(Trace)]
/// struct File { fd: i32 }
/// impl Finalize for File {
///     fn finalize(&self) { CLOSED.fetch_add(1, Ordering::SeqCst); }
/// }
/// drop(Gc::new(File { fd: 3 }));
/// tricolor_gc::collect();
/// tricolor_gc::run_finalizers();
/// assert_eq!(CLOSED.load(Ordering::SeqCst), 1);
/// ```
pub trait Finalize {
    /// Called once before the object is freed. The default does nothing.
    fn finalize(&self) {
        // Tells the finalizer thread, which is learning whether the type overrides this, that
        // it does not (module `finalizer`); a no-op anywhere else.
        note_default_finalize(
            core::any::type_name::<Self>(),
            self as *const Self as *const () as usize,
        );
    }

    /// False for types that certainly have no finalizer (the derive and the std impls say so),
    /// whose objects then skip the finalizer registry. Keep the default in a hand-written impl:
    /// whether it overrides `finalize` is learned at run time.
    #[doc(hidden)]
    #[inline(always)]
    fn has_finalizer() -> bool
    where
        Self: Sized,
    {
        true
    }
}

/// Fills in the body of a `Trace` impl for a type that holds no `Gc`.
///
/// # Example
/// ```
/// use tricolor_gc::{unsafe_empty_trace, Finalize, Gc, Trace};
/// struct Celsius(f64);
/// impl Finalize for Celsius {}
/// // SAFETY: Celsius holds no Gc.
/// unsafe impl Trace for Celsius { unsafe_empty_trace!(); }
/// let t = Gc::new(Celsius(21.5));
/// assert_eq!(t.0, 21.5);
/// ```
#[macro_export]
macro_rules! unsafe_empty_trace {
    () => {
        #[inline(always)]
        fn trace(&self, _tracer: &mut $crate::Tracer) {}
        #[inline(always)]
        unsafe fn root(&mut self) {}
        #[inline(always)]
        unsafe fn unroot(&mut self) {}
        #[inline(always)]
        fn is_noscan() -> bool {
            true
        }
        #[inline(always)]
        fn ptr_map() -> Option<u64> {
            Some(0)
        }
    };
}

/// Statically rejects `Drop` on a traced type: the derive implements this trait for the type, and
/// the blanket impl below conflicts with it when the type also implements `Drop`. A drop glue
/// that ran during sweeping could reach objects that are already freed.
#[doc(hidden)]
pub trait TracedTypesMustNotImplementDrop {}
#[allow(drop_bounds)]
impl<T: Drop + ?Sized> TracedTypesMustNotImplementDrop for T {}

thread_local! {
    /// While a finalizer runs on this thread: the finalized value's type name and address.
    static EXPECT: Cell<Option<(&'static str, usize)>> = const { Cell::new(None) };
    /// Set when the default `finalize` ran for the expected value.
    static DEFAULT_RAN: Cell<bool> = const { Cell::new(false) };
}

/// Called by the default `Finalize::finalize` with its `Self` type's name and `self`'s address.
/// Both are compared, so that an override that calls a field's default `finalize` still counts
/// as an override: the address tells the value from a field that is not its first (or from
/// another object), the name from a first field. (`TypeId` would be exact, but the trait does not
/// require `'static`; a first field whose type has the very name of its container's takes two
/// versions of one crate nested that way.)
#[inline]
fn note_default_finalize(type_name: &'static str, at: usize) {
    if EXPECT.get() == Some((type_name, at)) {
        DEFAULT_RAN.set(true);
    }
}

/// Runs `finalize` (the finalizer of the value of type `type_name` at address `at`) and tells
/// whether the type overrides `Finalize::finalize`: false if the trait's default body ran for
/// that value.
pub(crate) fn finalize_overrides(
    type_name: &'static str,
    at: usize,
    finalize: impl FnOnce(),
) -> bool {
    struct Restore(Option<(&'static str, usize)>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            EXPECT.set(self.0);
            DEFAULT_RAN.set(self.1);
        }
    }
    // Nested finalizers (`run_finalizers()` from a finalizer) keep the outer one's state.
    let _restore = Restore(
        EXPECT.replace(Some((type_name, at))),
        DEFAULT_RAN.replace(false),
    );
    finalize();
    !DEFAULT_RAN.get()
}
