//! The pacer's controls, in their own process (they change global settings).

use tricolor::{set_gc_percent, set_memory_limit, stats, Gc};

#[test]
fn gc_percent_and_memory_limit() {
    // GCPERCENT off: no automatic cycle however much is allocated.
    let old = set_gc_percent(-1);
    assert_eq!(old, 100, "default GCPERCENT");
    let before = stats().num_gc;
    let mut keep = Vec::new();
    for i in 0..200_000u64 {
        let g = Gc::new([i; 8]);
        if i % 4 == 0 {
            keep.push(g);
        }
    }
    assert_eq!(stats().num_gc, before, "a cycle ran with GCPERCENT off");
    tricolor::collect(); // still works
    assert_eq!(stats().num_gc, before + 1);
    let live = stats().heap_live;
    assert!(live >= 50_000 * 80, "marked {live} bytes");

    // Back on: the goal is twice the live heap, at least 4 MiB.
    assert_eq!(set_gc_percent(100), -1);
    let goal = stats().next_gc;
    assert!(
        goal >= 2 * live && goal >= 4 << 20,
        "goal {goal} for live {live}"
    );

    // A memory limit lowers the goal below it.
    let limit = live + (8 << 20);
    set_memory_limit(limit);
    let capped = stats().next_gc;
    assert!(
        capped < limit && capped <= goal,
        "goal {capped} not under limit {limit}"
    );
    set_memory_limit(u64::MAX);
    assert!(keep.iter().enumerate().all(|(k, g)| g[7] == 4 * k as u64));
}
