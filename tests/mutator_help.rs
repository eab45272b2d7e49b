//! What mutators do for a cycle when the collector's threads cannot: with the background
//! workers told to leave every root-scan job to the mutators, or the collector thread told to
//! attempt no stop of its own, the cycles complete only if mutators scan all the roots (Go's
//! assists taking `markroot` jobs) or end the mark themselves (Go's `gcMarkDone` on the
//! goroutine that finds no work left): through `safepoint`, through the assists their
//! allocations owe, or while they wait at the goal. Run in child processes with
//! `GCCHECKMARK=1` (every mark termination, a mutator's included, re-marks the heap from the
//! roots and aborts if a reachable object is white) and `GCPOISON=1`; the parent reads from
//! `GCTRACE=2` who did the work.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use support::Rng;
use tricolor_gc::{collect, run_finalizers, safepoint, Finalize, Gc, GcSlot, Trace};

#[derive(Trace, Finalize)]
struct Node {
    id: u64,
    check: u64,
    next: GcSlot<Node>,
}

fn checksum(id: u64) -> u64 {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED
}

fn node(id: u64, next: Option<Gc<Node>>) -> Gc<Node> {
    Gc::new(Node {
        id,
        check: checksum(id),
        next: GcSlot::new(next),
    })
}

/// A chain of `len` nodes below a rooted head: every node but the head is reachable only
/// through the heap.
fn chain(first_id: u64, len: u64) -> Gc<Node> {
    let mut next = None;
    for id in (first_id..first_id + len).rev() {
        next = Some(node(id, next));
    }
    next.unwrap()
}

/// Verifies a chain's checksums; returns its length.
fn verify(head: &Gc<Node>) -> u64 {
    let mut n = head.clone();
    let mut len = 1;
    loop {
        assert_eq!(n.check, checksum(n.id), "corrupt node {}", n.id);
        let Some(next) = n.next.get() else {
            return len;
        };
        n = next;
        len += 1;
    }
}

static FINALIZED: AtomicUsize = AtomicUsize::new(0);

/// An object with a finalizer (see `watched_garbage`).
#[derive(Trace)]
struct Watched {
    child: Gc<Node>,
}

impl Finalize for Watched {
    fn finalize(&self) {
        assert_eq!(verify(&self.child), 4, "a finalizer's referent was freed");
        FINALIZED.fetch_add(1, Ordering::SeqCst);
    }
}

const CHAINS: u64 = 20_000;
const CYCLES: usize = 3;

/// Which of the collector's own steps a scenario leaves to the mutators.
#[derive(Clone, Copy)]
enum Left {
    /// Every root-scan job (`__private::leave_root_scan_to_assists`).
    RootScan,
    /// Every stop that ends a mark (`__private::leave_mark_termination_to_mutators`).
    Termination,
    /// Every span whose sweep runs no user code (`__private::leave_sweep_to_mutators`).
    Sweep,
}

fn leave(what: Left, on: bool) {
    match what {
        Left::RootScan => tricolor_gc::__private::leave_root_scan_to_assists(on),
        Left::Termination => tricolor_gc::__private::leave_mark_termination_to_mutators(on),
        Left::Sweep => tricolor_gc::__private::leave_sweep_to_mutators(on),
    }
}

#[test]
fn child() {
    support::child(&[
        ("roots_safepoint", || forced_cycles(Left::RootScan)),
        ("roots_allocation", || pacer_cycles(Left::RootScan)),
        ("termination_safepoint", || forced_cycles(Left::Termination)),
        ("termination_allocation", || pacer_cycles(Left::Termination)),
        ("sweep_allocation", || pacer_cycles(Left::Sweep)),
        ("born_after_the_scan_few", || born_after_the_scan(100)),
        ("born_after_the_scan_many", || born_after_the_scan(2_000)),
    ]);
}

/// `n` objects born rooted while the mark is still on but after the root scan has read their
/// span (it found no root there, so its flag stays clear): only the flag their thread's mcache
/// sets when it gives the span back keeps them roots for the next scans (`protocol::roots`,
/// "Births"). 100 fit the cached span (a 16-byte slot: 512 per span), given back at mark
/// termination; 2,000 fill it and the next ones, given back when full, during the mark.
/// Their values have drop glue, so a sweep of one the next scan missed aborts on its root
/// count, and GCCHECKMARK reports it white first.
fn born_after_the_scan(n: u64) {
    // A cached span of this class, holding no root.
    for i in 0..64u64 {
        drop(Gc::new(Box::new(i)));
    }
    leave(Left::RootScan, true);
    leave(Left::Termination, true);
    let (collector, done) = collect_in_a_thread();
    // The collector thread marks and waits for this thread to scan the roots and end the mark.
    while !tricolor_gc::__private::run_root_scan() {
        std::thread::yield_now();
    }
    let kept: Vec<Gc<Box<u64>>> = (0..n).map(|i| Gc::new(Box::new(i * 7))).collect();
    while !done.load(Ordering::Acquire) {
        safepoint();
    }
    collector.join().unwrap();
    leave(Left::RootScan, false);
    leave(Left::Termination, false);
    for _ in 0..3 {
        collect();
    }
    assert!(kept
        .iter()
        .enumerate()
        .all(|(i, g)| **g == Box::new(i as u64 * 7)));
}

#[test]
fn objects_born_after_the_root_scan_stay_roots() {
    support::passes("born_after_the_scan_few");
    support::passes("born_after_the_scan_many");
}

/// Objects with a finalizer of a type already known to have one (a first object finalized
/// makes it known), dropped: the root scan's jobs mark what they reach (the spans' finalizer
/// specials), which their finalizers then check.
fn watched_garbage(n: u64) {
    let _ = Gc::new(Watched {
        child: chain(2_000_000, 4),
    });
    collect();
    run_finalizers();
    assert_eq!(FINALIZED.swap(0, Ordering::SeqCst), 1);
    for i in 0..n {
        let _ = Gc::new(Watched {
            child: chain(1_000_000 + i * 4, 4),
        });
    }
}

/// Moves heap-only tails between rooted heads (the barrier's case) and sometimes adds a chain.
fn mutate(heads: &mut Vec<Gc<Node>>, rng: &mut Rng, next_id: &mut u64) {
    for _ in 0..64 {
        let i = rng.below(heads.len());
        let j = rng.below(heads.len());
        if i == j {
            continue;
        }
        let tail = heads[i].next.take();
        let old = heads[j].next.take();
        heads[j].next.set(tail);
        heads[i].next.set(old);
        if rng.below(8) == 0 {
            heads.push(chain(*next_id, 3));
            *next_id += 3;
        }
    }
}

/// Every chain intact, and each finalizer ran with its referent alive.
fn check(heads: &[Gc<Node>], next_id: u64, watched: u64) {
    let nodes: u64 = heads.iter().map(verify).sum();
    let grown = (next_id - FIRST_GROWN) / 3;
    assert_eq!(nodes, CHAINS * 4 + grown * 3, "a node was lost");
    collect();
    run_finalizers();
    assert_eq!(FINALIZED.load(Ordering::SeqCst), watched as usize);
}

const FIRST_GROWN: u64 = 10_000_000;
const BALLAST: u64 = 500_000;
const WATCHED: u64 = 1_000;

/// A thread that runs one forced cycle, and the flag it sets once the cycle is over.
fn collect_in_a_thread() -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let t = std::thread::spawn(move || {
        collect();
        d.store(true, Ordering::Release);
    });
    (t, done)
}

/// Forced cycles, `what` left to a thread that calls `safepoint` until each is over.
fn forced_cycles(what: Left) {
    let mut rng = Rng(0x400);
    let mut heads: Vec<Gc<Node>> = (0..CHAINS).map(|i| chain(i * 4, 4)).collect();
    watched_garbage(WATCHED);
    leave(what, true);
    let start = tricolor_gc::stats().num_gc;
    println!("hooked cycles {}..={}", start + 1, start + CYCLES as u64);
    let mut next_id = FIRST_GROWN;
    for _ in 0..CYCLES {
        let (collector, done) = collect_in_a_thread();
        while !done.load(Ordering::Acquire) {
            safepoint();
            mutate(&mut heads, &mut rng, &mut next_id);
        }
        collector.join().unwrap();
    }
    leave(what, false);
    check(&heads, next_id, WATCHED);
}

/// Cycles the pacer starts, `what` left to the thread that allocates: it only allocates and
/// mutates, never calls `safepoint`, until `CYCLES` cycles are over. Its assists take root
/// jobs, and so does a wait at the goal if the heap gets there first (`mgc::wait_for`); a mark
/// left to it ends when it waits at the goal and finds the mark done.
fn pacer_cycles(what: Left) {
    let mut rng = Rng(0x401);
    let mut heads: Vec<Gc<Node>> = (0..CHAINS).map(|i| chain(i * 4, 4)).collect();
    // Ballast, so that the goal is tens of megabytes: a thread reaches a wait's threshold
    // (half-way from the goal to the hard goal) before its assists take a job only if the
    // collector thread is kept from starting the scan for all that allocation, in every
    // checked cycle (`by_assists` in the parent).
    let ballast: Vec<Gc<[u64; 6]>> = (0..BALLAST).map(|i| Gc::new([i; 6])).collect();
    watched_garbage(WATCHED);
    leave(what, true);
    // A cycle the pacer started before the hook may still be marking: the cycles checked are
    // the ones after the next.
    let start = tricolor_gc::stats().num_gc;
    println!(
        "hooked cycles {}..={}",
        start + 2,
        start + 1 + CYCLES as u64
    );
    let mut next_id = FIRST_GROWN;
    let mut garbage = 0u64;
    while tricolor_gc::stats().num_gc < start + 1 + CYCLES as u64 {
        mutate(&mut heads, &mut rng, &mut next_id);
        for _ in 0..256 {
            garbage += Gc::new([garbage; 4])[0] & 1;
        }
    }
    leave(what, false);
    std::hint::black_box(garbage);
    assert!(ballast.iter().enumerate().all(|(i, b)| b[5] == i as u64));

    check(&heads, next_id, WATCHED);
}

/// Runs `scenario` with `GCTRACE=2`; returns the `GCTRACE=2` detail lines of the cycles it
/// names ("hooked cycles a..=b" on stdout), checking there are `CYCLES` of them.
fn hooked_cycles(scenario: &str, env: &[(&str, &str)]) -> Vec<String> {
    let mut all = vec![("GCTRACE", "2")];
    all.extend_from_slice(env);
    let out = support::passes_with(scenario, &all);
    let (stdout, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let range = stdout
        .lines()
        .find_map(|l| l.split_once("hooked cycles ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no hooked cycles in {stdout}"));
    let (a, b) = range.split_once("..=").unwrap();
    let hooked = a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap();
    let lines: Vec<String> = err
        .lines()
        .filter(|l| l.contains(" detail: ") && hooked.contains(&(field(l, "gc ") as u64)))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), CYCLES, "{err}");
    lines
}

/// The number after `key` in `line`.
fn field(line: &str, key: &str) -> usize {
    let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// In each cycle the mutator ran every one of the root scan's jobs (16 of the spans it visits
/// each), as assists or while waiting at the goal, and assists ran some.
fn mutators_ran_every_job(scenario: &str, gc_percent: &str) {
    let mut by_assists = 0;
    for d in hooked_cycles(scenario, &[("GCPERCENT", gc_percent)]) {
        let assists = field(&d, "root_jobs_assist=");
        let waiting = field(&d, "root_jobs_waiting=");
        let spans = field(&d, "root_spans=");
        assert!(spans > 0, "{d}");
        assert_eq!(
            assists + waiting,
            spans.div_ceil(16),
            "the mutator ran every job: {d}"
        );
        by_assists += assists;
    }
    // Jobs run by assists (from `safepoint`, or inside an allocation between its object's
    // birth and its publication), not only by a thread waiting at the goal: once the scan is
    // published, every chunk allocated past the trigger owes an assist, and only root jobs
    // can pay it while the scan runs; a wait comes first only if the heap passed a wait's
    // threshold before the scan was published (see the ballast).
    assert!(by_assists > 0, "no job ran in an assist");
}

/// In each cycle a mutator, not the collector thread, ended the mark.
fn mutators_ended_every_mark(scenario: &str, env: &[(&str, &str)]) {
    for d in hooked_cycles(scenario, env) {
        assert!(d.contains(" termination=mutator "), "{d}");
    }
}

#[test]
fn a_thread_calling_safepoint_can_scan_every_root() {
    mutators_ran_every_job("roots_safepoint", "off");
}

#[test]
fn an_allocating_thread_can_scan_every_root() {
    mutators_ran_every_job("roots_allocation", "100");
}

#[test]
fn a_thread_calling_safepoint_can_end_every_mark() {
    mutators_ended_every_mark("termination_safepoint", &[("GCPERCENT", "off")]);
}

/// With two mark workers, a stop may be attempted only once both have left their drain
/// (`protocol::drain`). This runs that path in the runtime; the race itself (a worker that takes
/// new gray work after the other saw all idle) is too narrow to hit here, and is loom's
/// (`a_stop_attempted_when_one_worker_saw_all_idle_misses_a_local_gray_object`).
#[test]
fn a_thread_calling_safepoint_can_end_every_mark_beside_two_workers() {
    mutators_ended_every_mark(
        "termination_safepoint",
        &[("GCPERCENT", "off"), ("GCMARKPROCS", "2")],
    );
}

#[test]
fn an_allocating_thread_waiting_at_the_goal_can_end_every_mark() {
    mutators_ended_every_mark("termination_allocation", &[("GCPERCENT", "100")]);
}

/// In each cycle the mutator swept every span whose sweep runs no user code (the collector
/// thread swept none: this program's objects have no drop glue), for its sweep credit or while
/// waiting at the hard goal, and sweep credit swept some.
fn mutators_swept_every_span(scenario: &str) {
    let mut by_credit = 0;
    for d in hooked_cycles(scenario, &[("GCPERCENT", "100")]) {
        assert_eq!(field(&d, "swept bg="), 0, "{d}");
        assert!(field(&d, "credit=") + field(&d, "waiting=") > 0, "{d}");
        by_credit += field(&d, "credit=");
    }
    assert!(by_credit > 0, "no span swept for sweep credit");
}

#[test]
fn an_allocating_thread_can_sweep_every_span() {
    mutators_swept_every_span("sweep_allocation");
}
