//! Every std `Trace` impl keeps what it holds alive and lets it go: a handle inside each
//! container survives cycles while the container object is reachable, and is freed after —
//! one cycle after the container for the keys of maps and the elements of sets, which stay
//! roots while held (their root is released when the sweeper drops the container).

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::sync::Arc;
use tricolor_gc::{collect, Finalize, Gc, Trace, Weak};

fn check<C: Trace + Send + Sync + 'static>(make: impl FnOnce(Gc<u64>) -> C, name: &str) {
    check_freed_after(make, name, 1)
}

/// Like `check`, for containers whose handles stay roots: freed `cycles` cycles after the
/// container becomes unreachable.
fn check_freed_after<C: Trace + Send + Sync + 'static>(
    make: impl FnOnce(Gc<u64>) -> C,
    name: &str,
    cycles: usize,
) {
    let target = Gc::new(42u64);
    let w: Weak<u64> = Gc::downgrade(&target);
    let holder = Gc::new(make(target));
    for _ in 0..2 {
        collect();
        assert_eq!(
            *w.upgrade()
                .unwrap_or_else(|| panic!("{name}: freed while held")),
            42
        );
    }
    drop(holder);
    for _ in 1..cycles {
        collect();
    }
    collect();
    assert!(w.upgrade().is_none(), "{name}: not freed once unreachable");
}

#[test]
fn containers() {
    check(Some, "Option");
    check(Ok::<_, String>, "Result::Ok");
    check(Err::<u8, _>, "Result::Err");
    check(Box::new, "Box");
    check(|g| vec![g], "Vec");
    check(|g| VecDeque::from(vec![g]), "VecDeque");
    check(|g| LinkedList::from([g]), "LinkedList");
    check(|g| [g.clone(), g], "array");
    check(|g| (1u8, g, "x".to_string()), "tuple");
    check(|g| HashMap::from([(1u32, g)]), "HashMap value");
    check_freed_after(|g| HashMap::from([(g, 1u32)]), "HashMap key", 2);
    check(|g| BTreeMap::from([(1u32, g)]), "BTreeMap value");
    check_freed_after(|g| BTreeMap::from([(g, 1u32)]), "BTreeMap key", 2);
    check_freed_after(|g| HashSet::from([g]), "HashSet", 2);
    check_freed_after(|g| BTreeSet::from([g]), "BTreeSet", 2);
    check_freed_after(|g| BinaryHeap::from(vec![g]), "BinaryHeap", 2);
    check(|g| vec![vec![Some(Box::new(g))]], "nested");
    check(|g| g.clone()..g, "Range");
    check(|g| g.., "RangeFrom");
    check(|g| ..g, "RangeTo");
    check(|g| ..=g, "RangeToInclusive");
    check(std::ops::Bound::Included, "Bound::Included");
    check(std::num::Wrapping, "Wrapping");
    check(std::num::Saturating, "Saturating");
    check(std::cmp::Reverse, "Reverse");
    check(
        |g| std::borrow::Cow::<[Gc<u64>]>::Owned(vec![g]),
        "Cow::Owned",
    );
    check(|g| (Box::<[Gc<u64>]>::from(vec![g]), 1u8), "Box<[T]>");
    check(|g| Gc::<[Gc<u64>]>::from(vec![g]), "Gc<[T]>");
}

#[test]
fn arc_keeps_its_contents_rooted() {
    // An Arc's contents may be shared with Rust code, so they stay roots: freed only when the
    // last Arc goes.
    let target = Gc::new(7u64);
    let w = Gc::downgrade(&target);
    let shared = Arc::new(target);
    let holder = Gc::new(shared.clone());
    drop(holder);
    collect();
    assert_eq!(
        *w.upgrade().unwrap(),
        7,
        "the Arc outside the heap still holds it"
    );
    drop(shared);
    collect();
    assert!(w.upgrade().is_none());
}

/// Rooting and unrooting a map or a set (moving it into the heap, a `GcCell` borrow and its
/// release) runs none of its keys' `Hash`/`Eq`/`Ord`: the keys' handles stay roots instead of
/// the container being rebuilt around flipped handles.
#[test]
fn keyed_containers_run_no_user_code_when_rooted() {
    use std::hash::{Hash, Hasher};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tricolor_gc::GcCell;
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    #[derive(Trace, Finalize, PartialEq, Eq, PartialOrd, Ord)]
    struct K(u64);
    impl Hash for K {
        fn hash<H: Hasher>(&self, h: &mut H) {
            CALLS.fetch_add(1, Ordering::SeqCst);
            self.0.hash(h)
        }
    }
    let map: HashMap<Gc<K>, Gc<u64>> = (0..10).map(|i| (Gc::new(K(i)), Gc::new(i))).collect();
    let set: BTreeSet<Gc<K>> = (0..10).map(|i| Gc::new(K(i))).collect();
    let key = map.keys().next().unwrap().clone();
    let value = map.values().next().unwrap().clone();
    let before = CALLS.load(Ordering::SeqCst);
    let cell = Gc::new(GcCell::new((map, set)));
    assert_eq!(Gc::root_count(&key), 2, "a key stays a root in the heap");
    assert_eq!(Gc::root_count(&value), 1, "a value is unrooted");
    for _ in 0..3 {
        let g = cell.borrow_mut();
        assert_eq!(Gc::root_count(&value), 2, "borrowed contents are roots");
        drop(g);
        collect();
    }
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        before,
        "Hash ran while rooting"
    );
    assert_eq!(Gc::root_count(&value), 1);
    assert_eq!(cell.borrow().0.len() + cell.borrow().1.len(), 20);
}

#[test]
fn leaves_are_noscan() {
    fn noscan<T: Trace>() -> bool {
        T::is_noscan()
    }
    assert!(noscan::<u64>() && noscan::<String>() && noscan::<Vec<u8>>() && noscan::<(u8, f64)>());
    assert!(noscan::<HashMap<String, Vec<i32>>>() && !noscan::<Option<Box<[u8; 4]>>>());
    assert!(!noscan::<Gc<u8>>() && !noscan::<Vec<Gc<u8>>>() && !noscan::<(u8, Gc<u8>)>());
    assert!(noscan::<Weak<u8>>());
    assert!(noscan::<std::ops::Range<u32>>() && !noscan::<std::ops::Range<Gc<u8>>>());
    assert!(
        noscan::<std::borrow::Cow<'static, str>>() && noscan::<std::ops::RangeInclusive<i64>>()
    );
    fn sweep_drop<T: Trace>() -> bool {
        T::needs_sweep_drop()
    }
    assert!(
        !sweep_drop::<Gc<u8>>()
            && !sweep_drop::<(Gc<u8>, u64)>()
            && !sweep_drop::<Option<Gc<u8>>>()
    );
    assert!(sweep_drop::<String>() && sweep_drop::<Vec<Gc<u8>>>());
    fn fin<T: Finalize>() -> bool {
        T::has_finalizer()
    }
    assert!(!fin::<u8>() && !fin::<Vec<Gc<u8>>>() && !fin::<Gc<u8>>());
}

#[test]
fn leaf_types_round_trip() {
    let v = Gc::new((
        1u8, 2u16, 3u32, 4u64, 5u128, 6usize, -1i8, -2i16, -3i32, -4i64, -5i128, 1.5f32,
    ));
    let w = Gc::new((
        2.5f64,
        'x',
        true,
        (),
        String::from("s"),
        std::time::Duration::from_secs(1),
    ));
    let x = Gc::new((
        1u32..=9,
        ..,
        std::borrow::Cow::<'static, str>::Borrowed("cow"),
        std::path::PathBuf::from("/tmp/a"),
        Box::<std::path::Path>::from(std::path::Path::new("/b")),
        std::net::IpAddr::from([127, 0, 0, 1]),
        std::num::NonZeroU32::new(3).unwrap(),
        std::cmp::Ordering::Less,
        std::any::TypeId::of::<u8>(),
        &42u8,
        (u8::checked_add as fn(u8, u8) -> Option<u8>),
    ));
    let p: Gc<std::path::Path> = Gc::from_box(Box::from(std::path::Path::new("/c/d")));
    collect();
    assert_eq!(v.4, 5);
    assert_eq!(w.4, "s");
    assert_eq!(x.0.clone().sum::<u32>(), 45);
    assert_eq!(x.4.to_str(), Some("/b"));
    assert_eq!(x.5.to_string(), "127.0.0.1");
    assert_eq!(p.file_name().unwrap(), "d");
    assert_eq!((x.10)(250, 10), None);
}
