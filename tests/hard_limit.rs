//! The hard memory limit: `Gc::try_new` reports failure instead of growing the heap past it, and
//! succeeds again once a cycle has freed memory. Its own process (it changes a global setting).

use tricolor_gc::{collect, set_hard_memory_limit, stats, AllocError, Gc};

#[test]
fn try_new_fails_at_the_hard_limit_and_recovers_after_a_cycle() {
    let _warm = Gc::new(0u8);
    let limit = stats().heap_sys + (64 << 20);
    set_hard_memory_limit(limit);
    let mut kept = Vec::new();
    let err = loop {
        match Gc::try_new([7u8; 4000]) {
            Ok(g) => kept.push(g),
            Err(e) => break e,
        }
        assert!(kept.len() < 1_000_000, "the limit was never reached");
    };
    assert_eq!(err, AllocError);
    assert!(
        stats().heap_sys <= limit,
        "the heap grew past the hard limit"
    );
    assert!(kept.len() > 1000, "failed too early: {}", kept.len());
    assert!(
        kept.iter().all(|g| g[3999] == 7),
        "live objects intact at the limit"
    );
    // Free everything, collect, and allocation works again under the same limit.
    let n = kept.len();
    drop(kept);
    collect();
    let again: Vec<Gc<[u8; 4000]>> = (0..n / 2)
        .map(|_| Gc::try_new([1u8; 4000]).expect("memory freed by the cycle"))
        .collect();
    assert_eq!(again.len(), n / 2);
    set_hard_memory_limit(u64::MAX);
}

#[test]
fn unsupported_alignment_is_an_error_not_ub() {
    #[repr(align(16384))]
    struct Huge(#[allow(dead_code)] u8);
    impl tricolor_gc::Finalize for Huge {}
    // SAFETY: holds no Gc.
    unsafe impl tricolor_gc::Trace for Huge {
        tricolor_gc::unsafe_empty_trace!();
    }
    assert_eq!(Gc::try_new(Huge(1)).err(), Some(AllocError));
}
