//! The operation protocol's fences (gc-core's `membarrier` module): asymmetric by default where
//! Linux's `membarrier(2)` works, symmetric under `GCFENCE=symmetric`, and the collector sound in
//! both (each mode runs the same multi-threaded churn in a child process with every mark
//! termination verified and freed slots poisoned).

mod support;

use tricolor_gc::{Gc, GcCell};

/// Four threads building and dropping lists while the main thread forces cycles until they end.
fn churn() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static DONE: AtomicUsize = AtomicUsize::new(0);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rng = support::Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1));
                let mut keep: Vec<Gc<GcCell<Vec<Gc<u64>>>>> = Vec::new();
                for i in 0..100_000u64 {
                    let list = Gc::new(GcCell::new(Vec::new()));
                    for j in 0..4 {
                        list.borrow_mut().push(Gc::new(i * 4 + j));
                    }
                    if keep.len() < 64 {
                        keep.push(list);
                    } else {
                        let k = rng.below(keep.len());
                        keep[k] = list;
                    }
                }
                for list in &keep {
                    let v = list.borrow();
                    assert!(v.len() == 4 && *v[1] == *v[0] + 1, "a list lost an element");
                }
                DONE.fetch_add(1, Ordering::Release);
            })
        })
        .collect();
    let mut cycles = 0;
    while DONE.load(Ordering::Acquire) < 4 || cycles < 20 {
        tricolor_gc::collect();
        cycles += 1;
    }
    for t in threads {
        t.join().unwrap();
    }
}

fn asymmetric() {
    #[cfg(target_os = "linux")]
    assert!(
        tricolor_gc::asymmetric_fences(),
        "membarrier(PRIVATE_EXPEDITED) is missing on this Linux machine"
    );
    churn();
}

fn symmetric() {
    assert!(!tricolor_gc::asymmetric_fences());
    churn();
}

#[test]
fn child() {
    support::child(&[("asymmetric", asymmetric), ("symmetric", symmetric)]);
}

/// The default: mutators enter operations without a hardware fence (on Linux, where CI runs).
#[test]
fn asymmetric_by_default_and_sound() {
    support::passes("asymmetric");
}

/// `GCFENCE=symmetric` brings the mutator's fence back, and the collector stays sound.
#[test]
fn symmetric_on_request_and_sound() {
    support::passes_with("symmetric", &[("GCFENCE", "symmetric")]);
}
