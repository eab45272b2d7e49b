//! Finalizers with Go's `SetFinalizer` semantics: an object whose type has a finalizer is
//! registered at allocation; its referents are treated as roots while it waits (so everything it
//! reaches is alive when `finalize` runs); at mark termination an unmarked registered object is
//! marked (kept for this cycle), given a root and queued; the finalizer thread runs `finalize`
//! once, catching panics, and drops the root; a later cycle frees the object if it is still
//! unreachable. Never "mark again after finalizing": nothing reachable from a finalized object
//! is freed before the object itself.
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
//! cycle through them can die. An unknown object found unmarked at mark termination is
//! *resurrected*: shaded, its weak references cleared (as Go clears them when it queues a
//! finalizer), and marking resumes (the stop is called off, as `protocol::try_stop` does) until
//! everything it reaches is marked too. Then it is queued like any other, so its `finalize` still
//! sees everything it can reach. After that first finalization the type is known: a type whose
//! `finalize` is the default is never registered again and its remaining registrations are
//! dropped at the start of the next cycle (they become ordinary objects); a type that overrides
//! it gets Go's semantics from then on. The price of not knowing is paid once per type: its
//! first dead objects live one cycle longer and cost one more round of marking.

use crate::barrier::{release_root, shade};
use crate::header::{header, VTable};
use crate::locks::{Condvar, Mutex, RwLock};
use crate::mgcwork::WORK;
use crate::mheap::span_of;
use crate::operation::{in_operation, COLLECTOR_STACK_SIZE};
use crate::trace::Tracer;
use crossbeam_channel::{unbounded, Receiver, Sender};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

/// A registered object: its address, its type, and whether the type is known to override
/// `finalize` (else unknown, see the module docs).
struct Entry {
    addr: usize,
    vt: &'static VTable,
    known: bool,
}

/// Registered objects. Lock order (lib.rs): after `RESURRECTED`, before `LEARNED`,
/// `weakhandle::TABLE` and `mgcwork::GRAY`.
static REGISTERED: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
/// Unknown objects resurrected in this cycle's stop, queued at its end. Lock order: before
/// `REGISTERED`.
static RESURRECTED: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// Type name → whether `finalize` is overridden, for types with a hand-written `Finalize`.
/// Lock order: after `REGISTERED`; nothing is locked while it is held.
static LEARNED: LazyLock<RwLock<HashMap<&'static str, bool>>> = LazyLock::new(Default::default);
/// Finalizers queued and not yet run. Lock order: a leaf.
static PENDING: Mutex<usize> = Mutex::new(0);
static IDLE: Condvar = Condvar::new();
pub(crate) static QUEUED_TOTAL: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static IS_FINALIZER: Cell<bool> = const { Cell::new(false) };
}

static QUEUE: LazyLock<(Sender<usize>, Receiver<usize>)> = LazyLock::new(|| {
    let (tx, rx) = unbounded();
    let thread_rx = rx.clone();
    std::thread::Builder::new()
        .name("tricolor-finalizer".into())
        // Finalizers may recurse through deep structures as freely as drop glue does.
        .stack_size(COLLECTOR_STACK_SIZE)
        .spawn(move || {
            IS_FINALIZER.set(true);
            for a in thread_rx {
                run_one(a);
            }
        })
        .expect("tricolor: cannot start the finalizer thread");
    (tx, rx)
});

/// What is known of a type's `finalize` (`None`: not yet learned).
fn learned(vt: &VTable) -> Option<bool> {
    LEARNED.read().get((vt.type_name)()).copied()
}

/// Registers an object of a type whose `has_finalizer()` is true, unless its type is known not
/// to override `finalize`. Called in `Gc::new`'s operation, after the object is published.
pub(crate) fn register(addr: usize, vt: &'static VTable) {
    let known = match learned(vt) {
        Some(false) => return,
        Some(true) => true,
        None => false,
    };
    REGISTERED.lock().push(Entry { addr, vt, known });
}

/// The root scan's part: marks what waiting objects of known types reach, without marking the
/// objects themselves; entries whose type was learned since they were registered take their
/// type's side now (dropped if it has no finalizer, known if it has one).
pub(crate) fn trace_referents(t: &mut Tracer) {
    let mut r = REGISTERED.lock();
    r.retain_mut(|e| {
        if !e.known {
            match learned(e.vt) {
                Some(false) => return false,
                Some(true) => e.known = true,
                None => return true,
            }
        }
        // SAFETY: registered objects are not freed while registered.
        unsafe { crate::mark::trace_object(e.addr, t) };
        true
    });
}

/// The referents of the waiting objects of known types, for the verification pass (which must
/// not change the registry).
pub(crate) fn trace_known_referents(t: &mut Tracer) {
    for e in REGISTERED.lock().iter().filter(|e| e.known) {
        // SAFETY: registered objects are not freed while registered.
        unsafe { crate::mark::trace_object(e.addr, t) };
    }
}

/// In mark termination's stop: shades every unmarked object of an unknown type, clears its weak
/// references and sets it aside to be queued. Returns how many; the caller resumes marking when
/// there are any, so that everything they reach is marked before anything is freed.
pub(crate) fn resurrect_unknown_dead() -> usize {
    let mut out = RESURRECTED.lock();
    let before = out.len();
    REGISTERED.lock().retain(|e| {
        if e.known {
            return true;
        }
        // SAFETY: registered objects are alive (not freed while registered).
        let span = unsafe { span_of(e.addr) };
        if span.is_marked(span.index_of(e.addr)) {
            return true;
        }
        crate::weakhandle::clear_one(e.addr);
        shade(e.addr as *const _);
        out.push(e.addr);
        false
    });
    out.len() - before
}

/// Mark termination: queues every registered object of a known type left unmarked, and the
/// objects resurrected in this cycle. Returns how many.
pub(crate) fn queue_dead() -> usize {
    let mut dead = std::mem::take(&mut *RESURRECTED.lock());
    REGISTERED.lock().retain(|e| {
        // SAFETY: registered objects are alive.
        let span = unsafe { span_of(e.addr) };
        let idx = span.index_of(e.addr);
        if !e.known || span.is_marked(idx) {
            return true;
        }
        // Keep it (and, through the referents traced as roots, all it reaches) this cycle.
        span.try_mark(idx);
        WORK.note_marked(span.elemsize);
        dead.push(e.addr);
        false
    });
    for &a in &dead {
        // SAFETY: the object is alive (marked this cycle); the queue holds this root.
        unsafe { header(a) }.inc_roots();
    }
    if !dead.is_empty() {
        *PENDING.lock() += dead.len();
        QUEUED_TOTAL.fetch_add(dead.len(), Ordering::Relaxed);
        for a in &dead {
            let _ = QUEUE.0.send(*a);
        }
    }
    dead.len()
}

/// Runs one queued finalizer and learns its type's answer.
fn run_one(a: usize) {
    // SAFETY: the queue holds a root on the object.
    let h = unsafe { header(a) };
    let name = (h.vtable.type_name)();
    let f = h.vtable.finalize;
    let mut panicked = false;
    let overridden = crate::trace::finalize_overrides(name, || {
        // SAFETY: the object is alive (we hold its root) and is finalized once: it left the
        // registry when it was queued.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { f(h) }));
        panicked = r.is_err();
    });
    if panicked {
        crate::throw::report_once(&format!(
            "tricolor: a finalizer of {name} panicked; the panic was caught and other finalizers go on"
        ));
    }
    if learned(h.vtable).is_none() {
        LEARNED.write().insert(name, overridden);
    }
    release_root(h);
    let mut p = PENDING.lock();
    *p -= 1;
    if *p == 0 {
        IDLE.notify_all();
    }
}

/// Blocks until every finalizer queued so far has run. Called from a finalizer, it runs the
/// queued finalizers itself (the finalizer thread cannot wait for itself) and returns when none
/// is left but the ones on its own stack.
///
/// # Panics
/// If called inside a collector operation (from a hand-written `Trace` impl's `root` or
/// `unroot`): the finalizer thread may be waiting for that operation to end.
///
/// # Example
/// ```
/// tricolor::collect();
/// tricolor::run_finalizers();
/// ```
pub fn run_finalizers() {
    if in_operation() {
        panic!(
            "tricolor: run_finalizers() called inside a collector operation (from a Trace impl?): \
             the finalizers it waits for may wait for this operation"
        );
    }
    if IS_FINALIZER.get() {
        while let Ok(a) = QUEUE.1.try_recv() {
            run_one(a);
        }
        return;
    }
    let mut p = PENDING.lock();
    while *p != 0 {
        IDLE.wait(&mut p);
    }
}

/// Objects with a finalizer that have not been queued yet.
pub(crate) fn registered() -> usize {
    REGISTERED.lock().len()
}
