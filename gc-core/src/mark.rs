//! Concurrent marking (Go's `mgcmark.go`): the tracer's marking, the background workers, assists,
//! the root scan and the checkmark verification. The gray queue itself is `mgcwork`.
//!
//! The workers are a rayon pool sized like Go's dedicated workers (25% of the cores, at least
//! one); rayon's data parallelism also runs the root scan over the span list. The scheme is work
//! sharing rather than rayon's task stealing because allocating threads (assists) and the write
//! barrier must be able to both take and give gray objects, and they are not rayon tasks.

use crate::header::{header, prefetch, Header};
use crate::mgcwork::{self, HUNGRY, SHARE_AT, WORK};
use crate::mgcwork::{BARE_MAP, EPHEMERON_KEY, GRAY_MAP_SHIFT};
use crate::mheap::{span_of, HEAP};
use crate::operation::{Role, COLLECTOR_STACK_SIZE, REGISTRY};
use crate::protocol::{drain, ScanGate};
use crate::trace::{Tracer, TracerMode};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::LazyLock;

/// How often (in objects scanned) a marker checks whether another one is waiting for work.
const BALANCE_EVERY: usize = 64;

impl Tracer {
    /// A tracer that marks, for a marker thread, an assist or the barrier.
    pub(crate) fn marker() -> Tracer {
        Tracer {
            stack: Vec::new(),
            mode: TracerMode::Mark { marked: 0 },
            gray_scan: false,
        }
    }

    /// A tracer that only records what it reaches, for the checkmark verification.
    fn checker() -> Tracer {
        Tracer {
            stack: Vec::new(),
            mode: TracerMode::Check {
                seen: HashSet::new(),
            },
            gray_scan: false,
        }
    }

    /// A tracer for the resurrection pass (module `finalizer`).
    pub(crate) fn resurrector() -> Tracer {
        Tracer {
            stack: Vec::new(),
            mode: TracerMode::Resurrect { marked: 0 },
            gray_scan: false,
        }
    }

    /// Reports an edge to the object whose header is at `h`.
    #[inline]
    pub(crate) fn edge(&mut self, h: *const Header) {
        match &mut self.mode {
            TracerMode::Mark { marked } => {
                // SAFETY: `h` comes from a handle inside a reachable object or a root, so it is
                // a live object; nothing is freed while marking.
                let span = unsafe { span_of(h as usize) };
                let idx = span.index_of(h as usize);
                if span.try_mark(idx) {
                    *marked += span.elemsize;
                    if !span.class.noscan() {
                        self.stack.push(gray_entry(span, h as usize));
                    }
                    if span.specials.is_ephemeron_key(idx) {
                        self.stack.push(h as usize | EPHEMERON_KEY);
                    }
                }
            }
            TracerMode::Check { seen } => {
                if seen.insert(h as usize) {
                    self.stack.push(h as usize);
                    // SAFETY: as for `Mark` (the verification runs inside the stop).
                    let span = unsafe { span_of(h as usize) };
                    if span.specials.is_ephemeron_key(span.index_of(h as usize)) {
                        self.stack.push(h as usize | EPHEMERON_KEY);
                    }
                }
            }
            TracerMode::Record { edges } => edges.push(h as usize),
            TracerMode::Resurrect { marked } => {
                // SAFETY: as for `Mark`.
                let span = unsafe { span_of(h as usize) };
                let idx = span.index_of(h as usize);
                // Only this tracer marks white objects now (every object a mutator can reach
                // is marked), so the check and the mark do not race; the handle is cleared
                // before the bit is set (`protocol::weak::alive_while_resurrecting`).
                if !span.is_marked(idx) {
                    // SAFETY: as above, `h` is an allocated object, and nothing is freed now.
                    span.specials.clear_weak(idx, unsafe { &*h });
                    // Its ephemerons go as its weak references do: the values were not marked
                    // through it, and the resurrected key must not reach them next cycle.
                    if span.specials.is_ephemeron_key(idx) {
                        let w = idx / 64;
                        span.specials.clear_ephemeron_keys(w, 1u64 << (idx % 64));
                        crate::mspecial::drop_ephemerons(&[h as usize]);
                    }
                    span.try_mark(idx);
                    *marked += span.elemsize;
                    if !span.class.noscan() {
                        self.stack.push(h as usize);
                    }
                }
            }
        }
    }

    /// Reports the ephemeron values of the marked key `h` as edges: the key keeps them alive.
    fn visit_ephemerons(&mut self, h: usize) {
        let values: Vec<usize> = match crate::mspecial::EPHEMERONS.lock().as_ref() {
            Some(map) => map
                .get(&h)
                .map_or_else(Vec::new, |v| v.iter().map(|&(_, v)| v).collect()),
            None => Vec::new(),
        };
        for v in values {
            self.edge(v as *const Header);
        }
    }

    /// Scans everything reachable from this tracer's stack, on the calling thread.
    pub(crate) fn drain_all(&mut self) {
        self.drain_local(usize::MAX);
        if let TracerMode::Resurrect { marked } = &mut self.mode {
            WORK.note_marked(std::mem::take(marked));
        }
    }

    /// Scans gray objects until the local stack is empty, sharing work when it grows; returns
    /// the number of objects scanned. `limit` bounds the work (assists).
    ///
    /// Objects pass through a small FIFO between the stack and the scan, and each is prefetched
    /// as it enters, so that up to `AHEAD` cache misses are in flight while earlier objects are
    /// scanned. On a heap laid out at random every object is a miss, and without the FIFO the
    /// marker waited for each in turn. Measured on the mark-rate tree (2^22 nodes, one worker):
    /// shuffled 377 → 130 ms, but ordered 31 → 37 ms (the FIFO loosens the depth-first order
    /// that walked memory forwards); 16 ahead gave 108 and 45 ms, 4 gave 160 and 35 ms.
    fn drain_local(&mut self, limit: usize) -> usize {
        const AHEAD: usize = 8;
        let mut fifo = [0usize; AHEAD];
        let (mut head, mut len) = (0, 0);
        let mut n = 0;
        while n < limit {
            while len < AHEAD {
                let Some(h) = self.stack.pop() else { break };
                if h & EPHEMERON_KEY != 0 {
                    // Counted as a scan, so that the stop's late-drain limit and an assist's
                    // share bound this work too.
                    self.visit_ephemerons(h & !EPHEMERON_KEY);
                    n += 1;
                    if n >= limit {
                        break;
                    }
                    continue;
                }
                prefetch(h & GRAY_ADDR);
                fifo[(head + len) % AHEAD] = h;
                len += 1;
            }
            if len == 0 {
                break;
            }
            let h = fifo[head];
            head = (head + 1) % AHEAD;
            len -= 1;
            // The one scan of this object this cycle (for chunked containers).
            self.gray_scan = !matches!(self.mode, TracerMode::Check { .. });
            // SAFETY: gray objects are live (marked) objects.
            unsafe { trace_object(h, self) };
            self.gray_scan = false;
            n += 1;
            if !matches!(self.mode, TracerMode::Mark { .. }) {
                continue;
            }
            if self.stack.len() > SHARE_AT {
                mgcwork::share_above(&mut self.stack, SHARE_AT / 2);
            } else if n % BALANCE_EVERY == 0
                && self.stack.len() >= 2
                && HUNGRY.load(Ordering::Relaxed) > 0
                && mgcwork::gray_empty()
            {
                let half = self.stack.len() / 2;
                mgcwork::share(&mut self.stack, ..half);
            }
        }
        // Objects taken into the FIFO but not scanned (the limit was reached) are still gray:
        // they go back on the stack, or they would never be scanned.
        for k in 0..len {
            self.stack.push(fifo[(head + k) % AHEAD]);
        }
        n
    }

    /// Publishes what this tracer marked: gray objects to the shared queue, bytes to the count.
    pub(crate) fn flush(&mut self) {
        if let TracerMode::Mark { marked } = &mut self.mode {
            WORK.note_marked(std::mem::take(marked));
            mgcwork::share_above(&mut self.stack, 0);
        }
    }
}

/// A marking tracer dropped with gray objects on its stack (a `Trace` impl that panicked on a
/// mutator's thread, in `GcCell::borrow_mut`'s shade) hands them to the shared queue: they are
/// marked already, and a marked object that nobody scans would hide its children.
impl Drop for Tracer {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Calls the object's `trace`, aborting the process if it panics: the tracer's gray objects are
/// marked but not yet scanned, so unwinding past them would leave children unmarked, and a
/// collector thread that died would leave the phase at MARK for good. Go throws in the same
/// places. A `trace` must not panic (the `Trace` contract); this makes a broken one loud.
///
/// # Safety
/// `h` is a live object (gray, registered, or a root).
#[inline(always)]
pub(crate) unsafe fn trace_object(h: usize, t: &mut Tracer) {
    if h & BARE_MAP != 0 {
        // SAFETY: forwarded; the entry carries the object's own map (`gray_entry`).
        unsafe { trace_words(h & GRAY_ADDR, (h >> GRAY_MAP_SHIFT) as u64, t) };
        return;
    }
    // SAFETY: a live object's address maps to its span.
    let span = unsafe { span_of(h) };
    if span.class.is_bare() {
        if !span.class.noscan() {
            // SAFETY: forwarded; the span is the object's.
            unsafe { trace_words(h, span.ptr_map_at(h), t) };
        }
        return;
    }
    struct AbortOnUnwind(usize);
    impl Drop for AbortOnUnwind {
        fn drop(&mut self) {
            // SAFETY: the object is alive (caller) and has a header (one without is traced
            // above, by its map); only its type name is read.
            let name = unsafe { header(self.0).type_name() };
            crate::throw::throw(&format!(
                "the Trace impl of {name} panicked while the collector traced it; a trace must \
                 not panic (the heap cannot be marked without it)"
            ));
        }
    }
    let guard = AbortOnUnwind(h);
    // SAFETY: `h` is a live object with a header (caller; one without returned above) and its
    // vtable matches it. The glue's pointer comes from the address, not from the `&Header`,
    // which claims no bytes and so grants no access to the value (Tree Borrows).
    unsafe {
        let vt = header(h).vtable();
        (vt.trace)(std::ptr::with_exposed_provenance(h), t);
    }
    std::mem::forget(guard);
}

/// The address bits of a gray entry (without `BARE_MAP`'s map and tag).
const GRAY_ADDR: usize = ((1 << GRAY_MAP_SHIFT) - 1) & !BARE_MAP;

/// The gray entry of the scanned object `h` of `span`: with its pointer map if it has no header
/// and the map fits the entry (objects of up to 16 words), so that its scan skips the lookup of
/// its span (binary-trees' nodes: a chunk table, a span and its bitmap, before each scan).
#[inline(always)]
fn gray_entry(span: &crate::mspan::MSpan, h: usize) -> usize {
    if span.class.is_bare() && span.elemsize <= 128 && h < 1 << GRAY_MAP_SHIFT {
        h | BARE_MAP | ((span.ptr_map_at(h) as usize) << GRAY_MAP_SHIFT)
    } else {
        h
    }
}

/// Traces an object without a header by its pointer map (`MSpan::ptr_map_at`): each word the
/// map names is a sized handle or null (an `Option` of one), read atomically, as `trace_racy`
/// reads a handle a container's writer may be replacing (a `GcSlot`'s word is swapped while it
/// is read). No user code runs, so nothing can panic.
///
/// # Safety
/// `h` is a live object without a header, whose pointer map is `map`.
#[inline]
unsafe fn trace_words(h: usize, mut map: u64, t: &mut Tracer) {
    while map != 0 {
        let i = map.trailing_zeros() as usize;
        map &= map - 1;
        // SAFETY: word `i` of the live object is a handle's word (its type's map), aligned;
        // handles are only ever written whole (at construction, before the object was
        // published, or by a `GcSlot`'s atomic swap).
        let w = unsafe { std::sync::atomic::AtomicUsize::from_ptr((h + 8 * i) as *mut usize) }
            .load(Ordering::Acquire);
        let a = crate::header::untagged(w);
        if a != 0 {
            t.edge(a as *const Header);
        }
    }
}

fn workers() -> usize {
    if let Some(n) = crate::config::get().mark_procs {
        return n;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    ((cores as f64 * 0.25).round() as usize).max(1)
}

pub(crate) static POOL: LazyLock<rayon::ThreadPool> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers())
        .thread_name(|i| format!("tricolor-mark-{i}"))
        // A `trace` recurses through what one object owns (a long `Box` list): as deep as the
        // collector thread's stack allows.
        .stack_size(COLLECTOR_STACK_SIZE)
        .start_handler(|_| Role::Marker.enter())
        .build()
        .expect("tricolor: cannot start the mark workers")
});

/// CPU time the mark workers have spent in [`broadcast`]s, in nanoseconds: each adds its own
/// at the end of its part.
static WORKERS_CPU_NS: AtomicU64 = AtomicU64::new(0);

/// Runs `f` on every mark worker and waits for all of them (`ThreadPool::broadcast`); each
/// worker adds the CPU time it spent to the total that [`workers_cpu`] reads.
pub(crate) fn broadcast(f: impl Fn() + Sync) {
    POOL.broadcast(|_| {
        let t0 = crate::cputime::thread_cpu();
        f();
        if let (Some(a), Some(b)) = (t0, crate::cputime::thread_cpu()) {
            let ns = b.saturating_sub(a).as_nanos() as u64;
            WORKERS_CPU_NS.fetch_add(ns, Ordering::Relaxed);
        }
    });
}

/// Total CPU time of the mark workers in the collector's work so far, if the platform reports
/// per-thread CPU time. Read from what the workers added, not by asking them: a broadcast that
/// asked each worker for its time waited for it to be scheduled, 3–4 ms at some cycle starts
/// on this 2-core machine (its two cores busy with the mutator and the collector), during which
/// the mutator allocated on before marking began (GCBench's first cycles: up to 42 ms with the
/// wait for the worker's next time slice, the heap 23 → 40 MB meanwhile).
pub(crate) fn workers_cpu() -> Option<std::time::Duration> {
    // Whether this platform tells threads' CPU time: the workers' additions are 0 where not.
    crate::cputime::thread_cpu()
        .map(|_| std::time::Duration::from_nanos(WORKERS_CPU_NS.load(Ordering::Relaxed)))
}

/// Number of background mark workers.
pub(crate) fn worker_count() -> usize {
    POOL.current_num_threads()
}

/// Drains the gray queue with the background workers until it is empty and they are all idle;
/// the last worker to leave calls `parked` (`markdone`: only then may a stop be attempted
/// by another thread).
pub(crate) fn drain_background(parked: fn()) {
    let n = POOL.current_num_threads();
    let idle = AtomicUsize::new(0);
    let left = AtomicUsize::new(0);
    broadcast(|| {
        drain_worker(&idle, n);
        if drain::leave(&left, n) {
            parked();
        }
    });
}

/// One background worker's drain: returns once the gray queue is empty and all `n` are idle.
fn drain_worker(idle: &AtomicUsize, n: usize) {
    let mut t = Tracer::marker();
    let mut spins = 0;
    loop {
        if mgcwork::take_batch(&mut t.stack) {
            spins = 0;
            let k = t.drain_local(usize::MAX);
            WORK.scanned_bg.fetch_add(k, Ordering::Relaxed);
            t.flush();
            continue;
        }
        drain::go_idle(idle);
        HUNGRY.fetch_add(1, Ordering::Relaxed);
        loop {
            if !mgcwork::gray_empty() {
                drain::wake(idle);
                HUNGRY.fetch_sub(1, Ordering::Relaxed);
                break;
            }
            if drain::all_idle(idle, n) {
                HUNGRY.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            crate::sync::spin(&mut spins);
        }
    }
}

/// Drains what is left on the calling thread (mark termination), scanning at most `limit`
/// objects. Returns how many it scanned and whether the gray queue is empty; what it did not
/// scan stays in the queue.
pub(crate) fn drain_here(limit: usize) -> (usize, bool) {
    let mut t = Tracer::marker();
    let mut total = 0;
    while total < limit && mgcwork::take_batch(&mut t.stack) {
        total += t.drain_local(limit - total);
        t.flush();
    }
    (total, mgcwork::gray_empty())
}

/// Whether mutators may scan gray objects yet: opened by [`open_assists`] once the cycle's
/// `OFF → MARK` handshake is complete (`protocol::ScanGate`).
static ASSISTS: ScanGate = ScanGate::new();

/// Lets assists scan: the collector calls it once the `OFF → MARK` handshake is complete.
pub(crate) fn open_assists() {
    ASSISTS.open();
}

/// Mark assist: an allocating thread scans gray objects in proportion to what it allocated
/// while marking (Go's assist credit, simplified to a fixed exchange rate), so that a fast
/// allocator pays for the marking it causes. When the gray queue is empty, `root_job` may
/// find other work (`markroot::assist_job`: the root scan's jobs, as Go's `gcDrainN` takes
/// root jobs); it returns the bytes of marking it did, or `None` when there is none.
pub(crate) fn assist(
    debt_bytes: u64,
    mut root_job: impl FnMut(&mut Tracer) -> Option<usize>,
) -> u64 {
    const BYTES_PER_OBJECT: u64 = 64;
    if !ASSISTS.is_open() {
        // The cycle's first operations, while the collector still waits for one that read
        // OFF: see `ScanGate`.
        return 0;
    }
    let t0 = std::time::Instant::now();
    let want = (debt_bytes / BYTES_PER_OBJECT).max(1) as usize;
    let mut t = Tracer::marker();
    // Objects scanned, and the root jobs' worth in the same unit: only the first are counted
    // as scanned objects (`CycleStats::scanned`); both pay the debt.
    let (mut scanned, mut roots) = (0, 0);
    while scanned + roots < want {
        if mgcwork::take_batch(&mut t.stack) {
            scanned += t.drain_local(want - scanned - roots);
            t.flush();
            continue;
        }
        // No gray object: early in the mark, the root scan is where the work is.
        match root_job(&mut t) {
            Some(credit) => roots += credit.div_ceil(BYTES_PER_OBJECT as usize),
            None => break,
        }
    }
    WORK.scanned_assist.fetch_add(scanned, Ordering::Relaxed);
    WORK.assist_ns
        .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
    ((scanned + roots) as u64) * BYTES_PER_OBJECT
}

/// Resets the per-cycle counters at the start of marking.
pub(crate) fn reset_cycle() {
    ASSISTS.close();
    WORK.reset();
    for st in REGISTRY.lock().iter() {
        st.assist_debt.store(0, Ordering::Relaxed);
    }
}

/// Go's gccheckmark: re-marks the heap from the roots, stop-the-world (called during mark
/// termination), and aborts if a reachable object was left white. `extra_roots` reports the
/// edges the cycle treats as roots besides rooted objects (the finalizer referents).
pub(crate) fn checkmark(extra_roots: impl FnOnce(&mut Tracer)) -> usize {
    let spans = HEAP.lock().all_spans();
    let mut t = Tracer::checker();
    for s in &spans {
        let span = s.get();
        let free = span.freeindex.load(Ordering::Acquire);
        for i in 0..span.nelems {
            if span.is_allocated(i, free) {
                // SAFETY: allocated slot, nothing is freed during mark termination.
                let h = unsafe { header(span.obj_of(i)) };
                // SAFETY: as above, a heap object.
                if unsafe { h.has_roots() } {
                    t.edge(h);
                }
            }
        }
    }
    extra_roots(&mut t);
    t.drain_local(usize::MAX);
    let TracerMode::Check { seen } = &t.mode else {
        unreachable!()
    };
    for &h in seen {
        // SAFETY: every visited address is a live object (reached from a root).
        let span = unsafe { span_of(h) };
        if !span.is_marked(span.index_of(h)) {
            // SAFETY: as above.
            let name = unsafe { span.type_name_at(h) };
            crate::throw::throw(&format!(
                "GCCHECKMARK: a reachable object of type {name} at {h:#x} is white at mark termination"
            ));
        }
    }
    seen.len()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::Gc;

    /// A drain stopped by its limit must leave every object it took but did not scan (those in
    /// the prefetch FIFO) on the stack: a gray object dropped there would never be scanned.
    /// The checking tracer is used because it keeps its own set instead of the heap's mark
    /// bits, so a cycle run by another test cannot interfere.
    #[test]
    fn a_limited_drain_loses_no_gray_object() {
        let leaves: Vec<Gc<u64>> = (0..99).map(Gc::new).collect();
        let root = Gc::new(leaves);
        let mut t = Tracer::checker();
        t.edge(root.header());
        let mut scanned = 0;
        for limit in [1, 2, 3, 5, 8, 13] {
            scanned += t.drain_local(limit);
        }
        scanned += t.drain_local(usize::MAX);
        assert_eq!(scanned, 100, "every object scanned exactly once");
        assert!(t.stack.is_empty());
    }
}
