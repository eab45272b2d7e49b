//! The scavenger (issue #19): a heap that grew to 1 GiB and shrank to 10 MiB live gives the
//! memory of its free pages back, so the process's resident set follows the live heap within a
//! few cycles; pages given back are reused correctly afterwards.

mod support;

use tricolor_gc::Gc;

/// The process's resident set now, in MiB (Linux).
fn rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? >> 10)
}

type Kib = [u64; 127]; // with its header, one 1 KiB slot

fn grow_and_shrink() {
    let n = 1 << 20; // 1 GiB of objects
    let mut all: Vec<Gc<Kib>> = (0..n as u64).map(|i| Gc::new([i; 127])).collect();
    all.truncate(n / 100); // 10 MiB live, allocated first
    for _ in 0..3 {
        tricolor_gc::collect();
    }
    let s = tricolor_gc::stats();
    let rss = rss_mib();
    println!(
        "heap_sys {} MiB, released {} MiB, RSS {rss:?} MiB",
        s.heap_sys >> 20,
        s.heap_released >> 20
    );
    assert!(s.heap_released > 0, "nothing was released");
    if let Some(rss) = rss {
        assert!(rss < 100, "RSS {rss} MiB for 10 MiB live");
    }
    // The released pages come back as fresh memory: fill them and check every object.
    let more: Vec<Gc<Kib>> = (0..(n / 4) as u64)
        .map(|i| Gc::new([i ^ 0xA5; 127]))
        .collect();
    tricolor_gc::collect();
    for (i, g) in all.iter().enumerate() {
        assert!(g.iter().all(|&x| x == i as u64), "a live object changed");
    }
    for (i, g) in more.iter().enumerate() {
        assert!(
            g.iter().all(|&x| x == i as u64 ^ 0xA5),
            "a new object changed"
        );
    }
    let after = tricolor_gc::stats();
    assert!(after.heap_released <= after.heap_sys);
}

#[test]
fn child() {
    support::child(&[("shrink", grow_and_shrink)]);
}

#[test]
fn a_heap_that_shrank_gives_its_memory_back() {
    // No checkmark: it would re-mark the gigabyte inside every stop of the growth, which is not
    // what this measures (poisoning stays on: every freed slot is written before its page goes).
    support::passes_with("shrink", &[("GCCHECKMARK", "0")]);
}
