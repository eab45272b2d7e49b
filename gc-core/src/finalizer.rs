//! Finalizers with Go's `SetFinalizer` semantics (Go's `mfinal.go`): an object whose type has a
//! finalizer is registered at allocation, as a bit in its span's finalizer bitmap (module
//! `mspecial`: no lock, no shared counter); its referents are marked during the concurrent root
//! scan (Go's `markrootSpans`), so everything it reaches is alive when `finalize` runs; the
//! sweeper of its span finds it unmarked, keeps it, clears its weak references and queues it; the
//! finalizer thread runs `finalize` once, catching panics, and drops the queue's root; a later
//! cycle frees the object if it is still unreachable. Never "mark again after finalizing":
//! nothing reachable from a finalized object is freed before the object itself. Mark
//! termination's stop does no finalizer work.
//!
//! # Which types have a finalizer
//! A type has one when its `Finalize` impl overrides `finalize`. The derive and the std impls
//! say they do not (`has_finalizer() == false`) and their objects never come here. A hand-written
//! impl may or may not override, and Rust offers no way to ask, so the collector learns it: the
//! trait's default `finalize` reports that it ran (`trace::finalize_overrides`), and the first time
//! an object of such a type is finalized, its type is recorded as overriding or not.
//!
//! Until a type is known its objects are registered as *unknown*, and treated the way Java
//! treats finalizable objects rather than the way Go does: their referents are not roots, so a
//! cycle through them can die. When the mark is complete (the first stop finds nothing left to
//! mark) and the root scan saw unknown objects, marking resumes for a *resurrection* pass
//! ([`resurrect_unknown_dead`], concurrent, on the collector thread): every unknown object left
//! unmarked is marked with everything it alone reaches, and all of those have their weak references
//! cleared (they were found unreachable: Java clears weak references before finalization; module
//! `weakhandle`); a second stop ends the cycle and the resurrected objects are queued. After the
//! first finalization of a type, it is known: a type whose `finalize` is the default is never
//! registered again and its remaining registrations are dropped by the next root scan (they
//! become ordinary objects); a type that overrides it gets Go's semantics from then on. The price
//! of not knowing is paid once per type: its first dead objects live one cycle longer and cost
//! one more round of marking. Java's order too: unknown objects that reach each other die in the
//! same cycle and are finalized in any order, so a finalizer may see a referent whose own
//! finalizer has run (Go would finalize only the first of such a chain per cycle).

use crate::barrier::release_root;
use crate::header::{header, VTable};
use crate::locks::{Condvar, Mutex, RwLock};
use crate::mheap::{SpanRef, HEAP};
use crate::mspan::MSpan;
use crate::mspecial::{queue_finalizer, FINQ, PENDING};
use crate::operation::{in_operation, COLLECTOR_STACK_SIZE};
use crate::trace::Tracer;
use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

/// Type → whether `finalize` is overridden, for types with a hand-written `Finalize`. Keyed by
/// `TypeId`: a name may be two types' (two versions of one crate), and a type learned under
/// the other's answer could have its finalizers skipped (review finding, 2026-12-07).
/// Lock order: a leaf. Read through each thread's cache (`learned_cached`), so allocating
/// threads do not share a lock word.
static LEARNED: LazyLock<RwLock<HashMap<TypeId, bool>>> = LazyLock::new(Default::default);
/// Bumped after each insertion into `LEARNED`: a thread's cached "not known yet" is stale once
/// this moves (a known answer never changes).
static LEARN_EPOCH: AtomicU64 = AtomicU64::new(0);
/// Guards nothing but the wait for `PENDING` to reach 0. Lock order: a leaf.
static IDLE_LOCK: Mutex<()> = Mutex::new(());
static IDLE: Condvar = Condvar::new();

/// How many types a thread's cache remembers (types with hand-written finalizers are few).
const CACHE_TYPES: usize = 16;

thread_local! {
    static IS_FINALIZER: Cell<bool> = const { Cell::new(false) };
    /// (vtable address, answer, `LEARN_EPOCH` when a `None` was read).
    static CACHE: RefCell<Vec<(usize, Option<bool>, u64)>> = const { RefCell::new(Vec::new()) };
}

static THREAD: LazyLock<()> = LazyLock::new(|| {
    std::thread::Builder::new()
        .name("tricolor-finalizer".into())
        // Finalizers may recurse through deep structures as freely as drop glue does.
        .stack_size(COLLECTOR_STACK_SIZE)
        .spawn(move || {
            IS_FINALIZER.set(true);
            for a in FINQ.1.iter() {
                run_one(a);
            }
        })
        .expect("tricolor: cannot start the finalizer thread");
});

/// What is known of a type's `finalize` (`None`: not yet learned).
fn learned(vt: &VTable) -> Option<bool> {
    LEARNED.read().get(&(vt.type_id)()).copied()
}

/// [`learned`], through this thread's cache.
fn learned_cached(vt: &'static VTable) -> Option<bool> {
    let key = vt as *const VTable as usize;
    let epoch = LEARN_EPOCH.load(Ordering::Acquire);
    let r = CACHE.try_with(|c| {
        let mut c = c.borrow_mut();
        if let Some(e) = c.iter_mut().find(|e| e.0 == key) {
            if e.1.is_none() && e.2 != epoch {
                *e = (key, learned(vt), epoch);
            }
            return e.1;
        }
        let v = learned(vt);
        if c.len() == CACHE_TYPES {
            c.remove(0);
        }
        c.push((key, v, epoch));
        v
    });
    // During the thread's teardown the cache is gone: ask the table.
    r.unwrap_or_else(|_| learned(vt))
}

/// Starts the finalizer thread if it is not running yet: called by `Gc::new` for a type whose
/// `has_finalizer()` is true before anything moves, since starting a thread can fail (a panic)
/// and nothing after the value moved into its object may unwind.
#[inline]
pub(crate) fn start_thread() {
    LazyLock::force(&THREAD);
}

/// Registers the object `idx` of `span`, of a type whose `has_finalizer()` is true, unless its
/// type is known not to override `finalize`. Called in `Gc::new`'s operation, after the object
/// is published.
pub(crate) fn register(span: &MSpan, idx: usize, vt: &'static VTable) {
    let known = match learned_cached(vt) {
        Some(false) => return,
        Some(true) => true,
        None => false,
    };
    // Started already (`start_thread`, before the object was allocated), so this cannot fail.
    LazyLock::force(&THREAD);
    span.specials.add_finalizer(idx, known);
}

/// The root scan's part for one span (Go's `markrootSpans`): marks what the span's waiting
/// objects of known types reach, without marking the objects themselves; registrations whose
/// type was learned since take their type's side now (dropped if it has no finalizer, known
/// if it has one). Returns how many unknown ones are left.
pub(crate) fn scan_span(span: &MSpan, t: &mut Tracer) -> usize {
    let Some(f) = span.specials.finalizer_bits() else {
        return 0;
    };
    let mut unknown_left = 0;
    for w in 0..f.known.len() {
        let mut u = f.unknown[w].load(Ordering::Acquire);
        while u != 0 {
            let m = 1u64 << u.trailing_zeros();
            u &= u - 1;
            let idx = w * 64 + m.trailing_zeros() as usize;
            // SAFETY: a registered object is allocated and initialized (its bit was set after
            // it was published) and is not freed while registered.
            let h = unsafe { header(span.obj_of(idx)) };
            // SAFETY: as above; a type with a finalizer has headers (`malloc::bare_map`).
            match learned_cached(unsafe { h.vtable() }) {
                Some(false) => {
                    f.unknown[w].fetch_and(!m, Ordering::Relaxed);
                }
                Some(true) => {
                    f.known[w].fetch_or(m, Ordering::Release);
                    f.unknown[w].fetch_and(!m, Ordering::Relaxed);
                }
                None => unknown_left += 1,
            }
        }
        let mut k = f.known[w].load(Ordering::Acquire);
        while k != 0 {
            let idx = w * 64 + k.trailing_zeros() as usize;
            k &= k - 1;
            // SAFETY: registered objects are alive; nothing is freed while marking.
            unsafe { crate::mark::trace_object(span.obj_of(idx), t) };
        }
    }
    unknown_left
}

/// The referents of the waiting objects of known types, for the verification pass (which must
/// not change the registrations).
pub(crate) fn trace_known_referents(t: &mut Tracer) {
    let spans = HEAP.lock().all_spans();
    for s in &spans {
        let span = s.get();
        let Some(f) = span.specials.finalizer_bits() else {
            continue;
        };
        for (w, word) in f.known.iter().enumerate() {
            let mut k = word.load(Ordering::Acquire);
            while k != 0 {
                let idx = w * 64 + k.trailing_zeros() as usize;
                k &= k - 1;
                // SAFETY: registered objects are alive; nothing is freed in mark termination.
                unsafe { crate::mark::trace_object(span.obj_of(idx), t) };
            }
        }
    }
}

/// The resurrection pass (module docs), on the collector thread while marking resumes after a
/// complete mark, with `weakhandle::RESURRECTING` set: every unmarked object of a type still
/// not known to lack a finalizer is marked with all it alone reaches, by a tracer that clears
/// their weak references first. Returns the resurrected objects, to queue once the cycle is over.
pub(crate) fn resurrect_unknown_dead(spans: &[SpanRef]) -> Vec<usize> {
    let mut t = Tracer::resurrector();
    let mut out = Vec::new();
    for s in spans {
        let span = s.get();
        let Some(f) = span.specials.finalizer_bits() else {
            continue;
        };
        for w in 0..f.unknown.len() {
            let mut dead =
                f.unknown[w].load(Ordering::Acquire) & !span.mark_bits[w].load(Ordering::Acquire);
            while dead != 0 {
                let m = 1u64 << dead.trailing_zeros();
                dead &= dead - 1;
                let idx = w * 64 + m.trailing_zeros() as usize;
                let addr = span.obj_of(idx);
                f.unknown[w].fetch_and(!m, Ordering::Relaxed);
                // SAFETY: registered objects are allocated; nothing is freed while marking.
                let h = unsafe { header(addr) };
                // SAFETY: as above; a registered object has a header (`malloc::bare_map`).
                if learned_cached(unsafe { h.vtable() }) == Some(false) {
                    // Learned meanwhile: an ordinary object, which dies as one.
                    continue;
                }
                t.edge(h);
                out.push(addr);
            }
        }
    }
    t.drain_all();
    out
}

/// Queues the objects [`resurrect_unknown_dead`] returned, once the cycle is over.
pub(crate) fn queue_resurrected(objs: Vec<usize>) {
    for a in objs {
        // SAFETY: the object was marked this cycle, so this cycle's sweep keeps it; it left the
        // registrations when it was resurrected, so it is queued once.
        if unsafe { queue_finalizer(a) } {
            // SAFETY: allocated (as above).
            unsafe { crate::mheap::span_of(a) }.note_rooted();
        }
    }
}

/// Runs one queued finalizer and learns its type's answer.
fn run_one(a: usize) {
    // SAFETY: the queue holds a root on the object.
    let h = unsafe { header(a) };
    // SAFETY: as above; a queued object has a finalizer, so a header (`malloc::bare_map`).
    let vt = unsafe { h.vtable() };
    let name = (vt.type_name)();
    // SAFETY: the object is alive (we hold its root) and is finalized once: it left the
    // registrations when it was queued.
    // The glue's pointer comes from the address, not from `h`, which claims no bytes.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
        (vt.finalize)(std::ptr::with_exposed_provenance(a))
    }));
    let panicked = r.is_err();
    // The default `finalize` does nothing, so one that panicked was the type's own.
    let overridden = *r.as_ref().unwrap_or(&true);
    // A payload whose own drop panics would unwind past the root's release and end this
    // thread: it is leaked instead.
    crate::throw::forget_payload(r);
    if panicked {
        crate::throw::report_once(&format!(
            "tricolor: a finalizer of {name} panicked; the panic was caught and other finalizers go on"
        ));
    }
    if learned(vt).is_none() {
        LEARNED.write().insert((vt.type_id)(), overridden);
        LEARN_EPOCH.fetch_add(1, Ordering::Release);
    }
    release_root(h);
    if PENDING.fetch_sub(1, Ordering::AcqRel) == 1 {
        // Under the lock, so a waiter between its check and its wait cannot miss this.
        let _g = IDLE_LOCK.lock();
        IDLE.notify_all();
    }
}

/// Blocks until every finalizer queued so far has run. Called from a finalizer, it runs the
/// queued finalizers itself (the finalizer thread cannot wait for itself) and returns when none
/// is left but the ones on its own stack.
///
/// Called by drop glue that the collector's own thread runs (a sweep), it returns at once, as
/// [`collect`](crate::collect) does there: a finalizer may be waiting for the next cycle, which
/// that thread starts only after the drop.
///
/// # Panics
/// If called inside a collector operation (from a hand-written `Trace` impl's `root` or
/// `unroot`), or from a `Trace` impl on a mark worker: the finalizer thread may be waiting for
/// that operation, or for the mark, to end.
///
/// # Example
/// ```
/// tricolor_gc::collect();
/// tricolor_gc::run_finalizers();
/// ```
pub fn run_finalizers() {
    if in_operation() {
        panic!(
            "tricolor: run_finalizers() called inside a collector operation (from a Trace impl?): \
             the finalizers it waits for may wait for this operation"
        );
    }
    match crate::operation::Role::current() {
        crate::operation::Role::Mutator => {}
        // A drop glue run by the sweeper: a finalizer may be waiting for the next cycle, which
        // this thread starts only once the drop returns (as `collect` returns there too).
        crate::operation::Role::Collector => return,
        crate::operation::Role::Marker => panic!(
            "tricolor: run_finalizers() called from a Trace impl on a mark worker: a finalizer \
             may wait for the mark this worker holds up"
        ),
    }
    if IS_FINALIZER.get() {
        while let Ok(a) = FINQ.1.try_recv() {
            run_one(a);
        }
        return;
    }
    let mut g = IDLE_LOCK.lock();
    while PENDING.load(Ordering::Acquire) != 0 {
        IDLE.wait(&mut g);
    }
}

/// Objects with a finalizer that have not been queued yet (a walk of the heap, for tests).
pub(crate) fn registered() -> usize {
    let heap = HEAP.lock();
    let mut n = 0;
    for s in heap.all_spans() {
        // The heap lock keeps the span's tables: `free_span` releases them under it.
        if let Some(f) = s.get().specials.finalizer_bits() {
            n += f
                .known
                .iter()
                .chain(f.unknown)
                .map(|w| w.load(Ordering::Relaxed).count_ones() as usize)
                .sum::<usize>();
        }
    }
    n
}
