//! Dynamically sized objects (`Gc<str>`, `Gc<[T]>`, `Gc<dyn Trait>`), `Gc::unsize`, and raw
//! handles: contents, root counts, tracing through the slot trailer, drop glue at sweep, and
//! allocation counts.
//!
//! Tests in this binary run in parallel and share the heap, so every test counts its own drops.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use support::Counter;
use tricolor_gc::{collect, run_finalizers, Finalize, Gc, GcCell, Trace};

/// Counts the system allocations of the thread that has switched counting on.
struct Counting;
static SYSTEM_ALLOCS: AtomicUsize = AtomicUsize::new(0);
thread_local!(static COUNT_HERE: AtomicBool = const { AtomicBool::new(false) });

// SAFETY: forwards to the system allocator; the counter has no effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNT_HERE
            .try_with(|c| c.load(Ordering::Relaxed))
            .unwrap_or(false)
        {
            SYSTEM_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

/// System allocations made by `f` on this thread.
fn system_allocs(f: impl FnOnce()) -> usize {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = SYSTEM_ALLOCS.load(Ordering::SeqCst);
    COUNT_HERE.with(|c| c.store(true, Ordering::SeqCst));
    f();
    COUNT_HERE.with(|c| c.store(false, Ordering::SeqCst));
    SYSTEM_ALLOCS.load(Ordering::SeqCst) - before
}

impl Finalize for Counter {}
// SAFETY: holds no `Gc`.
unsafe impl Trace for Counter {
    tricolor_gc::unsafe_empty_trace!();
}

#[derive(Trace, Finalize)]
struct Leaf {
    id: u64,
    #[gc(ignore)]
    _c: Counter,
}

fn leaf(id: u64, c: &Arc<AtomicUsize>) -> Gc<Leaf> {
    Gc::new(Leaf {
        id,
        _c: Counter(c.clone()),
    })
}

#[test]
fn gc_str_from_every_source() {
    let a: Gc<str> = Gc::from("alpha");
    let b: Gc<str> = Gc::from(String::from("alpha"));
    let c: Gc<str> = Gc::from(Box::<str>::from("alpha"));
    assert_eq!(&*a, "alpha");
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert!(!Gc::ptr_eq(&a, &b));
    assert_eq!(format!("{a}/{b:?}"), "alpha/\"alpha\"");
    assert_eq!(&*Gc::<str>::default(), "");
    let long = "x".repeat(100_000); // a large object: its own span
    let l: Gc<str> = Gc::from(long.as_str());
    collect();
    assert_eq!(&*l, long);
    assert_eq!(&*a, "alpha");
}

#[test]
fn gc_str_is_one_heap_object_and_no_system_allocation() {
    const N: usize = 10_000;
    let mut keep: Vec<Gc<str>> = Vec::with_capacity(N);
    keep.push(Gc::from("warm up the thread's cache"));
    let sys = system_allocs(|| {
        for i in 0..N {
            keep.push(Gc::from(["a", "bb", "ccc", "dddd"][i % 4]));
        }
    });
    // The bytes live in the object's own slot: header (8) + 4 bytes, in the smallest class
    // that holds 12 bytes. Spans are refilled from the page heap, whose metadata may allocate,
    // so allow a handful of system allocations per thousand strings.
    let class = tricolor_gc::__private::size_class_of(12, 8);
    assert_eq!(
        tricolor_gc::__private::slot_size(&keep[4]),
        tricolor_gc::__private::CLASS_SIZE[class] as usize
    );
    assert!(sys <= N / 100, "{sys} system allocations for {N} Gc<str>");
    // The sized alternative costs a system allocation per string, for the String's buffer.
    let mut keep2: Vec<Gc<String>> = Vec::with_capacity(N);
    let sys_string = system_allocs(|| {
        for i in 0..N {
            keep2.push(Gc::new(["a", "bb", "ccc", "dddd"][i % 4].to_string()));
        }
    });
    assert!(
        sys_string >= N,
        "{sys_string} system allocations for {N} Gc<String>"
    );
    assert_eq!(&*keep[3], "ccc");
}

#[test]
fn slices_from_every_source() {
    let v: Gc<[u32]> = Gc::from(vec![1, 2, 3]);
    let b: Gc<[u32]> = Gc::from(vec![1, 2, 3].into_boxed_slice());
    let s: Gc<[u32]> = Gc::from(&[1u32, 2, 3][..]);
    let a: Gc<[u32]> = Gc::from([1, 2, 3]);
    let i: Gc<[u32]> = (1..=3).collect();
    for x in [&v, &b, &s, &a, &i] {
        assert_eq!(&**x, &[1, 2, 3]);
    }
    let empty: Gc<[String]> = Gc::from(Vec::<String>::new());
    assert!(empty.is_empty());
    let strings: Gc<[String]> = Gc::from(vec!["p".to_string(), "q".to_string()]);
    collect();
    assert_eq!(strings.concat(), "pq");
}

#[test]
fn handles_moved_into_a_slice_stop_being_roots_and_are_traced() {
    let c = Arc::new(AtomicUsize::new(0));
    let leaves: Vec<Gc<Leaf>> = (0..100).map(|i| leaf(i, &c)).collect();
    let weak: Vec<_> = leaves.iter().map(Gc::downgrade).collect();
    let probe = leaves[7].clone();
    let slice: Gc<[Gc<Leaf>]> = Gc::from(leaves);
    assert!(slice.iter().all(|g| !Gc::is_root(g)));
    assert_eq!(Gc::root_count(&probe), 1, "only `probe` roots leaf 7");
    drop(probe);
    for _ in 0..3 {
        collect();
    }
    // The leaves are reachable only through the slice: the marker found them via its trailer.
    assert_eq!(c.load(Ordering::SeqCst), 0);
    assert!(weak.iter().all(|w| w.upgrade().is_some()));
    assert_eq!(slice.iter().map(|l| l.id).sum::<u64>(), 4950);
    drop(slice);
    collect();
    collect();
    assert!(weak.iter().all(|w| w.upgrade().is_none()));
    assert_eq!(c.load(Ordering::SeqCst), 100);
}

#[test]
fn a_large_traced_slice_keeps_its_elements() {
    let c = Arc::new(AtomicUsize::new(0));
    let big: Gc<[Gc<Leaf>]> = (0..20_000).map(|i| leaf(i, &c)).collect();
    assert!(tricolor_gc::__private::slot_size(&big) > 32 << 10);
    collect();
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 0);
    assert_eq!(big[19_999].id, 19_999);
    drop(big);
    collect();
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 20_000);
}

#[test]
fn slice_elements_are_dropped_once_at_sweep() {
    let c = Arc::new(AtomicUsize::new(0));
    let s: Gc<[Counter]> = (0..5).map(|_| Counter(c.clone())).collect();
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 0);
    drop(s);
    collect();
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 5);
}

#[test]
fn over_aligned_elements_are_aligned() {
    #[derive(Clone, Copy, Debug, PartialEq)]
    #[repr(align(64))]
    struct Wide(u8);
    impl Finalize for Wide {}
    // SAFETY: holds no `Gc`.
    unsafe impl Trace for Wide {
        tricolor_gc::unsafe_empty_trace!();
    }
    let s: Gc<[Wide]> = Gc::from(vec![Wide(1), Wide(2), Wide(3)]);
    assert_eq!(Gc::as_ptr(&s) as *const Wide as usize % 64, 0);
    assert_eq!(s[2], Wide(3));
}

trait Shape: Trace + Send + Sync {
    fn area(&self) -> u64;
}

#[derive(Trace, Finalize)]
struct Square(u64);
impl Shape for Square {
    fn area(&self) -> u64 {
        self.0 * self.0
    }
}

#[derive(Trace, Finalize)]
struct Group {
    members: Vec<Gc<Leaf>>,
    nested: GcCell<Option<Gc<dyn Shape>>>,
}
impl Shape for Group {
    fn area(&self) -> u64 {
        self.members.iter().map(|m| m.id).sum::<u64>()
            + self.nested.borrow().as_ref().map_or(0, |n| n.area())
    }
}

#[test]
fn dyn_objects_from_boxes_are_traced_and_dropped() {
    let c = Arc::new(AtomicUsize::new(0));
    let boxed: Box<dyn Shape> = Box::new(Group {
        members: (1..=4).map(|i| leaf(i, &c)).collect(),
        nested: GcCell::new(None),
    });
    let g: Gc<dyn Shape> = Gc::from_box(boxed);
    let sq: Gc<dyn Shape> = Gc::from_box(Box::new(Square(5)) as Box<dyn Shape>);
    // A `Gc<dyn Shape>` inside another dyn object.
    let outer: Gc<dyn Shape> = Gc::from_box(Box::new(Group {
        members: Vec::new(),
        nested: GcCell::new(Some(g)),
    }) as Box<dyn Shape>);
    drop(sq);
    for _ in 0..3 {
        collect();
    }
    assert_eq!(
        c.load(Ordering::SeqCst),
        0,
        "members reached through two trailers"
    );
    assert_eq!(outer.area(), 10);
    drop(outer);
    collect();
    collect();
    assert_eq!(c.load(Ordering::SeqCst), 4);
}

#[test]
fn unsize_keeps_the_object_its_root_and_its_finalizer() {
    static FINALIZED: AtomicUsize = AtomicUsize::new(0);
    #[derive(Trace)]
    struct Noisy(u64);
    impl Finalize for Noisy {
        fn finalize(&self) {
            FINALIZED.fetch_add(1, Ordering::SeqCst);
        }
    }
    impl Debug for Noisy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Noisy({})", self.0)
        }
    }
    let n = Gc::new(Noisy(3));
    let addr = Gc::as_ptr(&n) as *const u8;
    let d: Gc<dyn Debug + Send + Sync> = Gc::unsize(n, |x| x as _);
    assert_eq!(Gc::root_count(&d), 1);
    assert_eq!(Gc::as_ptr(&d) as *const u8, addr);
    assert_eq!(format!("{d:?}"), "Noisy(3)");
    let d2 = d.clone();
    assert_eq!(Gc::root_count(&d), 2);
    drop((d, d2));
    for _ in 0..4 {
        collect();
        run_finalizers();
    }
    assert_eq!(FINALIZED.load(Ordering::SeqCst), 1);

    let arr: Gc<[u16; 4]> = Gc::new([1, 2, 3, 4]);
    let s: Gc<[u16]> = Gc::unsize(arr, |a| a as &[u16]);
    assert_eq!(s.iter().sum::<u16>(), 10);
}

#[test]
#[should_panic(expected = "the closure must return the value it was given")]
fn unsize_rejects_a_different_value() {
    static OTHER: u64 = 9;
    let n = Gc::new(1u64);
    let _bad: Gc<dyn Debug + Send + Sync> = Gc::unsize(n, |_| &OTHER as _);
}

#[test]
fn raw_handles_keep_their_root() {
    let c = Arc::new(AtomicUsize::new(0));
    let l = leaf(42, &c);
    let w = Gc::downgrade(&l);
    let raw = Gc::into_raw(l);
    assert_eq!(raw as usize & 0x7, 0, "8-aligned: three tag bits are free");
    for _ in 0..3 {
        collect();
    }
    assert!(w.upgrade().is_some(), "a raw pointer is a root");
    // SAFETY: `raw` came from `into_raw` of a `Gc<Leaf>`, converted back once.
    let back = unsafe { Gc::from_raw(raw) };
    assert_eq!(back.id, 42);
    assert_eq!(Gc::root_count(&back), 1);
    drop(back);
    collect();
    collect();
    assert!(w.upgrade().is_none());
    assert_eq!(c.load(Ordering::SeqCst), 1);

    // Unsized raw handles keep their metadata.
    let s: Gc<[u8]> = Gc::from(&b"tagged"[..]);
    let p = Gc::into_raw(s);
    // SAFETY: as above.
    let s = unsafe { Gc::from_raw(p) };
    assert_eq!(&*s, b"tagged");
}

/// `#[derive(Trace, Finalize)]` on structs whose last field is unsized, made by unsizing a
/// sized instance (the peers' suites had `struct Bytes([u8]);`).
mod derived_unsized {
    use tricolor_gc::{self as gc, Finalize, Gc, Trace};

    #[derive(Trace, Finalize)]
    struct Tail<T: ?Sized + Trace> {
        tag: u32,
        items: T,
    }

    // These two only have to compile: a struct whose last field is unsized cannot be built
    // without a generic parameter to unsize (as for std's own types).
    #[allow(dead_code)]
    #[derive(Trace, Finalize)]
    struct Bytes([u8]);

    #[allow(dead_code)]
    #[derive(Trace, Finalize)]
    struct Handles {
        n: u32,
        rest: [Gc<String>],
    }

    trait Named: Trace + Send + Sync {
        fn name(&self) -> String;
    }

    #[derive(Trace, Finalize)]
    struct Who(Gc<String>);

    impl Named for Who {
        fn name(&self) -> String {
            (*self.0).clone()
        }
    }

    #[test]
    fn a_maybe_unsized_parameter_is_classified_conservatively() {
        // The derive cannot ask a `?Sized` field for its flags: it is scanned and dropped.
        assert!(!<Tail<[u8; 4]> as Trace>::is_noscan());
        assert!(<Tail<[u8; 4]> as Trace>::needs_sweep_drop());
    }

    #[test]
    fn unsized_tails_live_in_the_heap() {
        let sized: Gc<Tail<[Gc<String>; 3]>> = Gc::new(Tail {
            tag: 7,
            items: [
                Gc::new("a".to_string()),
                Gc::new("b".to_string()),
                Gc::new("c".to_string()),
            ],
        });
        let slice: Gc<Tail<[Gc<String>]>> = Gc::unsize(sized, |t| t as &Tail<[Gc<String>]>);
        let dynamic: Gc<Tail<dyn Named>> = Gc::unsize(
            Gc::new(Tail {
                tag: 8,
                items: Who(Gc::new("who".to_string())),
            }),
            |t| t as &Tail<dyn Named>,
        );
        let _ = gc::Gc::new(vec![0u8; 1 << 16]); // garbage, so that cycles free something
        for _ in 0..3 {
            gc::collect();
        }
        // The handles inside the unsized tails were traced: their strings are intact.
        assert_eq!(slice.tag, 7);
        let names: Vec<&str> = slice.items.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!((dynamic.tag, dynamic.items.name()), (8, "who".to_string()));
    }
}
