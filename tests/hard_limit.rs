//! The hard memory limit: `Gc::try_new` reports failure instead of growing the heap past it, and
//! succeeds again once a cycle has freed memory. Its own process (it changes a global setting).

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::Counter;
use tricolor_gc::{
    collect, set_hard_memory_limit, stats, AllocFailure, Finalize, Gc, GcMap, GcVec, Trace,
};

#[derive(Trace, Finalize)]
struct Big {
    bytes: [u8; 4000],
    #[gc(ignore)]
    _c: Counter,
}

/// At the limit, `put_new`, `push_new` and `GcMap::put_new` raise the failure as `Gc::new`
/// does, drop the value they were given exactly once, and leave the container as it was.
fn new_in_a_container_fails_cleanly_at_the_limit(old: &Gc<[u8; 4000]>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let big = || Big {
        bytes: [9; 4000],
        _c: Counter(drops.clone()),
    };
    let v: GcVec<Gc<[u8; 4000]>> = GcVec::new();
    v.push(old.clone());
    let bigs: GcVec<Gc<Big>> = GcVec::new();
    let m: GcMap<u32, Gc<Big>> = GcMap::new();
    let fails = |f: &dyn Fn()| {
        let e = catch_unwind(AssertUnwindSafe(f)).expect_err("allocated past the limit");
        let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("hard memory limit"), "{msg}");
    };
    fails(&|| v.put_new(0, [1; 4000]));
    assert!(Gc::ptr_eq(&v.get(0).unwrap(), old), "the old element stays");
    fails(&|| bigs.push_new(big()));
    fails(&|| m.put_new(1, big()));
    assert_eq!(drops.load(Ordering::SeqCst), 2, "each value dropped once");
    assert!(bigs.is_empty() && m.is_empty());
}

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
    match err.cause() {
        AllocFailure::HardLimit {
            limit: l,
            heap_sys,
            requested,
        } => {
            assert_eq!(l as u64, limit);
            assert!(heap_sys as u64 <= limit && heap_sys + requested > l);
        }
        other => panic!("not the hard limit: {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("hard memory limit") && msg.contains(&limit.to_string()),
        "{msg}"
    );
    assert!(
        stats().heap_sys <= limit,
        "the heap grew past the hard limit"
    );
    assert!(kept.len() > 1000, "failed too early: {}", kept.len());
    assert!(
        kept.iter().all(|g| g[3999] == 7),
        "live objects intact at the limit"
    );
    new_in_a_container_fails_cleanly_at_the_limit(&kept[0]);
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
    let err = Gc::try_new(Huge(1)).err().unwrap();
    assert_eq!(
        err.cause(),
        AllocFailure::Unsupported {
            size: 32768, // the object: the value after its header, aligned
            align: 16384
        }
    );
    assert!(err.to_string().contains("aligned to 16384"), "{err}");
}

#[test]
fn child() {
    support::child(&[("system_refuses", system_refuses)]);
}

/// With the address space capped (RLIMIT_AS), the system allocator refuses the heap's next
/// chunk: `try_new` reports that cause, and the heap keeps working for what fits.
fn system_refuses() {
    let small = Gc::new(1u64);
    collect(); // the collector's threads start before the limit, which would refuse their stacks
    let mut kept: Vec<Gc<[u8; 1 << 18]>> = Vec::with_capacity(16384);
    // SAFETY: reads and sets this process's own limit, with valid pointers.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_AS, &mut r), 0);
        let vm = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmSize:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
            .unwrap()
            * 1024;
        r.rlim_cur = vm + (256 << 20);
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &r), 0);
    }
    let err = loop {
        match Gc::try_new([3u8; 1 << 18]) {
            Ok(g) => kept.push(g),
            Err(e) => break e,
        }
        assert!(
            kept.len() < 16384,
            "the address-space limit was never reached"
        );
    };
    assert!(
        matches!(err.cause(), AllocFailure::System { requested } if requested >= 1 << 18),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("system allocator refused"),
        "{err}"
    );
    assert!(kept.iter().all(|g| g[12345] == 3) && *small == 1);
    drop(kept);
    collect();
    assert!(
        Gc::try_new([4u8; 1 << 18]).is_ok(),
        "memory freed by the cycle is reused"
    );
}

#[test]
fn the_system_allocator_refusing_is_its_own_cause() {
    support::passes("system_refuses");
}
