//! Finalizers at the edges of the collector's threads, each scenario in its own process (they
//! block or panic the one finalizer thread): a panic whose payload panics again when dropped,
//! and `run_finalizers()` called by drop glue that the collector's own thread runs in a sweep
//! while a finalizer waits. Found by review (2026-12-07); both hung the program before.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;
use tricolor_gc::{collect, run_finalizers, Finalize, Gc, Trace};

/// Runs `f` on a thread and fails if it has not returned within a minute: the bugs these
/// scenarios guard against hang instead of failing.
fn within_a_minute(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(60)),
        Ok(()),
        "{what} never returned"
    );
}

static RAN: AtomicUsize = AtomicUsize::new(0);

/// A panic payload whose own drop panics.
struct PanicsWhenDropped;
impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("the payload's drop panicked (expected by the test)");
    }
}

#[derive(Trace)]
struct Fin(u8);
impl Finalize for Fin {
    fn finalize(&self) {
        RAN.fetch_add(1, Ordering::SeqCst);
        if self.0 == 0 {
            std::panic::panic_any(PanicsWhenDropped);
        }
    }
}

/// The finalizer thread survives a finalizer whose panic payload panics when dropped (it used
/// to unwind out of the thread, leaving `run_finalizers` waiting for good), and later
/// finalizers still run.
fn payload_drop_panics() {
    within_a_minute("run_finalizers", || {
        for round in 1..=2 {
            for i in 0..4u8 {
                let _ = Gc::new(Fin(i));
            }
            collect();
            run_finalizers();
            assert_eq!(RAN.load(Ordering::SeqCst), 4 * round);
        }
    });
}

static STARTED: AtomicBool = AtomicBool::new(false);
static RELEASED: AtomicBool = AtomicBool::new(false);
static RETURNED: AtomicBool = AtomicBool::new(false);

/// A finalizer that waits for the test.
#[derive(Trace)]
struct Waits;
impl Finalize for Waits {
    fn finalize(&self) {
        STARTED.store(true, Ordering::SeqCst);
        while !RELEASED.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    }
}

/// Drop glue that waits for the finalizers.
struct CallsRunFinalizers;
impl Drop for CallsRunFinalizers {
    fn drop(&mut self) {
        run_finalizers();
        RETURNED.store(true, Ordering::SeqCst);
    }
}

#[derive(Trace, Finalize)]
struct Holder {
    #[gc(ignore)]
    _d: CallsRunFinalizers,
}

/// `run_finalizers()` from drop glue that the collector thread runs while sweeping returns at
/// once, as `collect()` does there: a finalizer may be waiting for the very cycles that thread
/// runs (here it waits for the test, which waits for the cycle).
fn run_finalizers_in_a_sweep() {
    let _ = Gc::new(Waits);
    collect();
    within_a_minute("the finalizer's start", || {
        while !STARTED.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    });
    let _ = Gc::new(Holder {
        _d: CallsRunFinalizers,
    });
    within_a_minute("collect", collect);
    assert!(
        RETURNED.load(Ordering::SeqCst),
        "the sweep did not drop the holder"
    );
    RELEASED.store(true, Ordering::SeqCst);
    run_finalizers();
}

static TWIN_RAN: AtomicUsize = AtomicUsize::new(0);

/// Two types with one name (`type_name` is not unique: two versions of one crate, or two blocks
/// of one function as here). The first teaches the collector that its `finalize` is the
/// trait's default; the second's own finalizer must still run (review finding, 2026-12-07:
/// what was learned was keyed by name, and the second type's objects were never registered).
/// Its override calls a field's default `finalize` first, which must not count as the type's.
fn same_name_types() {
    let quiet = {
        #[derive(Trace)]
        struct Twin(#[allow(dead_code)] u8);
        impl Finalize for Twin {}
        drop(Gc::new(Twin(0)));
        std::any::type_name::<Twin>()
    };
    for _ in 0..2 {
        collect();
        run_finalizers();
    }
    let loud = {
        #[derive(Trace)]
        struct Quiet(#[allow(dead_code)] u8);
        impl Finalize for Quiet {}
        #[derive(Trace)]
        struct Twin(Quiet);
        impl Finalize for Twin {
            fn finalize(&self) {
                self.0.finalize();
                TWIN_RAN.fetch_add(1, Ordering::SeqCst);
            }
        }
        for i in 0..4 {
            drop(Gc::new(Twin(Quiet(i))));
        }
        std::any::type_name::<Twin>()
    };
    assert_eq!(quiet, loud, "premise: one name");
    for _ in 0..3 {
        collect();
        run_finalizers();
    }
    assert_eq!(TWIN_RAN.load(Ordering::SeqCst), 4);
}

#[test]
fn child() {
    support::child(&[
        ("payload_drop_panics", payload_drop_panics),
        ("run_finalizers_in_a_sweep", run_finalizers_in_a_sweep),
        ("same_name_types", same_name_types),
    ]);
}

#[test]
fn a_finalizer_whose_panic_payload_panics_when_dropped_is_contained() {
    support::passes("payload_drop_panics");
}

#[test]
fn run_finalizers_in_drop_glue_run_by_the_sweep_returns() {
    support::passes("run_finalizers_in_a_sweep");
}

#[test]
fn a_type_named_like_another_learns_its_own_finalizer() {
    support::passes("same_name_types");
}
