//! Root counts, checked exactly, through `Gc::new`, `clone`, drop and `GcCell::borrow_mut`.

use tricolor_gc::{collect, Finalize, Gc, GcCell, Trace};

#[derive(Trace, Finalize)]
struct Pair {
    a: Gc<u64>,
    b: Option<Gc<u64>>,
}

#[test]
fn new_unroots_what_moves_in() {
    let x = Gc::new(1u64);
    let y = Gc::new(2u64);
    assert_eq!(Gc::root_count(&x), 1);
    let x2 = x.clone();
    assert_eq!(Gc::root_count(&x), 2);
    let p = Gc::new(Pair { a: x2, b: Some(y) });
    assert_eq!(
        Gc::root_count(&x),
        1,
        "the moved clone stopped being a root"
    );
    assert_eq!(
        Gc::root_count(p.b.as_ref().unwrap()),
        0,
        "y is held only by the heap"
    );
    assert!(!Gc::is_root(&p.a));
    assert_eq!(Gc::root_count(&p), 1);
    drop(x);
    assert_eq!(Gc::root_count(&p.a), 0);
    collect();
    assert_eq!(*p.a + **p.b.as_ref().unwrap(), 3);
}

#[test]
fn clone_of_an_unrooted_handle_is_a_root() {
    let p = Gc::new(Pair {
        a: Gc::new(5),
        b: None,
    });
    let a = p.a.clone();
    assert!(Gc::is_root(&a));
    assert_eq!(Gc::root_count(&a), 1);
    let a2 = a.clone();
    assert_eq!(Gc::root_count(&a), 2);
    drop(a2);
    drop(a);
    assert_eq!(Gc::root_count(&p.a), 0);
}

#[test]
fn borrow_mut_roots_for_its_duration() {
    let inner = Gc::new(9u64);
    let cell = Gc::new(GcCell::new(vec![inner.clone()]));
    assert_eq!(Gc::root_count(&inner), 1, "only `inner` itself");
    {
        let g = cell.borrow_mut();
        assert_eq!(Gc::root_count(&inner), 2, "the borrowed contents are roots");
        assert!(Gc::is_root(&g[0]));
    }
    assert_eq!(
        Gc::root_count(&inner),
        1,
        "released contents are unrooted again"
    );
    {
        let r = cell.borrow();
        assert_eq!(Gc::root_count(&inner), 1, "a shared borrow roots nothing");
        assert!(!Gc::is_root(&r[0]));
    }
    let out = cell.borrow_mut().pop().unwrap();
    assert_eq!(Gc::root_count(&inner), 2, "the popped handle stays a root");
    drop(out);
    assert_eq!(Gc::root_count(&inner), 1);
}

#[test]
fn cell_outside_the_heap_keeps_roots() {
    let inner = Gc::new(1u64);
    let cell = GcCell::new(vec![inner.clone()]);
    assert_eq!(Gc::root_count(&inner), 2);
    cell.borrow_mut().push(inner.clone());
    assert_eq!(
        Gc::root_count(&inner),
        3,
        "a cell on the stack does not unroot"
    );
    drop(cell);
    assert_eq!(Gc::root_count(&inner), 1);
}

#[test]
fn try_borrow_forms_report_errors() {
    let cell = Gc::new(GcCell::new(1u64));
    let r = cell.borrow();
    assert!(cell.try_borrow_mut().is_err());
    assert!(cell.try_borrow().is_ok());
    drop(r);
    let w = cell.borrow_mut();
    assert!(cell.try_borrow().is_err());
    assert!(cell.try_borrow_mut().is_err());
    drop(w);
    assert_eq!(*cell.try_borrow().unwrap(), 1);
}

#[test]
fn a_panic_inside_borrow_mut_leaves_the_heap_consistent() {
    let inner = Gc::new(4u64);
    let cell = Gc::new(GcCell::new(vec![inner.clone()]));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut g = cell.borrow_mut();
        g.push(Gc::new(5));
        panic!("inside the guard (expected by the test)");
    }));
    assert!(r.is_err());
    assert_eq!(Gc::root_count(&inner), 1);
    assert!(cell.try_borrow_mut().is_ok());
    collect();
    assert_eq!(cell.borrow().iter().map(|g| **g).sum::<u64>(), 9);
}

#[test]
fn forwarding_traits() {
    use std::collections::HashSet;
    let a = Gc::new(String::from("a"));
    let b = Gc::new(String::from("b"));
    assert!(a < b);
    assert_eq!(a, Gc::new(String::from("a")));
    assert_eq!(format!("{a} {b:?}"), "a \"b\"");
    let set: HashSet<Gc<String>> = [a.clone(), b.clone(), a.clone()].into_iter().collect();
    assert_eq!(set.len(), 2);
    assert_eq!(std::mem::size_of::<Gc<u64>>(), std::mem::size_of::<usize>());
    assert_eq!(
        std::mem::size_of::<Option<Gc<u64>>>(),
        std::mem::size_of::<usize>()
    );
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Gc<String>>();
    send_sync::<GcCell<Vec<Gc<u8>>>>();
}

#[test]
fn a_mapped_guard_roots_and_unroots_the_whole_cell() {
    use tricolor_gc::GcCellRefMut;
    let cell = Gc::new(GcCell::new((Gc::new(1u64), vec![Gc::new(2u64)])));
    let first = cell.borrow().0.clone();
    assert_eq!(Gc::root_count(&first), 1, "only our clone");
    let taken = {
        let mut list = GcCellRefMut::map(cell.borrow_mut(), |pair| &mut pair.1);
        // The borrow rooted all of the contents, including the part the mapped guard hides.
        assert_eq!(Gc::root_count(&first), 2);
        let taken = list.pop().expect("one element");
        list.push(Gc::new(3u64));
        taken
    };
    assert_eq!(
        Gc::root_count(&first),
        1,
        "the hidden part was unrooted at release"
    );
    assert_eq!(Gc::root_count(&taken), 1, "what left the cell stays rooted");
    assert!(!Gc::is_root(&cell.borrow().1[0]));
    assert_eq!(Gc::root_count(&cell.borrow().1[0]), 0);
    collect();
    assert_eq!((*taken, *cell.borrow().1[0], *first), (2, 3, 1));
    // filter_map that finds nothing gives the guard back, still holding the borrow.
    let back = GcCellRefMut::filter_map(cell.borrow_mut(), |pair| pair.1.get_mut(5))
        .expect_err("nothing at 5");
    assert!(cell.try_borrow().is_err());
    drop(back);
    assert!(cell.try_borrow_mut().is_ok());
}

#[test]
fn a_panic_inside_a_map_closure_releases_the_borrow() {
    use tricolor_gc::{GcCellRef, GcCellRefMut};
    let cell = Gc::new(GcCell::new(vec![Gc::new(1u64)]));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _g = GcCellRefMut::map(cell.borrow_mut(), |_| -> &mut Vec<Gc<u64>> {
            panic!("in map")
        });
    }));
    assert!(r.is_err());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _g = GcCellRef::map(cell.borrow(), |_| -> &Vec<Gc<u64>> { panic!("in map") });
    }));
    assert!(r.is_err());
    assert!(cell.try_borrow_mut().is_ok());
    assert_eq!(
        Gc::root_count(&cell.borrow()[0]),
        0,
        "released, so unrooted again"
    );
}

#[test]
fn replace_take_and_swap_move_roots_exactly() {
    let a = Gc::new(GcCell::new(Some(Gc::new(1u64))));
    let b = Gc::new(GcCell::new(Some(Gc::new(2u64))));
    let fresh = Gc::new(3u64);
    let old = a.replace(Some(fresh.clone())).expect("was set");
    assert_eq!(
        Gc::root_count(&old),
        1,
        "the old value is the caller's root"
    );
    assert_eq!(
        Gc::root_count(&fresh),
        1,
        "the copy moved in stopped being a root"
    );
    a.swap(&b);
    a.swap(&a);
    assert_eq!(**a.borrow().as_ref().unwrap(), 2);
    assert_eq!(Gc::root_count(a.borrow().as_ref().unwrap()), 0);
    let taken = b.take().expect("was set");
    assert!(b.borrow().is_none());
    assert_eq!(Gc::root_count(&taken), 2, "ours and `fresh`");
    assert_eq!(a.replace_with(|v| v.clone()).map(|g| *g), Some(2));
    collect();
    assert_eq!((*old, *taken, **a.borrow().as_ref().unwrap()), (1, 3, 2));
}

/// Objects that have lived unrooted in the heap through a few cycles, then taken out of it (a
/// count going 0 → 1, through each way out: `GcVec::get`, a `GcCell` borrow, `Weak::upgrade`)
/// while everything else that held them dies: the next root scans must find them. A root scan
/// that skipped memory it believed root-free (DESIGN-NOTES, "Root-scan span flags") fails
/// here: the values have drop glue, so the sweep checks the root count of every dead object,
/// finds a rooted object unmarked, reports a collector bug and aborts.
#[test]
fn roots_taken_out_of_the_heap_after_quiet_cycles_are_found() {
    use tricolor_gc::{GcVec, Weak};
    const N: u64 = 20_000;
    type Val = Gc<Box<u64>>;
    let boxed = |i: u64| Gc::new(Box::new(i));
    let v: Gc<GcVec<Val>> = Gc::new((0..N).map(boxed).collect());
    let cells: Gc<Vec<GcCell<Option<Val>>>> =
        Gc::new((0..N).map(|i| GcCell::new(Some(boxed(N + i)))).collect());
    let weak: Vec<Weak<Box<u64>>> = (0..N)
        .step_by(97)
        .map(|i| Gc::downgrade(&cells[i as usize].borrow().clone().unwrap()))
        .collect();
    // Quiet cycles: every element stays unrooted through several root scans.
    for _ in 0..3 {
        collect();
    }
    let mut held: Vec<(u64, Val)> = Vec::new();
    for i in (0..N).step_by(101) {
        held.push((i, v.get(i as usize).unwrap()));
        let c = cells[i as usize].borrow().clone().unwrap();
        assert_eq!(Gc::root_count(&c), 1);
        held.push((N + i, c));
    }
    for (k, w) in (0..N).step_by(97).zip(&weak) {
        held.push((N + k, w.upgrade().unwrap()));
    }
    // Only the held handles keep these objects now.
    v.clear();
    drop(v);
    drop(cells);
    for _ in 0..3 {
        collect();
    }
    for (want, g) in &held {
        assert_eq!(***g, *want);
        assert!(Gc::root_count(g) >= 1);
    }
}
