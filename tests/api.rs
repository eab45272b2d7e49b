//! The API the peers' test suites reached for: `Weak` to unsized objects, `Weak::new`,
//! `Gc::new_cyclic`, `From<Box<T>>`, downcasting `Gc<dyn Any>`, and a recording `Tracer` for
//! unit-testing `Trace` impls.

use std::any::Any;
use tricolor_gc::{self as gc, Finalize, Gc, GcCell, Trace, Tracer, Weak};

trait Shape: Trace + Send + Sync {
    fn area(&self) -> u32;
}

#[derive(Trace, Finalize)]
struct Square(u32);

impl Shape for Square {
    fn area(&self) -> u32 {
        self.0 * self.0
    }
}

/// Collects until `w` clears (other tests' handles may hold a cycle open; a few cycles are
/// enough for an object nothing references).
fn cleared<T: ?Sized>(w: &Weak<T>) -> bool {
    for _ in 0..4 {
        gc::collect();
        if w.upgrade().is_none() {
            return true;
        }
    }
    false
}

#[test]
fn weak_to_unsized_objects() {
    let s: Gc<str> = Gc::from("interned");
    let ws = Gc::downgrade(&s);
    let v: Gc<[u64]> = Gc::from(vec![1, 2, 3]);
    let wv = Gc::downgrade(&v);
    let d: Gc<dyn Shape> = Gc::unsize(Gc::new(Square(3)), |x| x as &dyn Shape);
    let wd = Gc::downgrade(&d);
    let boxed: Gc<dyn Shape> = Gc::from_box(Box::new(Square(4)) as Box<dyn Shape>);
    let wb = Gc::downgrade(&boxed);
    gc::collect();
    assert_eq!(&*ws.upgrade().unwrap(), "interned");
    assert_eq!(&*wv.upgrade().unwrap(), &[1, 2, 3]);
    assert_eq!(wd.upgrade().unwrap().area(), 9);
    assert_eq!(wb.upgrade().unwrap().area(), 16);
    assert!(Gc::ptr_eq(&wd.upgrade().unwrap(), &d));
    drop((s, v, d, boxed));
    assert!(cleared(&ws) && cleared(&wv) && cleared(&wd) && cleared(&wb));
}

#[test]
fn weak_new_never_upgrades() {
    let w: Weak<String> = Weak::new();
    assert!(w.upgrade().is_none());
    assert!(Weak::<String>::default().upgrade().is_none());
    gc::collect();
    assert!(w.clone().upgrade().is_none());
}

#[derive(Trace, Finalize)]
struct Node {
    me: Weak<Node>,
    next: GcCell<Option<Gc<Node>>>,
    value: u32,
}

#[test]
fn new_cyclic_sees_itself_once_built() {
    let mut seen_inside = None;
    let n = Gc::new_cyclic(|me| {
        seen_inside = Some(me.upgrade().is_none());
        Node {
            me: me.clone(),
            next: GcCell::new(None),
            value: 7,
        }
    });
    assert_eq!(seen_inside, Some(true), "not upgradable while being built");
    let again = n.me.upgrade().unwrap();
    assert!(Gc::ptr_eq(&again, &n));
    assert_eq!(again.value, 7);
    // Its `Weak` points at it: a later downgrade is the same reference.
    assert!(Weak::ptr_eq(&Gc::downgrade(&n), &n.me));
    // A cycle through a strong edge and the weak self-reference, collected once unreachable.
    *n.next.borrow_mut() = Some(n.clone());
    let w = n.me.clone();
    drop((n, again));
    gc::collect();
    assert!(
        cleared(&w),
        "the cyclic object was collected and its weak cleared"
    );
}

/// The object was allocated before `f` ran (its `Weak` points at it); it stays a `()` that
/// never upgrades, and its memory goes back once its `Weak`s are gone.
#[test]
fn new_cyclic_that_panics_leaves_weaks_that_never_upgrade() {
    let mut kept: Option<Weak<Node>> = None;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Gc::new_cyclic(|me: &Weak<Node>| {
            kept = Some(me.clone());
            panic!("construction failed")
        })
    }));
    assert!(r.is_err());
    let w = kept.unwrap();
    assert!(w.upgrade().is_none());
    gc::collect();
    assert!(w.upgrade().is_none());
}

#[test]
fn many_new_cyclic_objects_under_collection() {
    let mut live = Vec::new();
    for i in 0..20_000u32 {
        let n = Gc::new_cyclic(|me| Node {
            me: me.clone(),
            next: GcCell::new(None),
            value: i,
        });
        if i % 3 == 0 {
            live.push(n);
        }
        if i % 5000 == 0 {
            gc::collect();
        }
    }
    gc::collect();
    for n in &live {
        let back = n.me.upgrade().unwrap();
        assert_eq!(back.value, n.value);
    }
}

#[test]
fn from_box() {
    let g: Gc<Vec<u8>> = Gc::from(Box::new(vec![1, 2]));
    assert_eq!(*g, [1, 2]);
    let g: Gc<Node> = Box::new(Node {
        me: Weak::new(),
        next: GcCell::new(None),
        value: 1,
    })
    .into();
    assert_eq!(g.value, 1);
}

#[test]
fn downcast_any() {
    let a: Gc<dyn Any + Send + Sync> = Gc::unsize(Gc::new(String::from("s")), |v| v as _);
    let a = a.downcast::<u32>().unwrap_err();
    let s = a.downcast::<String>().unwrap();
    assert_eq!(*s, "s");
    assert!(
        Gc::is_root(&s) && Gc::root_count(&s) == 1,
        "the root moved, not copied"
    );
    let b: Gc<dyn Any> = Gc::unsize(Gc::new(5u64), |v| v as _);
    assert_eq!(*b.downcast::<u64>().unwrap(), 5);
    gc::collect();
}

/// A hand-written impl that forgets a field: the recording tracer shows it.
struct Forgets {
    a: Gc<u8>,
    b: Gc<u8>,
}

impl Finalize for Forgets {}

// SAFETY: deliberately wrong in `trace` (it skips `b`); never put in the heap.
unsafe impl Trace for Forgets {
    fn trace(&self, t: &mut Tracer) {
        self.a.trace(t);
    }
    unsafe fn root(&mut self) {}
    unsafe fn unroot(&mut self) {}
}

#[derive(Trace, Finalize)]
struct Derived {
    a: Gc<u8>,
    list: Vec<Gc<u8>>,
    cell: GcCell<Option<Gc<u8>>>,
    #[gc(ignore)]
    _n: u32,
}

#[test]
fn a_recording_tracer_tests_trace_impls() {
    let (a, b) = (Gc::new(1u8), Gc::new(2u8));
    let f = Forgets {
        a: a.clone(),
        b: b.clone(),
    };
    let mut t = Tracer::recording();
    f.trace(&mut t);
    assert_eq!(
        (t.count_of(&f.a), t.count_of(&f.b)),
        (1, 0),
        "b was forgotten"
    );

    let d = Derived {
        a: a.clone(),
        list: vec![b.clone(), b.clone()],
        cell: GcCell::new(Some(a.clone())),
        _n: 0,
    };
    let mut t = Tracer::recording();
    d.trace(&mut t);
    assert_eq!(t.edges(), 4);
    assert_eq!((t.count_of(&a), t.count_of(&b)), (2, 2));
}

#[test]
fn a_weak_to_a_sized_object_is_one_word() {
    // The slot's address and the object's metadata share one pointer (weak.rs): a second word
    // per `Weak` made random upgrades over 1,000,000 objects measurably slower.
    assert_eq!(std::mem::size_of::<Weak<u64>>(), 8);
    assert_eq!(std::mem::size_of::<Option<Weak<u64>>>(), 8);
    assert_eq!(std::mem::size_of::<Weak<str>>(), 16);
    assert_eq!(std::mem::size_of::<Weak<dyn Shape>>(), 16);
}

#[test]
fn a_field_of_one_handle_is_one_word_or_two() {
    // Each cell's "outside the heap" flag lives in a word it has anyway (a padded `bool` made
    // GCBench's node 64 bytes with `GcCell` children and 48 with `GcSlot` children).
    use tricolor_gc::{GcCell, GcSlot};
    assert_eq!(std::mem::size_of::<GcSlot<u64>>(), 8);
    assert_eq!(std::mem::size_of::<GcCell<Option<Gc<u64>>>>(), 16);
    assert_eq!(std::mem::size_of::<GcCell<u32>>(), 16);
}

/// A hand-written `trace` that panics, under a user's recording tracer, inside a cell: the
/// panic is the user's to catch, and the cell must come out of it usable (the marker borrow the
/// trace ran under is released on unwind).
#[test]
fn a_panicking_trace_inside_a_cell_leaves_the_cell_usable() {
    struct Explodes;
    impl Finalize for Explodes {}
    // SAFETY: owns no handle; `trace` panics on purpose, which is allowed to unwind.
    unsafe impl Trace for Explodes {
        fn trace(&self, _: &mut Tracer) {
            panic!("trace panicked on purpose");
        }
        unsafe fn root(&mut self) {}
        unsafe fn unroot(&mut self) {}
    }
    let cell = std::sync::Arc::new(GcCell::new(Explodes));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cell.trace(&mut Tracer::recording())
    }));
    assert!(r.is_err());
    // On a thread, so that the bug this guards against (a borrow that waits forever for a
    // marker that is gone) fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    let c = cell.clone();
    std::thread::spawn(move || {
        let ok = c.try_borrow_mut().is_ok();
        let _ = tx.send(ok);
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(60));
    assert_eq!(got, Ok(true), "the cell stayed marker-borrowed");
}

/// Owns no handle; its hand-written `root` panics once on purpose after `arm()`. One flag per
/// test (`T`), as the tests of this binary run in parallel.
#[derive(Clone, Debug, PartialEq)]
struct RootBomb<const T: usize>(u64);
static ARMED: [std::sync::atomic::AtomicBool; 2] =
    [const { std::sync::atomic::AtomicBool::new(false) }; 2];
impl<const T: usize> RootBomb<T> {
    fn arm() {
        ARMED[T].store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
impl<const T: usize> Finalize for RootBomb<T> {}
// SAFETY: owns no handle; `root` panics once on purpose, when armed.
unsafe impl<const T: usize> Trace for RootBomb<T> {
    fn trace(&self, _: &mut Tracer) {}
    unsafe fn root(&mut self) {
        if ARMED[T].swap(false, std::sync::atomic::Ordering::SeqCst) {
            panic!("root panicked on purpose");
        }
    }
    unsafe fn unroot(&mut self) {}
}

/// A hand-written `root` that unwinds half-way through a nested structure (a cell in a vector in
/// a cell in the heap, review finding 2026-12-07): every cell and store claims to be outside the
/// heap (rooted, so that later borrows skip the rooting and the shade) only once its contents are
/// roots. Here the inner cell's `root` is cut short before it roots its handle; afterwards the
/// inner cell must still behave as a cell in the heap: borrowing it mutably roots its handle.
#[test]
fn a_root_that_unwinds_half_way_leaves_nested_cells_in_the_heap() {
    type Inner = GcCell<(RootBomb<0>, Gc<u64>)>;
    let outer: Gc<GcCell<tricolor_gc::GcVec<Inner>>> = Gc::new(GcCell::new(
        std::iter::once(GcCell::new((RootBomb(0), Gc::new(7)))).collect(),
    ));
    RootBomb::<0>::arm();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(outer.borrow_mut());
    }));
    assert!(r.is_err(), "the armed root did not run");
    let store = outer.borrow();
    let view = store.view();
    let inner = view[0].borrow_mut();
    assert_eq!(
        Gc::root_count(&inner.1),
        1,
        "the inner cell took the path of a cell outside the heap: its handle is not a root"
    );
    assert_eq!(*inner.1, 7);
}

/// A hand-written `root` that unwinds while `GcMap::remove` hands the entry out (review finding,
/// 2026-12-07): the entry is gone and the map's index agrees with its entries, so the other
/// keys are still found (their positions had moved under an index that had not).
#[test]
fn a_root_that_unwinds_in_a_map_remove_leaves_the_map_consistent() {
    let bomb = RootBomb::<1>;
    let map: Gc<tricolor_gc::GcMap<u64, RootBomb<1>>> =
        Gc::new((1..=3).map(|k| (k, bomb(k))).collect());
    RootBomb::<1>::arm();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| map.remove(&1)));
    assert!(r.is_err(), "the armed root did not run");
    assert_eq!(map.len(), 2);
    assert!(!map.contains_key(&1));
    assert_eq!(map.get(&2), Some(bomb(2)));
    assert_eq!(map.get(&3), Some(bomb(3)));
    map.insert(4, bomb(4));
    assert_eq!(map.remove(&3), Some(bomb(3)));
    assert_eq!(map.get(&4), Some(bomb(4)));

    // The same in a vector: the length `len()` reports follows the buffer.
    let v: Gc<tricolor_gc::GcVec<RootBomb<1>>> = Gc::new((1..=3).map(bomb).collect());
    RootBomb::<1>::arm();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| v.pop()));
    assert!(r.is_err(), "the armed root did not run");
    assert_eq!(v.len(), 2, "len() kept the length before the pop");
    assert_eq!(v.view().len(), 2);
}
