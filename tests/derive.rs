//! Every derive form and attribute, and the flags the derive computes.

use std::marker::PhantomData;
use tricolor_gc::{collect, Finalize, Gc, GcCell, Trace};

fn noscan<T: Trace>() -> bool {
    T::is_noscan()
}
fn sweep_drop<T: Trace>() -> bool {
    T::needs_sweep_drop()
}
fn finalizer<T: Finalize>() -> bool {
    T::has_finalizer()
}

#[derive(Trace, Finalize)]
struct Named {
    a: Gc<u64>,
    b: Option<Gc<u64>>,
}

#[derive(Trace, Finalize)]
struct Tuple(Gc<u64>, u8);

#[derive(Trace, Finalize)]
struct Unit;

#[derive(Trace, Finalize)]
struct Plain {
    x: i64,
    y: (u8, f64),
}

#[derive(Trace, Finalize)]
struct WithString {
    s: String,
}

#[derive(Trace, Finalize)]
enum Value {
    Nil,
    Int(i64),
    Pair(Gc<GcCell<(Value, Value)>>),
    Named { s: Gc<String>, n: u32 },
}

#[derive(Trace, Finalize)]
struct Pair<A, B> {
    a: A,
    b: B,
}

#[derive(Trace, Finalize)]
struct Bounded<T>
where
    T: Clone,
{
    items: Vec<T>,
}

struct NotTrace(#[allow(dead_code)] std::fs::File);

#[derive(Trace, Finalize)]
struct Ignoring {
    #[gc(ignore)]
    _file: Option<NotTrace>,
    #[unsafe_ignore_trace]
    _also: PhantomData<NotTrace>,
    g: Gc<u8>,
}

trait Marker {}
impl Marker for u32 {}

#[derive(Trace, Finalize)]
#[gc(bound = "T: Trace + Marker")]
struct CustomBound<T> {
    t: T,
}

mod renamed {
    extern crate tricolor_gc as renamed_gc;
    #[derive(renamed_gc::Trace, renamed_gc::Finalize)]
    #[gc(crate = "renamed_gc")]
    pub struct R {
        pub g: renamed_gc::Gc<u32>,
    }
}

#[test]
fn flags() {
    assert!(!noscan::<Named>() && !sweep_drop::<Named>());
    assert!(!noscan::<Tuple>() && !sweep_drop::<Tuple>());
    assert!(noscan::<Unit>() && !sweep_drop::<Unit>());
    assert!(noscan::<Plain>() && !sweep_drop::<Plain>());
    assert!(noscan::<WithString>() && sweep_drop::<WithString>());
    assert!(!noscan::<Value>());
    assert!(noscan::<Pair<u8, String>>() && !noscan::<Pair<u8, Gc<u8>>>());
    assert!(
        sweep_drop::<Ignoring>(),
        "an ignored field with drop glue still needs it"
    );
    assert!(!finalizer::<Named>() && !finalizer::<Value>() && !finalizer::<Unit>());
}

/// A `GcCell` answers with its contents' flags: a cell of handles in a dead object has nothing
/// to drop (its handles are unrooted), so objects holding one stay on the bitmap-only sweep.
#[test]
fn cells_take_their_contents_flags() {
    assert!(!sweep_drop::<GcCell<Gc<u8>>>() && !sweep_drop::<GcCell<Named>>());
    assert!(!sweep_drop::<GcCell<[Option<Gc<u8>>; 4]>>());
    assert!(sweep_drop::<GcCell<String>>() && sweep_drop::<GcCell<Vec<Gc<u8>>>>());
    assert!(noscan::<GcCell<u64>>() && !noscan::<GcCell<Gc<u8>>>());
}

/// Objects whose cells hold handles, swept without drop glue, still free what they held and
/// keep what is reachable, across cycles.
#[test]
fn cells_of_handles_are_swept_and_their_contents_kept_or_freed() {
    #[derive(Trace, Finalize)]
    struct Node {
        next: GcCell<Option<Gc<Node>>>,
        n: u64,
    }
    let head = Gc::new(Node {
        next: GcCell::new(None),
        n: 0,
    });
    let mut tail = head.clone();
    for n in 1..10_000 {
        let node = Gc::new(Node {
            next: GcCell::new(None),
            n,
        });
        *tail.next.borrow_mut() = Some(node.clone());
        tail = node;
        // Garbage beside the list: cells of handles that become unreachable at once.
        let _ = Gc::new(Node {
            next: GcCell::new(Some(tail.clone())),
            n: u64::MAX,
        });
    }
    drop(tail);
    collect();
    collect();
    let (mut at, mut sum) = (Some(head), 0);
    while let Some(node) = at {
        sum += node.n;
        at = node.next.borrow().clone();
    }
    assert_eq!(sum, (0..10_000).sum::<u64>());
}

#[test]
fn values_survive_and_read_back() {
    let n = Gc::new(Named {
        a: Gc::new(1),
        b: Some(Gc::new(2)),
    });
    let t = Gc::new(Tuple(Gc::new(3), 4));
    let _u = Gc::new(Unit);
    let v = Gc::new(GcCell::new((Value::Int(5), Value::Nil)));
    v.borrow_mut().1 = Value::Pair(v.clone());
    let named = Gc::new(Value::Named {
        s: Gc::new("six".into()),
        n: 6,
    });
    let p = Gc::new(Pair {
        a: Gc::new(7u8),
        b: String::from("eight"),
    });
    let b = Gc::new(Bounded {
        items: vec![Gc::new(9u8)],
    });
    let i = Gc::new(Ignoring {
        _file: None,
        _also: PhantomData,
        g: Gc::new(10),
    });
    let c = Gc::new(CustomBound { t: 11u32 });
    let r = Gc::new(renamed::R { g: Gc::new(12) });
    collect();
    collect();
    assert_eq!(*n.a + **n.b.as_ref().unwrap(), 3);
    assert_eq!(*t.0 + t.1 as u64, 7);
    assert!(matches!(v.borrow().0, Value::Int(5)));
    assert!(matches!(&v.borrow().1, Value::Pair(p) if Gc::ptr_eq(p, &v)));
    assert!(matches!(&*named, Value::Named { s, n: 6 } if s.as_str() == "six"));
    assert_eq!((*p.a, p.b.as_str()), (7, "eight"));
    assert_eq!(*b.items[0], 9);
    assert_eq!(*i.g, 10);
    assert_eq!(c.t, 11);
    assert_eq!(*r.g, 12);
}

#[test]
fn dyn_trace_objects() {
    trait Shape: Trace + Send + Sync {
        fn area(&self) -> f64;
    }
    #[derive(Trace, Finalize)]
    struct Sq(f64, Gc<u8>);
    impl Shape for Sq {
        fn area(&self) -> f64 {
            self.0 * self.0
        }
    }
    let shapes: Gc<Vec<Box<dyn Shape>>> = Gc::new(vec![
        Box::new(Sq(2.0, Gc::new(1))),
        Box::new(Sq(3.0, Gc::new(2))),
    ]);
    collect();
    assert_eq!(shapes.iter().map(|s| s.area()).sum::<f64>(), 13.0);
}
