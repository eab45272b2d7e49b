//! loom models of the collector's lock-free protocols, run with
//! `RUSTFLAGS="--cfg loom" cargo test -p tricolor-core --test loom --release`.
//!
//! Each model drives the real functions of `tricolor_core::protocol` (the ones the runtime calls)
//! through a miniature collector: a phase word, one mutator's operation flag, root counts, mark
//! bits, a gray list and one `GcCell`. The collector runs Go's sequence — handshake to MARK,
//! root scan, drain, ragged wait, handshake to STOP, drain — and asserts the property that
//! matters: at mark termination every object the mutator can still reach is marked.
#![cfg(loom)]
//!
//! Exploration is bounded to 3 preemptions per execution (loom's recommended practice; most
//! concurrency bugs need at most two), which keeps the suite at a few minutes.

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use tricolor_core::protocol::count::{has_roots, COUNT, SPILLED};
use tricolor_core::protocol::cursor;
use tricolor_core::protocol::*;

/// `count::release_if_not_last` on a count the models keep below `SPILLED`.
fn release_if_not_last(b: &AtomicU8) -> bool {
    count::release_if_not_last(b) == Ok(true)
}

/// `count::release_last` on a count the models keep below `SPILLED`.
fn release_last(b: &AtomicU8) -> bool {
    count::release_last(b) == Ok(true)
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// Runs `f` on the world in a new (mutator) thread.
fn spawn_mutator(w: &Arc<World>, f: fn(&World)) -> thread::JoinHandle<()> {
    let m = w.clone();
    thread::spawn(move || f(&m))
}

/// Object 0 is P (a permanent root holding a GcCell), 1 is O, 2 is C.
struct World {
    phase: AtomicU32,
    flag: AtomicBool,
    roots: [AtomicU8; 3],
    published: [AtomicBool; 3],
    marks: AtomicU64,
    gray: Mutex<Vec<u32>>,
    /// P's cell: does it hold O?
    cell: BorrowState,
    cell_has_o: UnsafeCell<bool>,
    /// O's immutable field: does it hold C? (written before O is published)
    o_has_c: AtomicBool,
    /// True while the mutator runs the body of an operation (what a stop must exclude).
    in_body: AtomicBool,
}

impl World {
    fn new() -> Arc<World> {
        Arc::new(World {
            phase: AtomicU32::new(OFF),
            flag: AtomicBool::new(false),
            roots: [AtomicU8::new(1), AtomicU8::new(0), AtomicU8::new(0)],
            published: [
                AtomicBool::new(true),
                AtomicBool::new(false),
                AtomicBool::new(false),
            ],
            marks: AtomicU64::new(0),
            gray: Mutex::new(Vec::new()),
            cell: BorrowState::new(),
            cell_has_o: UnsafeCell::new(false),
            o_has_c: AtomicBool::new(false),
            in_body: AtomicBool::new(false),
        })
    }

    fn op<R>(&self, f: impl FnOnce(u32) -> R) -> R {
        let p = enter(&self.flag, &self.phase);
        self.in_body.store(true, Ordering::SeqCst);
        let r = f(p);
        self.in_body.store(false, Ordering::SeqCst);
        exit(&self.flag);
        r
    }

    fn shade(&self, i: u32) {
        if try_mark(&self.marks, i) {
            self.gray.lock().unwrap().push(i);
        }
    }

    fn marked(&self, i: u32) -> bool {
        self.marks.load(Ordering::SeqCst) & (1 << i) != 0
    }

    /// The mutator drops or unroots one root of object `i`.
    fn release(&self, i: usize) {
        if !release_if_not_last(&self.roots[i]) {
            self.op(|p| {
                if release_last(&self.roots[i]) && p == MARK {
                    self.shade(i as u32);
                }
            });
        }
    }

    fn trace(&self, i: u32) {
        match i {
            0 => {
                if self.cell.try_marker() {
                    // SAFETY (model): the marker borrow excludes the mutator's exclusive borrow.
                    if self.cell_has_o.with(|c| unsafe { *c }) {
                        self.shade(1);
                    }
                    self.cell.release_marker();
                }
            }
            1 => {
                if self.o_has_c.load(Ordering::Acquire) {
                    self.shade(2);
                }
            }
            _ => {}
        }
    }

    /// The mutator moves its rooted handle to O into P's cell: the exclusive borrow (taken in an
    /// operation, as `GcCell::try_borrow_mut` does), the store, then one operation that unroots
    /// O (1→0, shading while marking) and ends the borrow.
    fn move_o_into_cell(&self) {
        self.op(|_| assert!(self.cell.try_exclusive()));
        // SAFETY (model): exclusive borrow held.
        self.cell_has_o.with_mut(|c| unsafe { *c = true });
        self.op(|p| {
            if release_last(&self.roots[1]) && p == MARK {
                self.shade(1);
            }
            self.cell.release_exclusive();
        });
    }

    fn drain(&self) {
        loop {
            let next = self.gray.lock().unwrap().pop();
            match next {
                Some(i) => self.trace(i),
                None => return,
            }
        }
    }

    fn handshake(&self, p: u32) {
        set_phase(&self.phase, p);
        wait_clear(&self.flag);
    }

    /// Marking on, the root scan and a first drain.
    fn start_mark(&self) {
        self.handshake(MARK);
        for i in 0..3 {
            if self.published[i].load(Ordering::Acquire) && has_roots(&self.roots[i]) {
                self.shade(i as u32);
            }
        }
        self.drain();
    }

    /// Go's cycle up to the end of mark termination; returns while still in STOP.
    fn mark_cycle(&self) {
        self.start_mark();
        wait_clear(&self.flag);
        self.drain();
        self.handshake(STOP);
        self.drain();
    }
}

/// A rooted handle is moved into a heap object's cell (borrow_mut, store, release: the 1→0
/// unroot) while the collector starts marking, scans roots, traces the cell and terminates:
/// covers "root drop racing the start of marking", "borrow_mut racing the marker" and
/// "termination racing a shade".
#[test]
fn handle_moved_into_cell_races_the_whole_mark() {
    model(|| {
        let w = World::new();
        w.roots[1].store(1, Ordering::Relaxed);
        w.published[1].store(true, Ordering::Relaxed);
        let mutator = spawn_mutator(&w, World::move_o_into_cell);
        w.mark_cycle();
        assert!(
            w.marked(1),
            "O is reachable (rooted or in P's cell) but white at termination"
        );
        set_phase(&w.phase, OFF);
        mutator.join().unwrap();
    });
}

/// `Gc::new(O { child: C })` while marking starts: the unroot of C, the allocation and the colour
/// of O are decided under one phase, so either O is found as a root (and traced) or it is born
/// black and C was shaded.
#[test]
fn allocation_with_moved_child_races_the_start_of_marking() {
    model(|| {
        let w = World::new();
        w.roots[2].store(1, Ordering::Relaxed);
        w.published[2].store(true, Ordering::Relaxed);
        let m = w.clone();
        let mutator = thread::spawn(move || {
            m.op(|p| {
                // `malloc::alloc`'s order: unroot what moves in, then take and write the slot,
                // colour it and publish it, all under the one phase the operation read.
                if release_last(&m.roots[2]) && p == MARK {
                    m.shade(2);
                }
                m.roots[1].store(1, Ordering::Relaxed);
                m.o_has_c.store(true, Ordering::Release);
                if p == MARK {
                    try_mark(&m.marks, 1);
                }
                m.published[1].store(true, Ordering::Release);
            });
        });
        w.mark_cycle();
        if w.published[1].load(Ordering::Acquire) {
            assert!(w.marked(1), "the new object is rooted but white");
            assert!(w.marked(2), "the child moved into the new object is white");
        } else {
            assert!(w.marked(2), "the child is still rooted but white");
        }
        set_phase(&w.phase, OFF);
        mutator.join().unwrap();
    });
}

/// A rooted handle dropped while the collector starts marking: the object is either seen as a
/// root or, if its last root went away during marking, shaded — never lost while still held.
#[test]
fn root_drop_races_the_root_scan() {
    model(|| {
        let w = World::new();
        w.roots[1].store(2, Ordering::Relaxed);
        w.published[1].store(true, Ordering::Relaxed);
        let m = w.clone();
        let mutator = thread::spawn(move || {
            m.release(1); // 2 → 1 outside any operation; one root remains
        });
        w.mark_cycle();
        assert!(w.marked(1), "a rooted object is white at termination");
        set_phase(&w.phase, OFF);
        mutator.join().unwrap();
    });
}

/// The marker's shared borrow and a mutator's exclusive borrow of one cell never overlap
/// (loom reports any concurrent access to the cell's contents).
#[test]
fn marker_and_borrow_mut_exclude_each_other() {
    marker_and_borrow_mut(BorrowState::new);
}

/// The same with the cell's rooted flag set in the borrow word: the exclusive borrow's CAS
/// expects the word with the flag, and every borrow keeps the flag as it was.
#[test]
fn marker_and_borrow_mut_exclude_each_other_with_the_rooted_flag() {
    marker_and_borrow_mut(BorrowState::new_rooted);
}

fn marker_and_borrow_mut(make: fn() -> BorrowState) {
    model(move || {
        let cell = Arc::new((make(), UnsafeCell::new(0u32)));
        let rooted = cell.0.is_rooted();
        let c3 = cell.clone();
        let reader = thread::spawn(move || {
            if c3.0.try_shared() {
                // SAFETY (model): shared borrow held.
                let _ = c3.1.with(|v| unsafe { *v });
                c3.0.release_shared();
            }
        });
        let c2 = cell.clone();
        let marker = thread::spawn(move || {
            if c2.0.try_marker() {
                // SAFETY (model): marker borrow held.
                let _ = c2.1.with(|v| unsafe { *v });
                c2.0.release_marker();
            }
        });
        if cell.0.try_exclusive() {
            // SAFETY (model): exclusive borrow held.
            cell.1.with_mut(|v| unsafe { *v += 1 });
            cell.0.release_exclusive();
        }
        marker.join().unwrap();
        reader.join().unwrap();
        assert_eq!(cell.0.is_rooted(), rooted);
        assert!(cell.0.try_exclusive(), "the word is idle again");
    });
}

/// Sweeper and allocator race for one unswept span: exactly one wins the sweepgen CAS, and the
/// loser, once it sees the span swept, sees the sweeper's writes.
#[test]
fn sweeper_and_allocator_on_one_span() {
    model(|| {
        let h = 4u32;
        let span = Arc::new((
            AtomicU32::new(h - 2),
            UnsafeCell::new(0u32),
            AtomicUsize::new(0),
        ));
        let mut ts = Vec::new();
        for _ in 0..2 {
            let s = span.clone();
            ts.push(thread::spawn(move || {
                if try_acquire_sweep(&s.0, h) {
                    s.2.fetch_add(1, Ordering::SeqCst);
                    // SAFETY (model): the CAS made us the span's only owner.
                    s.1.with_mut(|v| unsafe { *v = 7 });
                    s.0.store(h, Ordering::Release);
                } else {
                    while s.0.load(Ordering::Acquire) != h {
                        thread::yield_now();
                    }
                    // SAFETY (model): the sweeper published `h` after its last write.
                    assert_eq!(s.1.with(|v| unsafe { *v }), 7);
                }
            }));
        }
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(span.2.load(Ordering::SeqCst), 1);
    });
}

/// A handle taken out of a cell that already holds it, while a whole cycle may run: the
/// exclusive borrow and the rooting of the contents are one operation, so the cycle either sees
/// the cell readable (and traces it) or sees the contents rooted or shaded. Taking the borrow
/// before the operation lets a cycle skip the borrowed cell while its contents are not yet roots
/// (this model fails for that order).
#[test]
fn handle_taken_out_of_a_borrowed_cell_races_the_whole_mark() {
    model(|| {
        let w = World::new();
        w.published[1].store(true, Ordering::Relaxed);
        // SAFETY (model): no other thread runs yet.
        w.cell_has_o.with_mut(|c| unsafe { *c = true });
        let m = w.clone();
        let mutator = thread::spawn(move || {
            let ok = m.op(|p| {
                if !m.cell.try_exclusive() {
                    return false;
                }
                // Acquisition: root what the cell holds, and shade it while marking.
                m.roots[1].fetch_add(1, Ordering::SeqCst);
                if p == MARK {
                    m.shade(1);
                }
                true
            });
            assert!(ok);
            // SAFETY (model): exclusive borrow held. The handle leaves the cell, still rooted.
            m.cell_has_o.with_mut(|c| unsafe { *c = false });
            m.op(|_| m.cell.release_exclusive());
        });
        w.mark_cycle();
        assert!(
            w.marked(1),
            "O is in the cell or rooted by the mutator, but white"
        );
        set_phase(&w.phase, OFF);
        mutator.join().unwrap();
    });
}

/// Mark termination called off and retried (`try_stop` with no patience at all, so every busy
/// flag calls it off): operations that waited at entry during the abandoned attempt run under
/// MARK afterwards, and the retried stop still finds everything the mutator can reach marked.
#[test]
fn called_off_stop_then_retry_loses_nothing() {
    model(|| {
        let w = World::new();
        w.roots[1].store(1, Ordering::Relaxed);
        w.published[1].store(true, Ordering::Relaxed);
        let mutator = spawn_mutator(&w, World::move_o_into_cell);
        w.start_mark();
        let mut attempts = 0;
        loop {
            wait_clear(&w.flag);
            w.drain();
            if attempts == 2 {
                w.handshake(STOP);
                break;
            }
            if try_stop(&w.phase, [&w.flag], || false) {
                assert!(
                    !w.in_body.load(Ordering::SeqCst),
                    "an operation runs inside the stop"
                );
                break;
            }
            assert_eq!(
                w.phase.load(Ordering::SeqCst),
                MARK,
                "a called-off stop restores MARK"
            );
            attempts += 1;
        }
        w.drain();
        assert!(
            w.marked(1),
            "O is reachable (rooted or in P's cell) but white at termination"
        );
        set_phase(&w.phase, OFF);
        mutator.join().unwrap();
    });
}

/// Objects of the slot model: P holds the slot (a permanent root), X is in the slot at first, Y
/// replaces it.
const P: u32 = 0;
const X: u32 = 1;
const Y: u32 = 2;

/// A `GcSlot` inside the heap object P, one thread that `set`s it from X to Y, one that `get`s
/// it, each with its own operation flag, and the collector.
struct SlotWorld {
    phase: AtomicU32,
    flags: [AtomicBool; 2],
    roots: [AtomicU8; 3],
    marks: AtomicU64,
    gray: Mutex<Vec<u32>>,
    slot: AtomicU32,
    /// What the getting thread holds a root on.
    held: AtomicU32,
}

impl SlotWorld {
    fn new() -> Arc<SlotWorld> {
        Arc::new(SlotWorld {
            phase: AtomicU32::new(OFF),
            flags: [AtomicBool::new(false), AtomicBool::new(false)],
            // P is rooted; X lives only in the slot; Y is held by the setting thread.
            roots: [AtomicU8::new(1), AtomicU8::new(0), AtomicU8::new(1)],
            marks: AtomicU64::new(0),
            gray: Mutex::new(Vec::new()),
            slot: AtomicU32::new(X),
            held: AtomicU32::new(P),
        })
    }

    fn op<R>(&self, t: usize, f: impl FnOnce(u32) -> R) -> R {
        let p = enter(&self.flags[t], &self.phase);
        let r = f(p);
        exit(&self.flags[t]);
        r
    }

    fn shade(&self, i: u32) {
        if try_mark(&self.marks, i) {
            self.gray.lock().unwrap().push(i);
        }
    }

    fn marked(&self, i: u32) -> bool {
        self.marks.load(Ordering::SeqCst) & (1 << i) != 0
    }

    /// `GcSlot::set(Some(Y))` on a slot inside the heap: unroot Y (1→0 shades while marking),
    /// swap, shade the old pointee while marking.
    fn set_y(&self) {
        self.op(0, |p| {
            if release_last(&self.roots[Y as usize]) && p == MARK {
                self.shade(Y);
            }
            let old = self.slot.swap(Y, Ordering::AcqRel);
            if p == MARK {
                self.shade(old);
            }
        });
    }

    /// `GcSlot::get`: root what the slot holds and, when `shade_while_marking`, shade it.
    fn get(&self, shade_while_marking: bool) {
        self.op(1, |p| {
            let got = self.slot.load(Ordering::Acquire);
            self.roots[got as usize].fetch_add(1, Ordering::SeqCst);
            if shade_while_marking && p == MARK {
                self.shade(got);
            }
            self.held.store(got, Ordering::SeqCst);
        })
    }

    fn drain(&self) {
        loop {
            let next = self.gray.lock().unwrap().pop();
            match next {
                Some(P) => self.shade(self.slot.load(Ordering::Acquire)),
                Some(_) => {}
                None => return,
            }
        }
    }

    fn handshake(&self, p: u32) {
        set_phase(&self.phase, p);
        for f in &self.flags {
            wait_clear(f);
        }
    }

    /// Marking on with its handshake, and the root scan.
    fn start_mark(&self) {
        self.handshake(MARK);
        for i in [P, X, Y] {
            if has_roots(&self.roots[i as usize]) {
                self.shade(i);
            }
        }
    }
}

/// Finding 5 of the soundness review: `GcSlot::get` in an operation that read MARK, racing a
/// `set` in one that read OFF and is still running when marking starts. The `set` moves X out
/// of the heap without a shade (it acts under OFF), the root scan has passed X (no roots yet),
/// and `get` then roots X: unless `get` shades while marking, X stays white while held.
fn slot_get_races_set_across_the_start_of_marking(shade_in_get: bool) {
    model(move || {
        let w = SlotWorld::new();
        let s = w.clone();
        let setter = thread::spawn(move || s.set_y());
        let g = w.clone();
        let getter = thread::spawn(move || g.get(shade_in_get));
        w.start_mark();
        w.drain();
        // Termination once both operations are over (the models above race it with them;
        // this one is about the start of marking, and waiting keeps it small).
        getter.join().unwrap();
        setter.join().unwrap();
        w.drain();
        let got = w.held.load(Ordering::SeqCst);
        assert!(
            w.marked(got),
            "`get` holds object {got}, which is white at termination"
        );
        assert!(
            w.marked(w.slot.load(Ordering::SeqCst)),
            "the slot's pointee is white at termination"
        );
    });
}

#[test]
fn slot_get_races_set_across_the_start_of_marking_and_shades() {
    slot_get_races_set_across_the_start_of_marking(true);
}

/// The same model with the `get` of before the fix: loom finds the lost object.
#[test]
#[should_panic(expected = "white at termination")]
fn slot_get_without_its_shade_loses_an_object() {
    slot_get_races_set_across_the_start_of_marking(false);
}

/// A `GcVec` inside the heap object P (a permanent root) holding objects 1, 2, 3, traced by a
/// marker one element per chunk, while a mutator removes the first element (shifting the rest
/// left across the marker's cursor) and keeps it. At termination the removed element and every
/// element still in the vector must be marked.
struct VecWorld {
    phase: AtomicU32,
    flag: AtomicBool,
    marks: AtomicU64,
    state: ContainerState,
    cursor: AtomicUsize,
    elements: UnsafeCell<Vec<u32>>,
    /// The element the mutator took out and holds (0: none yet).
    held: AtomicU32,
}

impl VecWorld {
    fn new() -> Arc<VecWorld> {
        Arc::new(VecWorld {
            phase: AtomicU32::new(OFF),
            flag: AtomicBool::new(false),
            marks: AtomicU64::new(0),
            state: ContainerState::new(),
            cursor: AtomicUsize::new(0),
            elements: UnsafeCell::new(vec![1, 2, 3]),
            held: AtomicU32::new(0),
        })
    }

    fn shade(&self, i: u32) {
        // Elements hold no handles: marking is all their shade does.
        try_mark(&self.marks, i);
    }

    fn marked(&self, i: u32) -> bool {
        self.marks.load(Ordering::SeqCst) & (1 << i) != 0
    }

    /// `GcVec::remove(0)` with `vec::Edit`'s barrier: the writer bit inside an operation, the
    /// crossing element shaded, the removed one shaded unless traced, then rooted.
    fn remove_first(&self, shade_crossing: bool) {
        let p = enter(&self.flag, &self.phase);
        self.state.acquire_writer();
        let c = self.cursor.load(Ordering::Relaxed);
        // SAFETY (model): the writer bit excludes the marker.
        let (out, crossed) = self.elements.with_mut(|v| unsafe {
            let v = &mut *v;
            let out = v.remove(0);
            let crossed = cursor::crossed_by_remove(0, c, v.len()).map(|k| v[k]);
            (out, crossed)
        });
        if p == MARK {
            if let Some(x) = crossed.filter(|_| shade_crossing) {
                self.shade(x);
            }
            if !cursor::traced(0, c) {
                self.shade(out);
            }
        }
        self.held.store(out, Ordering::SeqCst);
        self.state.release_writer();
        exit(&self.flag);
    }

    /// The gray scan of P's vector, one element per hold of the marker section.
    fn scan(&self) {
        let mut at = 0;
        loop {
            self.state.acquire_marker();
            // SAFETY (model): the marker section excludes the writer.
            let next = self.elements.with(|v| unsafe { (&*v).get(at).copied() });
            match next {
                Some(x) => {
                    self.shade(x);
                    at += 1;
                    self.cursor.store(at, Ordering::Relaxed);
                    self.state.release_marker();
                }
                None => {
                    self.cursor.store(0, Ordering::Relaxed);
                    self.state.release_marker();
                    return;
                }
            }
        }
    }
}

fn remove_racing_a_chunked_scan(shade_crossing: bool) {
    model(move || {
        let w = VecWorld::new();
        let m = w.clone();
        let mutator = thread::spawn(move || m.remove_first(shade_crossing));
        set_phase(&w.phase, MARK);
        wait_clear(&w.flag);
        // The root scan finds P (rooted) and, scanning it, its vector; `held` is a root only
        // if the mutator's operation finished before the scan read it (it read OFF then).
        let held_at_scan = w.held.load(Ordering::SeqCst);
        if held_at_scan != 0 {
            w.shade(held_at_scan);
        }
        w.scan();
        mutator.join().unwrap();
        // Termination: the mutator is done.
        let held = w.held.load(Ordering::SeqCst);
        assert!(w.marked(held), "the removed element {held}, held, is white");
        // SAFETY (model): every thread but this one has finished.
        let rest = w.elements.with(|v| unsafe { (&*v).clone() });
        for x in rest {
            assert!(w.marked(x), "element {x}, still in the vector, is white");
        }
    });
}

#[test]
fn gc_vec_remove_shifting_across_the_markers_cursor_loses_nothing() {
    remove_racing_a_chunked_scan(true);
}

/// Without the shade of the element that crosses the cursor, loom finds it white.
#[test]
#[should_panic(expected = "still in the vector, is white")]
fn gc_vec_remove_without_the_crossing_shade_loses_an_element() {
    remove_racing_a_chunked_scan(false);
}

/// A handle replaced without the state word (`vec::WriteGuard::replace_handle`: `put_new`,
/// `put`, `set` of a `GcVec<Gc<_>>`, and a `GcMap`'s value) while a marker scans the vector
/// one element per hold of its section. The vector, inside the permanent root P, holds 1 and 2.
/// The mutator clones element 0 out (a `get`: a root taken with no barrier, perhaps after the
/// root scan) and keeps it, then, in an operation, replaces it with the new object 3 (born
/// black while marking): one atomic store, never the writer bit, and the old handle shaded if
/// the operation read MARK; one that read OFF stores blind (no read, no shade). Slots are
/// atomic words, as the runtime reads (`Trace::trace_racy`) and writes (`replace_racy`,
/// `store_racy`) them. At termination the element held and every element in the vector must
/// be marked.
struct RacyVec {
    phase: AtomicU32,
    flag: AtomicBool,
    marks: AtomicU64,
    state: ContainerState,
    slots: [AtomicU32; 2],
    held: AtomicU32,
}

impl RacyVec {
    fn marked(&self, i: u32) -> bool {
        self.marks.load(Ordering::SeqCst) & (1 << i) != 0
    }

    fn get_then_put_new(&self, shade_old: bool) {
        // `get(0)` under the users' lock: the clone takes a root and shades nothing.
        let got = self.slots[0].load(Ordering::Relaxed);
        self.held.store(got, Ordering::SeqCst);
        let p = enter(&self.flag, &self.phase);
        if p == MARK {
            try_mark(&self.marks, 3);
            let old = self.slots[0].load(Ordering::Relaxed);
            self.slots[0].store(3, Ordering::Release);
            if shade_old {
                try_mark(&self.marks, old);
            }
        } else {
            self.slots[0].store(3, Ordering::Release);
        }
        exit(&self.flag);
    }
}

fn replace_racing_a_chunked_scan(shade_old: bool) {
    model(move || {
        let w = Arc::new(RacyVec {
            phase: AtomicU32::new(OFF),
            flag: AtomicBool::new(false),
            marks: AtomicU64::new(0),
            state: ContainerState::new(),
            slots: [AtomicU32::new(1), AtomicU32::new(2)],
            held: AtomicU32::new(0),
        });
        let m = w.clone();
        let mutator = thread::spawn(move || m.get_then_put_new(shade_old));
        set_phase(&w.phase, MARK);
        wait_clear(&w.flag);
        // The root scan: `held` is a root if the clone was taken by now.
        let held_at_scan = w.held.load(Ordering::SeqCst);
        if held_at_scan != 0 {
            try_mark(&w.marks, held_at_scan);
        }
        // P's gray scan, one element per hold of the marker section.
        for slot in &w.slots {
            w.state.acquire_marker();
            try_mark(&w.marks, slot.load(Ordering::Acquire));
            w.state.release_marker();
        }
        mutator.join().unwrap();
        let held = w.held.load(Ordering::SeqCst);
        assert!(w.marked(held), "the element cloned out, held, is white");
        for slot in &w.slots {
            let x = slot.load(Ordering::SeqCst);
            assert!(w.marked(x), "element {x}, still in the vector, is white");
        }
    });
}

#[test]
fn gc_vec_handle_replaced_without_the_state_word_loses_nothing() {
    replace_racing_a_chunked_scan(true);
}

/// Without the shade of the replaced handle, loom finds the clone held but white: the marker
/// read the new handle, and the root scan ran before the clone was taken.
#[test]
#[should_panic(expected = "held, is white")]
fn gc_vec_handle_replaced_without_shading_the_old_loses_the_clone() {
    replace_racing_a_chunked_scan(false);
}

/// The writer's realloc of the buffer and a marker's read of it never overlap (loom reports a
/// concurrent access to the buffer otherwise).
#[test]
fn gc_vec_buffer_growth_excludes_the_marker() {
    model(|| {
        let store = Arc::new((ContainerState::new(), UnsafeCell::new(vec![1u32])));
        let s = store.clone();
        let marker = thread::spawn(move || {
            s.0.acquire_marker();
            // SAFETY (model): marker section held.
            let _ = s.1.with(|v| unsafe { (&*v).len() });
            s.0.release_marker();
        });
        store.0.acquire_writer();
        // SAFETY (model): writer section held; the push may move the buffer.
        store.1.with_mut(|v| unsafe { (*v).push(2) });
        store.0.release_writer();
        marker.join().unwrap();
    });
}

/// Who else reads the buffer in [`store_outside_marking_racing_the_cycle_start`], from an
/// operation that may read MARK.
#[derive(Clone, Copy, PartialEq)]
enum OtherReader {
    /// An assist, which scans gray objects only once the gate is open.
    Assist,
    /// The twin: an assist that ignores the gate.
    AssistIgnoringTheGate,
    /// A barrier's shade of a value the operation owns (an element it removed) that holds this
    /// store behind an `Arc`, whose `Trace` traces its contents: the store is outside the heap
    /// (rooted, its elements roots), so a marking tracer skips it (`Elements::trace`).
    ShadeThroughAnArc,
    /// The twin: a shade that reads the store outside the heap anyway.
    ShadeReadingTheRootedStore,
}

/// A store made outside marking skips the state word (`ScanGate`). A writer whose operation
/// read OFF grows the vector's buffer while the cycle starts; another thread's operation, which
/// may read MARK, may read the buffer (`reader`); the collector closes the gate, sets MARK,
/// waits for both flags, opens the gate and scans. Loom reports any read that overlaps the
/// writer's access to the buffer. (The writer is made to read OFF: a writer that reads MARK
/// takes the state word, the case of the models above.)
fn store_outside_marking_racing_the_cycle_start(reader: OtherReader) {
    struct GateWorld {
        phase: AtomicU32,
        flags: [AtomicBool; 2],
        /// The writer has read the phase (so it read OFF).
        entered: AtomicBool,
        gate: ScanGate,
        state: ContainerState,
        buf: UnsafeCell<Vec<u32>>,
    }
    impl GateWorld {
        fn scan(&self) -> usize {
            self.state.acquire_marker();
            // SAFETY (model): the marker section, and the gate.
            let n = self.buf.with(|v| unsafe { (&*v).len() });
            self.state.release_marker();
            n
        }
    }
    model(move || {
        let w = Arc::new(GateWorld {
            phase: AtomicU32::new(OFF),
            flags: [AtomicBool::new(false), AtomicBool::new(false)],
            entered: AtomicBool::new(false),
            gate: ScanGate::new(),
            state: ContainerState::new(),
            buf: UnsafeCell::new(vec![1]),
        });
        let ww = w.clone();
        let writer = thread::spawn(move || {
            let p = enter(&ww.flags[0], &ww.phase);
            ww.entered.store(true, Ordering::Release);
            assert!(!writer_excludes_markers(p), "the writer read {p}");
            // SAFETY (model): the users' lock (one writer here); no marker before the gate.
            ww.buf.with_mut(|v| unsafe { (*v).push(2) });
            exit(&ww.flags[0]);
        });
        let wa = w.clone();
        let assister = thread::spawn(move || {
            let p = enter(&wa.flags[1], &wa.phase);
            // The store of the shade cases is outside the heap, as any store an `Arc` leads to.
            let rooted = matches!(
                reader,
                OtherReader::ShadeThroughAnArc | OtherReader::ShadeReadingTheRootedStore
            );
            let reads = match reader {
                OtherReader::Assist => wa.gate.is_open(),
                OtherReader::AssistIgnoringTheGate | OtherReader::ShadeReadingTheRootedStore => {
                    true
                }
                OtherReader::ShadeThroughAnArc => !rooted,
            };
            if p == MARK && reads {
                wa.scan();
            }
            exit(&wa.flags[1]);
        });
        while !w.entered.load(Ordering::Acquire) {
            thread::yield_now();
        }
        w.gate.close();
        set_phase(&w.phase, MARK);
        wait_clear(&w.flags[0]);
        wait_clear(&w.flags[1]);
        w.gate.open();
        assert_eq!(
            w.scan(),
            2,
            "the scan sees the element stored outside marking"
        );
        writer.join().unwrap();
        assister.join().unwrap();
    });
}

#[test]
fn a_store_outside_marking_never_overlaps_a_scan() {
    store_outside_marking_racing_the_cycle_start(OtherReader::Assist);
}

/// The twin whose assist ignores the gate: loom finds it scanning the buffer that the writer,
/// in an operation that read OFF, is growing.
#[test]
#[should_panic(expected = "Causality violation")]
fn an_assist_before_the_gate_opens_races_the_store() {
    store_outside_marking_racing_the_cycle_start(OtherReader::AssistIgnoringTheGate);
}

/// A barrier's shade inside an operation that read MARK may start before the handshake has seen
/// another thread's OFF operation end (shades do not wait for the gate), and the value it
/// shades may hold, behind an `Arc`, a store outside the heap that the OFF operation is growing.
/// Marking tracers skip such a store, whose elements are roots, so this model's shade reads
/// nothing; the twin below is the evidence that the rule is needed, and the unit test
/// `vec::tests::marking_tracers_skip_a_store_outside_the_heap` that the code follows it.
#[test]
fn a_shade_never_reads_a_store_outside_the_heap() {
    store_outside_marking_racing_the_cycle_start(OtherReader::ShadeThroughAnArc);
}

/// The twin whose shade reads the store outside the heap: loom finds it reading the buffer that
/// the writer, in an operation that read OFF, is growing (found by review, 2026-12-07).
#[test]
#[should_panic(expected = "Causality violation")]
fn a_shade_reading_a_store_outside_the_heap_races_the_store() {
    store_outside_marking_racing_the_cycle_start(OtherReader::ShadeReadingTheRootedStore);
}

/// A thread holds a `GcMutex`'s lock (outside any operation) while mark termination's stop is
/// requested, and another thread waits for that lock: the stop completes, and no operation body
/// runs inside it. (Taking the lock inside an operation instead deadlocks: the waiter's
/// operation waits for the holder, whose next operation waits for the stop, which waits for the
/// waiter; the `should_panic` twin shows loom finding it.)
fn lock_held_while_the_stop_is_requested(lock_inside_op: bool) {
    model(move || {
        let w = SlotWorld::new();
        let in_body = Arc::new(AtomicUsize::new(0));
        let lock = Arc::new(Mutex::new(0u32));
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let (w, lock, in_body) = (w.clone(), lock.clone(), in_body.clone());
                thread::spawn(move || {
                    let body = |f: &mut dyn FnMut()| {
                        w.op(t, |_| {
                            in_body.fetch_add(1, Ordering::SeqCst);
                            f();
                            in_body.fetch_sub(1, Ordering::SeqCst);
                        })
                    };
                    if lock_inside_op && t == 1 {
                        body(&mut || *lock.lock().unwrap() += 1);
                    } else {
                        let mut g = lock.lock().unwrap();
                        body(&mut || *g += 1); // `lock()`'s borrow of the cell
                        body(&mut || {}); // the guard's release
                    }
                })
            })
            .collect();
        w.handshake(MARK);
        w.handshake(STOP);
        assert_eq!(
            in_body.load(Ordering::SeqCst),
            0,
            "an operation runs inside the stop"
        );
        set_phase(&w.phase, OFF);
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn a_lock_held_across_the_stop_request_delays_nothing() {
    lock_held_while_the_stop_is_requested(false);
}

/// The twin with the second thread taking the lock inside its operation: loom finds the deadlock
/// (the threads left spin-wait forever, which loom reports as a path without end).
#[test]
#[should_panic(expected = "exceeded maximum number of branches")]
fn a_lock_taken_inside_an_operation_deadlocks_the_stop() {
    lock_held_while_the_stop_is_requested(true);
}

/// The sweep generation of the weak models: spans are unswept at `H - 2`, swept at `H`.
const H: u32 = 10;

/// One span word with three objects that have `Weak`s: bit 0 dead, bit 1 alive (marked),
/// bit 2 dead with a finalizer (the sweeper keeps it). Each object's side byte carries the
/// "weak references cleared" bit (`weak::CLEARED`). The sweeper sets the bit of the dead ones
/// (the kept one's before it sets its mark bit; object 0, which `Weak`s still count on, is kept
/// the same way with its value dropped), publishes the span's weak generation and resets the
/// mark word; an `upgrade` on another thread read each header word before any of that and asks
/// `alive_while_sweeping`. It must say dead for 0 and 2 and alive for 1, in every interleaving.
struct SweepWorld {
    words: [AtomicU8; 3],
    weak_gen: AtomicU32,
    mark: AtomicU64,
    /// The heap-wide "every span swept" generation, set when the sweep is over.
    heap_swept: AtomicU32,
}

/// A header word whose weak references still upgrade (the vtable part is arbitrary).
const LIVE_WORD: u8 = 1;

fn weak_upgrade_races_the_sweep(recheck: bool, release_reset: bool) {
    model(move || {
        let w = Arc::new(SweepWorld {
            words: [
                AtomicU8::new(LIVE_WORD),
                AtomicU8::new(LIVE_WORD),
                AtomicU8::new(LIVE_WORD),
            ],
            weak_gen: AtomicU32::new(H - 2),
            mark: AtomicU64::new(0b010),
            heap_swept: AtomicU32::new(H - 2),
        });
        let sweeper = {
            let w = w.clone();
            thread::spawn(move || {
                weak::clear(&w.words[2]);
                w.mark.fetch_or(0b100, Ordering::AcqRel);
                weak::clear(&w.words[0]);
                w.mark.fetch_or(0b001, Ordering::AcqRel);
                weak::publish_swept(&w.weak_gen, H);
                if release_reset {
                    weak::reset_mark_word(&w.mark);
                } else {
                    w.mark.store(0, Ordering::Relaxed);
                }
                w.heap_swept.store(H, Ordering::Release);
            })
        };
        for (i, expected) in [(1usize, true), (0, false), (2, false)] {
            let alive = if recheck {
                weak::alive_while_sweeping(&w.words[i], &w.heap_swept, H, || {
                    (&w.weak_gen, &w.mark, i as u32)
                })
            } else {
                // Without the second look at the weak generation.
                if w.weak_gen.load(Ordering::Acquire) == H {
                    weak::not_cleared(&w.words[i])
                } else {
                    w.mark.load(Ordering::Acquire) & (1 << i) != 0 && weak::not_cleared(&w.words[i])
                }
            };
            assert_eq!(alive, expected, "upgrade of object {i} decided wrongly");
        }
        sweeper.join().unwrap();
    });
}

#[test]
fn weak_upgrade_races_the_sweep_of_its_span() {
    weak_upgrade_races_the_sweep(true, true);
}

/// Without the seqlock's second read, an upgrade that reads the reset mark word calls a live
/// object dead (and a later upgrade would call it alive again).
#[test]
#[should_panic(expected = "upgrade of object 1 decided wrongly")]
fn weak_upgrade_without_the_recheck_misjudges_a_live_object() {
    weak_upgrade_races_the_sweep(false, true);
}

/// With a Relaxed reset, seeing the reset word says nothing about the publication: loom finds
/// the execution where the recheck still reads the old generation.
#[test]
#[should_panic(expected = "upgrade of object 1 decided wrongly")]
fn weak_upgrade_with_a_relaxed_mark_reset_misjudges_a_live_object() {
    weak_upgrade_races_the_sweep(true, false);
}

/// `Gc::new_cyclic` hands out `Weak`s that point at an object allocated unbuilt (a `()` whose
/// header word says cleared) while the value is built, and one of them reaches another thread
/// (the closure may send it anywhere). The builder writes the value, then publishes the
/// object's vtable without the bit (`publish_built`); the other thread's `upgrade`, in an
/// operation while the heap is being swept (the new object's span swept already: a new object
/// is allocated in a swept span), says `None` while the bit is set, and once it reads it clear
/// says alive and reads the object, which must be built (loom checks the access).
fn upgrade_races_new_cyclic_publication(release: bool) {
    model(move || {
        let word = Arc::new(AtomicU8::new(weak::CLEARED));
        let object = Arc::new(UnsafeCell::new(0u32));
        let (weak_gen, mark, heap_swept) = (
            Arc::new(AtomicU32::new(H)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU32::new(H - 2)),
        );
        let builder = {
            let (word, object) = (word.clone(), object.clone());
            thread::spawn(move || {
                // SAFETY (model): nobody reads the object before its vtable is published.
                object.with_mut(|v| unsafe { *v = 7 });
                if release {
                    assert!(weak::publish_built(&word));
                } else {
                    word.store(LIVE_WORD, Ordering::Relaxed);
                }
            })
        };
        if weak::not_cleared(&word) {
            let alive =
                weak::alive_while_sweeping(&word, &heap_swept, H, || (&*weak_gen, &*mark, 0));
            assert!(alive, "a new object's upgrade said dead");
            // SAFETY (model): the publication orders the build before this read.
            let v = object.with(|v| unsafe { *v });
            assert_eq!(v, 7, "upgrade saw the object unbuilt");
        }
        builder.join().unwrap();
    });
}

#[test]
fn upgrade_racing_new_cyclic_sees_none_or_the_built_object() {
    upgrade_races_new_cyclic_publication(true);
}

/// With a Relaxed publication, loom finds the upgrade reading the object before it was built.
#[test]
#[should_panic(expected = "Causality violation")]
fn upgrade_racing_a_relaxed_publication_reads_an_unbuilt_object() {
    upgrade_races_new_cyclic_publication(false);
}

/// A dead object's last `Weak` dropped on one thread, outside any operation (`Weak::drop`),
/// after that thread read the object's header; the sweeper on another reads the object's weak
/// count, and if it finds 0 frees the object and its memory is reused (a write loom checks
/// against the read). The Release drop and the Acquire read order the read before the reuse;
/// the model fails with a Relaxed drop.
fn last_weak_races_the_sweep(release: bool) {
    model(move || {
        let count = Arc::new(AtomicU32::new(1));
        let header = Arc::new(UnsafeCell::new(weak::CLEARED));
        let holder = {
            let (count, header) = (count.clone(), header.clone());
            thread::spawn(move || {
                // SAFETY (model): our count keeps the memory until the drop below.
                let h = header.with(|v| unsafe { *v });
                assert_eq!(h & weak::CLEARED, weak::CLEARED);
                if release {
                    weak::drop_weak(&count);
                } else {
                    count.fetch_sub(1, Ordering::Relaxed);
                }
            })
        };
        if weak::no_weaks(&count) {
            // SAFETY (model): no `Weak` left: the sweep frees the object and it is reused.
            header.with_mut(|v| unsafe { *v = 0 });
        }
        holder.join().unwrap();
    });
}

#[test]
fn a_dead_object_is_freed_only_after_its_last_weak_is_done() {
    last_weak_races_the_sweep(true);
}

/// With a Relaxed drop, loom finds the memory reused while the holder still reads it.
#[test]
#[should_panic(expected = "Causality violation")]
fn a_relaxed_last_weak_lets_the_memory_be_reused_under_its_reader() {
    last_weak_races_the_sweep(false);
}

/// `GcWeakMap::insert(k, v)` racing the marking of its key: object 0 is the key (alive, so
/// marked this cycle), object 1 the value, which only the map keeps. The inserter's operation files the pair, sets the key bit
/// (`ephemeron::set_key`) and shades the value if it read MARK; the collector starts marking
/// (the handshake) and then marks the key and, if it sees the bit (`ephemeron::is_key`), the
/// key's filed values. At the end the value must be marked: the key is.
fn insert_races_the_marking_of_its_key(shade_while_marking: bool) {
    model(move || {
        let phase = Arc::new(AtomicU32::new(OFF));
        let flag = Arc::new(AtomicBool::new(false));
        let marks = Arc::new(AtomicU64::new(0));
        let keys = Arc::new(AtomicU64::new(0));
        let pairs = Arc::new(Mutex::new(Vec::<u32>::new()));
        let inserter = {
            let (phase, flag, marks, keys, pairs) = (
                phase.clone(),
                flag.clone(),
                marks.clone(),
                keys.clone(),
                pairs.clone(),
            );
            thread::spawn(move || {
                let p = enter(&flag, &phase);
                pairs.lock().unwrap().push(1);
                ephemeron::set_key(&keys, 0);
                if p == MARK && shade_while_marking {
                    try_mark(&marks, 1);
                }
                exit(&flag);
            })
        };
        set_phase(&phase, MARK);
        wait_clear(&flag);
        // Marking: the key is reached (a root, or through a gray object). An insert that read
        // OFF is over by now; one that reads MARK may run beside this.
        if try_mark(&marks, 0) && ephemeron::is_key(&keys, 0) {
            for v in pairs.lock().unwrap().iter() {
                try_mark(&marks, *v);
            }
        }
        inserter.join().unwrap();
        // Termination: the key is marked; a value filed under it must be too.
        assert!(marks.load(Ordering::SeqCst) & 1 != 0);
        assert!(
            marks.load(Ordering::SeqCst) & 2 != 0,
            "the value of a marked key is white at termination"
        );
    });
}

#[test]
fn insert_racing_the_marking_of_its_key_loses_no_value() {
    insert_races_the_marking_of_its_key(true);
}

/// Without the insert's shade while marking, loom finds the marker that marked the key before
/// the bit was set, and the value left white.
#[test]
#[should_panic(expected = "the value of a marked key is white at termination")]
fn insert_without_its_shade_loses_the_value() {
    insert_races_the_marking_of_its_key(false);
}

/// The resurrection pass: after a complete mark, object 0 (unmarked) is resurrected by the
/// collector, which sets its header's cleared bit and marks it; object 1 was marked by the mark.
/// Upgrades racing it must say dead for 0 (it was found unreachable) and alive for 1.
fn weak_upgrade_races_a_resurrection(clear_first: bool) {
    model(move || {
        let w = Arc::new(SweepWorld {
            words: [
                AtomicU8::new(LIVE_WORD),
                AtomicU8::new(LIVE_WORD),
                AtomicU8::new(weak::CLEARED),
            ],
            weak_gen: AtomicU32::new(H),
            mark: AtomicU64::new(0b10),
            heap_swept: AtomicU32::new(H),
        });
        let collector = {
            let w = w.clone();
            thread::spawn(move || {
                if clear_first {
                    weak::clear(&w.words[0]);
                    try_mark(&w.mark, 0);
                } else {
                    try_mark(&w.mark, 0);
                    weak::clear(&w.words[0]);
                }
            })
        };
        for (i, expected) in [(0usize, false), (1, true)] {
            if weak::not_cleared(&w.words[i]) {
                let alive = weak::alive_while_resurrecting(&w.words[i], &w.mark, i as u32);
                assert_eq!(alive, expected, "upgrade of object {i} decided wrongly");
            }
        }
        collector.join().unwrap();
    });
}

#[test]
fn weak_upgrade_races_a_resurrection_and_says_dead() {
    weak_upgrade_races_a_resurrection(true);
}

/// Marking before clearing opens a window where the resurrected object looks alive.
#[test]
#[should_panic(expected = "upgrade of object 0 decided wrongly")]
fn weak_upgrade_sees_a_resurrection_that_marks_first() {
    weak_upgrade_races_a_resurrection(false);
}

/// Sweep termination against a lazy sweeper: one unswept span in a set, holding a dead object
/// with a `Weak`. The lazy sweeper takes the span under the set's lock and sweeps it (sets the
/// object's cleared bit); the collector's `finish` empties the sets, waits until no counted
/// sweep is in progress and then says the heap is swept, after which `upgrade` trusts the bit
/// alone. The bit must be set by then. Go's `sweepLocker` order (count, then take) holds.
fn finish_races_a_lazy_sweep(count_first: bool) {
    model(move || {
        let set = Arc::new(Mutex::new(Some(())));
        let sweepers = Arc::new(AtomicUsize::new(0));
        let word = Arc::new(AtomicU8::new(LIVE_WORD));
        let lazy = {
            let (set, sweepers, word) = (set.clone(), sweepers.clone(), word.clone());
            thread::spawn(move || {
                if count_first {
                    sweep_begin(&sweepers);
                }
                let took = set.lock().unwrap().take();
                if !count_first {
                    sweep_begin(&sweepers);
                }
                if took.is_some() {
                    weak::clear(&word);
                }
                sweep_end(&sweepers);
            })
        };
        // The collector's finish: sweep what is left, then wait for counted sweeps.
        if set.lock().unwrap().take().is_some() {
            weak::clear(&word);
        }
        while !sweeps_done(&sweepers) {
            thread::yield_now();
        }
        assert!(
            !weak::not_cleared(&word),
            "the heap was said swept with a dead object's weak references still set"
        );
        lazy.join().unwrap();
    });
}

#[test]
fn finish_waits_for_a_lazy_sweep_that_took_its_span() {
    finish_races_a_lazy_sweep(true);
}

/// Counting only once the span is taken: `finish` can find the set empty and no sweep counted
/// while the lazy sweeper holds the span unswept.
#[test]
#[should_panic(expected = "said swept")]
fn finish_misses_a_lazy_sweep_counted_after_taking_its_span() {
    finish_races_a_lazy_sweep(false);
}

/// Two threads in teardown run operations on the one shared state (`protocol::shared_state`):
/// each takes the flag, writes the state (a span cache in the runtime) and gives it back. loom's
/// cell checks that the writes never overlap and that each holder sees the previous one's.
fn shared_state_is_used_by_one_holder_at_a_time(release: bool) {
    model(move || {
        let busy = Arc::new(AtomicBool::new(false));
        let state = Arc::new(UnsafeCell::new(0u32));
        let holders: Vec<_> = (0..2)
            .map(|_| {
                let (busy, state) = (busy.clone(), state.clone());
                thread::spawn(move || {
                    shared_state::take(&busy);
                    // SAFETY (model): the flag is held.
                    state.with_mut(|v| unsafe { *v += 1 });
                    if release {
                        shared_state::give_back(&busy);
                    } else {
                        busy.store(false, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in holders {
            h.join().unwrap();
        }
        // SAFETY (model): both holders are done.
        assert_eq!(state.with(|v| unsafe { *v }), 2);
    });
}

#[test]
fn the_shared_state_of_threads_in_teardown_has_one_holder_at_a_time() {
    shared_state_is_used_by_one_holder_at_a_time(true);
}

/// With a Relaxed give-back, loom finds the next holder's access unordered after the last one's.
#[test]
#[should_panic(expected = "Causality violation")]
fn a_relaxed_give_back_lets_two_holders_race_on_the_shared_state() {
    shared_state_is_used_by_one_holder_at_a_time(false);
}

/// The words of one biased lock (`protocol::bias`), its blocking fallback and the data it
/// guards, for the models below; `OWNER` holds the bias at the start.
struct BiasWorld {
    bias: AtomicU64,
    held: AtomicU32,
    fallback: loom::sync::RwLock<()>,
    data: UnsafeCell<u32>,
}

const OWNER: u64 = 7;

impl BiasWorld {
    fn new() -> Arc<BiasWorld> {
        Arc::new(BiasWorld {
            bias: AtomicU64::new(OWNER),
            held: AtomicU32::new(0),
            fallback: loom::sync::RwLock::new(()),
            data: UnsafeCell::new(0),
        })
    }

    /// Adds to the data (the caller is inside exclusively).
    fn add(&self, n: u32) {
        // SAFETY (model): the caller holds the lock exclusively, one way or the other.
        self.data.with_mut(|v| unsafe { *v += n });
    }

    /// Reads the data (the caller is inside, shared at least).
    fn get(&self) -> u32 {
        // SAFETY (model): the caller holds the lock, one way or the other.
        self.data.with(|v| unsafe { *v })
    }
}

/// The biased lock of `GcVec`/`GcMap` (`protocol::bias`): the owner enters twice with plain
/// stores while another thread, holding the blocking fallback, revokes the bias and then writes
/// the guarded data. An owner entry refused for a revocation takes the fallback instead. loom's
/// cell checks that no two sections overlap and that each sees the writes of the one before;
/// the count checks that every section ran once.
fn owner_entries_race_a_revocation(fenced_entry: bool, release_exit: bool) {
    model(move || {
        let w = BiasWorld::new();
        let owner = {
            let w = w.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    let entered = if fenced_entry {
                        bias::owner_enter(&w.bias, &w.held, OWNER, true).is_ok()
                    } else {
                        // The entry without its fence: store, then load, free to pass each other.
                        w.held.store(bias::WRITING, Ordering::Relaxed);
                        let ok = w.bias.load(Ordering::Relaxed) == OWNER;
                        if !ok {
                            w.held.store(0, Ordering::Release);
                        }
                        ok
                    };
                    if entered {
                        w.add(1);
                        if release_exit {
                            bias::owner_exit(&w.held, true);
                        } else {
                            w.held.store(0, Ordering::Relaxed);
                        }
                    } else {
                        let _g = w.fallback.write().unwrap();
                        w.add(1);
                    }
                }
            })
        };
        {
            let _g = w.fallback.write().unwrap();
            bias::revoke(&w.bias, &w.held, true);
            w.add(1);
        }
        owner.join().unwrap();
        assert_eq!(w.get(), 3);
        assert_eq!(w.bias.load(Ordering::Relaxed), bias::REVOKED);
    });
}

#[test]
fn a_biased_owner_and_its_revoker_never_overlap() {
    owner_entries_race_a_revocation(true, true);
}

/// Without the fence between the owner's store and its load (the light half of the asymmetric
/// pair), both sides can miss each other's store and enter together.
#[test]
#[should_panic(expected = "Causality violation")]
fn an_owner_entry_without_its_fence_overlaps_the_revoker() {
    owner_entries_race_a_revocation(false, true);
}

/// With a Relaxed exit, the revoker sees the owner out without seeing what it wrote inside.
#[test]
#[should_panic(expected = "Causality violation")]
fn a_relaxed_owner_exit_hides_the_owners_writes_from_the_revoker() {
    owner_entries_race_a_revocation(true, false);
}

/// After a revocation the former owner's `held` word is one more reader of the fallback. The
/// owner writes in an exclusive section, then reads in a shared one with a nested shared hold
/// (which must not wait: a thread reading inside its own view); a reader revokes, waiting only
/// for the owner's exclusive hold, and reads; a writer takes the fallback and waits for every
/// owner hold. loom's cell checks that no write overlaps a read or a write.
fn readers_and_writers_after_a_revocation(revoking_reader_waits: bool) {
    model(move || {
        let w = BiasWorld::new();
        let owner = {
            let w = w.clone();
            thread::spawn(move || {
                if bias::owner_enter(&w.bias, &w.held, OWNER, true).is_ok() {
                    w.add(1);
                    bias::owner_exit(&w.held, true);
                } else {
                    let _g = w.fallback.write().unwrap();
                    bias::wait_for_owner(&w.held, true);
                    w.add(1);
                }
                if bias::owner_enter(&w.bias, &w.held, OWNER, false).is_ok() {
                    assert_eq!(bias::owner_enter(&w.bias, &w.held, OWNER, false), Ok(()));
                    assert!(w.get() >= 1);
                    bias::owner_exit(&w.held, false);
                    bias::owner_exit(&w.held, false);
                } else {
                    let _g = w.fallback.read().unwrap();
                    assert!(w.get() >= 1);
                }
            })
        };
        let reader = {
            let w = w.clone();
            thread::spawn(move || {
                {
                    let _x = w.fallback.write().unwrap();
                    if w.bias.load(Ordering::Relaxed) == OWNER {
                        if revoking_reader_waits {
                            bias::revoke(&w.bias, &w.held, false);
                        } else {
                            w.bias.store(bias::REVOKED, Ordering::Relaxed);
                        }
                    }
                }
                let _g = w.fallback.read().unwrap();
                w.get();
            })
        };
        {
            let _x = w.fallback.write().unwrap();
            if w.bias.load(Ordering::Relaxed) == OWNER {
                bias::revoke(&w.bias, &w.held, true);
            } else {
                bias::wait_for_owner(&w.held, true);
            }
            w.add(10);
        }
        owner.join().unwrap();
        reader.join().unwrap();
        assert_eq!(w.get(), 11);
    });
}

#[test]
fn after_a_revocation_readers_share_and_writers_wait_for_the_owners_holds() {
    readers_and_writers_after_a_revocation(true);
}

/// A revoking reader that does not wait for the owner's exclusive hold reads under its write.
#[test]
#[should_panic(expected = "Causality violation")]
fn a_revoking_reader_that_does_not_wait_reads_under_the_owners_write() {
    readers_and_writers_after_a_revocation(false);
}

/// The root scan's jobs (`protocol::jobs`): a mark worker and an assist claim two jobs from one
/// cursor; each job writes its result (in the runtime: its counts and the roots it found) and
/// counts itself finished. The collector, once it sees every job finished, reads every result:
/// each job ran exactly once and its writes are visible.
fn root_jobs_claimed_by_a_worker_and_an_assist(release: bool) {
    const JOBS: usize = 2;
    model(move || {
        let next = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let results: Arc<[UnsafeCell<usize>; JOBS]> =
            Arc::new([UnsafeCell::new(0), UnsafeCell::new(0)]);
        let claimers: Vec<_> = (0..2)
            .map(|_| {
                let (next, done, results) = (next.clone(), done.clone(), results.clone());
                thread::spawn(move || {
                    while let Some(j) = jobs::claim(&next, JOBS) {
                        // SAFETY (model): job `j` was claimed by this thread alone.
                        results[j].with_mut(|v| unsafe { *v += j + 1 });
                        if release {
                            jobs::finish(&done);
                        } else {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        while !jobs::all_done(&done, JOBS) {
            thread::yield_now();
        }
        for (j, r) in results.iter().enumerate() {
            // SAFETY (model): every job is finished.
            assert_eq!(r.with(|v| unsafe { *v }), j + 1, "job {j} ran once");
        }
        for c in claimers {
            c.join().unwrap();
        }
    });
}

#[test]
fn root_jobs_each_run_once_and_are_seen_by_the_collector() {
    root_jobs_claimed_by_a_worker_and_an_assist(true);
}

/// With a Relaxed finish, loom finds the collector's read of a job's result unordered after the
/// job's write.
#[test]
#[should_panic(expected = "Causality violation")]
fn a_relaxed_job_finish_hides_the_jobs_writes_from_the_collector() {
    root_jobs_claimed_by_a_worker_and_an_assist(false);
}

/// The end of the workers' drain (`protocol::drain`) against a thread that may attempt the stop
/// once the workers are out (`markdone`). Two workers drain one gray object that an operation
/// shades while they may be idle; the object's place is one word: not shaded yet, in the shared
/// queue, on a worker's local stack, or scanned. The attempting thread, once it sees the
/// `parked` flag, finds the queue empty and would stop the world: no worker may then hold the
/// object on its local stack, where the stop's drain cannot see it. `parked` is set by the last
/// worker to leave; the twin sets it as soon as one worker sees all idle.
fn drain_end_against_a_stop(last_to_leave: bool) {
    const UNSHADED: usize = 0;
    const QUEUED: usize = 1;
    const SCANNED: usize = 4;
    const N: usize = 2;
    model(move || {
        let place = Arc::new(AtomicUsize::new(UNSHADED));
        let idle = Arc::new(AtomicUsize::new(0));
        let left = Arc::new(AtomicUsize::new(0));
        let parked = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..N)
            .map(|w| {
                let (place, idle, left, parked) =
                    (place.clone(), idle.clone(), left.clone(), parked.clone());
                thread::spawn(move || {
                    let mine = 2 + w;
                    'drain: loop {
                        if place
                            .compare_exchange(QUEUED, mine, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                        {
                            place.store(SCANNED, Ordering::Release);
                            continue;
                        }
                        drain::go_idle(&idle);
                        loop {
                            if place.load(Ordering::Acquire) == QUEUED {
                                drain::wake(&idle);
                                continue 'drain;
                            }
                            if drain::all_idle(&idle, N) {
                                if !last_to_leave {
                                    parked.store(true, Ordering::Release);
                                }
                                break 'drain;
                            }
                            thread::yield_now();
                        }
                    }
                    if drain::leave(&left, N) && last_to_leave {
                        parked.store(true, Ordering::Release);
                    }
                })
            })
            .collect();
        // An operation's shade: the object goes to the shared queue.
        let shader = {
            let place = place.clone();
            thread::spawn(move || {
                place.store(QUEUED, Ordering::Release);
            })
        };
        // The attempting thread, at whatever point it looks: if the workers are out, the stop
        // (which would wait for the shading operation, here joined) finds no local stack
        // holding the object.
        if parked.load(Ordering::Acquire) {
            shader.join().unwrap();
            let p = place.load(Ordering::Acquire);
            assert!(
                p == QUEUED || p == SCANNED,
                "a worker held a gray object on its local stack when the stop was attempted"
            );
        } else {
            shader.join().unwrap();
        }
        for w in workers {
            w.join().unwrap();
        }
    });
}

#[test]
fn a_stop_attempted_after_the_last_worker_left_finds_no_local_gray_object() {
    drain_end_against_a_stop(true);
}

/// Parked as soon as one worker sees all idle: the other can still take the object.
#[test]
#[should_panic(expected = "held a gray object")]
fn a_stop_attempted_when_one_worker_saw_all_idle_misses_a_local_gray_object() {
    drain_end_against_a_stop(false);
}

/// The root scan over one span of one object: the take, the fence, the count read if the flag
/// was taken, the flag set again on a root found. Returns whether it found the root.
fn scan_one_span(flag: &AtomicBool, count: &AtomicU8) -> bool {
    let taken = roots::take(flag);
    roots::scan_fence();
    let found = taken && has_roots(count);
    if found {
        roots::keep(flag);
    }
    found
}

/// The invariant of `protocol::roots`, once the mutator's root is in place.
fn found_or_still_flagged(found: bool, flag: &AtomicBool) {
    assert!(
        found || flag.load(Ordering::Relaxed),
        "a rooted object's span is unflagged and its root was not found"
    );
}

/// A first root (a clone's 0→1 outside any operation) races the root scan's take of its span's
/// flag (`protocol::roots`), the flag set beforehand (`flagged`: earlier births) or not: either
/// the scan reads the count and finds the root (setting the flag again), or the flag stays set
/// for the next scan. Without the mutator's half of the fence, its flag read can see the flag
/// from before the take while the scan's count read misses the increment (store buffering),
/// and the root is lost to every later scan.
fn first_root_races_the_flag_take(flagged: bool, fenced: bool) {
    let flag_it = if fenced {
        roots::note
    } else {
        roots::note_unfenced
    };
    mutator_races_one_span_scan(
        flagged,
        |count| {
            count.fetch_add(1, Ordering::Relaxed);
        },
        flag_it,
    );
}

/// One span of one object, its flag initially `flagged`: a mutator roots the object (`root`)
/// then flags the span (`flag_it`) while the root scan takes the flag, fences and reads the
/// count; then the invariant of `protocol::roots` must hold.
fn mutator_races_one_span_scan(flagged: bool, root: fn(&AtomicU8), flag_it: fn(&AtomicBool)) {
    model(move || {
        let flag = Arc::new(AtomicBool::new(flagged));
        let count = Arc::new(AtomicU8::new(0));
        let (f, c) = (flag.clone(), count.clone());
        let t = thread::spawn(move || {
            root(&c);
            flag_it(&f);
        });
        let found = scan_one_span(&flag, &count);
        t.join().unwrap();
        found_or_still_flagged(found, &flag);
    });
}

#[test]
fn first_root_races_the_root_scans_flag_take() {
    first_root_races_the_flag_take(true, true);
    first_root_races_the_flag_take(false, true);
}

#[test]
#[should_panic(expected = "span is unflagged")]
fn first_root_without_the_fence_is_lost_to_the_root_scan() {
    first_root_races_the_flag_take(true, false);
}

/// A large rooted object is born (published, then its span flagged) in an operation that races
/// the start of marking and the scan's take: with `OFF` the flag needs no fence (the handshake
/// waits for the operation), with `MARK` it takes one (`MSpan::note_born_rooted`). The object
/// must be found by this scan or leave its span flagged for the next. `fence_in_mark: false`
/// flags without the fence in both phases: loom finds the birth lost.
fn large_rooted_birth_races_the_flag_take(fence_in_mark: bool) {
    model(move || {
        let phase = Arc::new(AtomicU32::new(OFF));
        let op_flag = Arc::new(AtomicBool::new(false));
        let flag = Arc::new(AtomicBool::new(true));
        let count = Arc::new(AtomicU8::new(0));
        let (ph, of, f, c) = (phase.clone(), op_flag.clone(), flag.clone(), count.clone());
        let mutator = thread::spawn(move || {
            let p = enter(&of, &ph);
            c.store(1, Ordering::Release);
            if p == MARK && fence_in_mark {
                roots::note(&f);
            } else {
                roots::note_unfenced(&f);
            }
            exit(&of);
        });
        set_phase(&phase, MARK);
        wait_clear(&op_flag);
        let found = scan_one_span(&flag, &count);
        mutator.join().unwrap();
        found_or_still_flagged(found, &flag);
    });
}

#[test]
fn large_rooted_birth_races_the_start_of_marking_and_the_flag_take() {
    large_rooted_birth_races_the_flag_take(true);
}

#[test]
#[should_panic(expected = "span is unflagged")]
fn large_rooted_birth_while_marking_without_the_fence_is_lost_to_the_root_scan() {
    large_rooted_birth_races_the_flag_take(false);
}

/// A small rooted object is born while marking (black) in a span its mcache cached before the
/// scan's take, and the mcache gives the span back (full) while the scan takes the flag: the
/// give-back's store must leave the span flagged for the next cycle unless the scan saw the
/// birth. With a conditional store (`note_unfenced`), the give-back can read the flag as set
/// from before the take, skip the store, and the take clear it without seeing the birth.
fn span_given_back_while_the_scan_takes_its_flag(unconditional: bool) {
    let give_back = if unconditional {
        roots::keep
    } else {
        roots::note_unfenced
    };
    // Flagged when the mcache cached the span; the birth publishes the object.
    mutator_races_one_span_scan(true, |count| count.store(1, Ordering::Release), give_back);
}

#[test]
fn span_given_back_while_the_scan_takes_its_flag_stays_flagged() {
    span_given_back_while_the_scan_takes_its_flag(true);
}

#[test]
#[should_panic(expected = "span is unflagged")]
fn span_given_back_with_a_conditional_store_loses_a_birth() {
    span_given_back_while_the_scan_takes_its_flag(false);
}

// ---- root counts past 127 (`protocol::count`, `mbitmap`'s spill table) ----

/// `mbitmap::add_root`'s logic: the compare-and-swap below `SPILLED`, the table's remainder
/// under its lock at `SPILLED`.
fn spill_model_add(b: &AtomicU8, extra: &Mutex<u32>) {
    loop {
        if count::add(b).is_ok() {
            return;
        }
        let mut e = extra.lock().unwrap();
        if count::spill_add(b, &mut e) {
            return;
        }
    }
}

/// `mbitmap::release_if_not_last`'s logic (the models never release a last root here).
fn spill_model_remove(b: &AtomicU8, extra: &Mutex<u32>, locked: bool) {
    loop {
        if !locked {
            // The twin: a release that treats `SPILLED` as any other count.
            let cur = b.load(Ordering::Relaxed);
            if b.compare_exchange(cur, cur - 1, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            continue;
        }
        match count::release_if_not_last(b) {
            Ok(true) => return,
            Ok(false) => panic!("a last root in a model of high counts"),
            Err(_) => {}
        }
        let mut e = extra.lock().unwrap();
        if count::spill_remove(b, &mut e) {
            return;
        }
    }
}

/// A count at `SPILLED` (127 roots), one thread adding a root while two remove one each: the
/// total must come out at 126, and a remainder in the table must never sit behind a count
/// below `SPILLED` (a later release from the byte alone could then reach 0 with roots left,
/// and the root scan, which reads only the byte, would miss a rooted object).
fn spilled_count_races(locked: bool) {
    model(move || {
        let b = Arc::new(AtomicU8::new(SPILLED));
        let extra = Arc::new(Mutex::new(0u32));
        let adder = {
            let (b, extra) = (b.clone(), extra.clone());
            thread::spawn(move || spill_model_add(&b, &extra))
        };
        let remover = {
            let (b, extra) = (b.clone(), extra.clone());
            thread::spawn(move || spill_model_remove(&b, &extra, locked))
        };
        spill_model_remove(&b, &extra, locked);
        adder.join().unwrap();
        remover.join().unwrap();
        let n = b.load(Ordering::SeqCst) & COUNT;
        let e = *extra.lock().unwrap();
        assert!(
            n == SPILLED || e == 0,
            "a remainder of {e} left behind a count of {n}"
        );
        assert_eq!(n as u32 + e, SPILLED as u32 - 1, "a root lost or gained");
    });
}

#[test]
fn a_spilled_count_keeps_every_root_and_no_remainder_behind_it() {
    spilled_count_races(true);
}

/// Releasing a `SPILLED` count without the table's lock leaves a remainder behind the byte.
#[test]
#[should_panic(expected = "left behind a count")]
fn a_spilled_count_released_without_the_lock_leaves_a_remainder_behind() {
    spilled_count_races(false);
}

/// The collector sets the weak-cleared bit of a side byte while a root is added to and removed
/// from the same byte by compare-and-swap (an object kept for its finalizer, whose queue holds
/// a root): neither change is lost.
#[test]
fn the_cleared_bit_and_the_count_share_the_byte_without_losing_either() {
    model(|| {
        let b = Arc::new(AtomicU8::new(1));
        let sweeper = {
            let b = b.clone();
            thread::spawn(move || assert!(weak::clear(&b)))
        };
        assert_eq!(count::add(&b), Ok(1));
        assert!(release_if_not_last(&b));
        sweeper.join().unwrap();
        assert_eq!(b.load(Ordering::SeqCst), weak::CLEARED | 1);
    });
}
