//! Finalizers with Go's `SetFinalizer` semantics: an object whose type has a finalizer is
//! registered at allocation; its referents are treated as roots while it waits (so everything it
//! reaches is alive when `finalize` runs); at mark termination an unmarked registered object is
//! marked (kept for this cycle), given a root and queued; the finalizer thread runs `finalize`
//! once, catching panics, and drops the root; a later cycle frees the object if it is still
//! unreachable. Never "mark again after finalizing": nothing reachable from a finalized object
//! is freed before the object itself.

use crate::barrier::release_root;
use crate::header::header;
use crate::mark::Tracer;
use crate::mheap::span_of;
use crossbeam_channel::{unbounded, Receiver, Sender};
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

static REGISTERED: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static PENDING: Mutex<usize> = Mutex::new(0);
static IDLE: Condvar = Condvar::new();
pub(crate) static QUEUED_TOTAL: AtomicUsize = AtomicUsize::new(0);

static QUEUE: LazyLock<Sender<usize>> = LazyLock::new(|| {
    let (tx, rx) = unbounded();
    std::thread::Builder::new()
        .name("tricolor-finalizer".into())
        .spawn(move || run(rx))
        .expect("tricolor: cannot start the finalizer thread");
    tx
});

pub(crate) fn register(addr: usize) {
    REGISTERED.lock().push(addr);
}

/// Marks what waiting objects reach, without marking the objects themselves.
pub(crate) fn trace_referents(t: &mut Tracer) {
    let r = REGISTERED.lock();
    for &a in r.iter() {
        // SAFETY: registered objects are not freed while registered.
        unsafe {
            let h = header(a);
            (h.vtable.trace)(h, t);
        }
    }
}

/// Mark termination: queues every registered object left unmarked. Returns how many.
pub(crate) fn queue_dead() -> usize {
    let mut dead = Vec::new();
    REGISTERED.lock().retain(|&a| {
        // SAFETY: registered objects are alive.
        let span = unsafe { span_of(a) };
        let idx = span.index_of(a);
        if span.is_marked(idx) {
            return true;
        }
        // Keep it (and, through the referents traced as roots, all it reaches) this cycle.
        span.try_mark(idx);
        crate::mark::note_marked(span.elemsize);
        // SAFETY: as above.
        unsafe { header(a) }.inc_roots();
        dead.push(a);
        false
    });
    if !dead.is_empty() {
        *PENDING.lock() += dead.len();
        QUEUED_TOTAL.fetch_add(dead.len(), Ordering::Relaxed);
        for a in &dead {
            let _ = QUEUE.send(*a);
        }
    }
    dead.len()
}

fn run(rx: Receiver<usize>) {
    for a in rx {
        // SAFETY: the queue holds a root on the object.
        let h = unsafe { header(a) };
        let f = h.vtable.finalize;
        // SAFETY: the object is alive (we hold its root) and is finalized once: it left the
        // registry when it was queued.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { f(h) }));
        if r.is_err() {
            crate::report_once(&format!(
                "tricolor: a finalizer of {} panicked; the panic was caught and other finalizers go on",
                h.type_name()
            ));
        }
        release_root(h);
        let mut p = PENDING.lock();
        *p -= 1;
        if *p == 0 {
            IDLE.notify_all();
        }
    }
}

/// Blocks until every finalizer queued so far has run.
///
/// # Example
/// ```
/// tricolor::collect();
/// tricolor::run_finalizers();
/// ```
pub fn run_finalizers() {
    let mut p = PENDING.lock();
    while *p != 0 {
        IDLE.wait(&mut p);
    }
}

/// Objects with a finalizer that have not been queued yet.
pub(crate) fn registered() -> usize {
    REGISTERED.lock().len()
}
