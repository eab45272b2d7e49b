use std::sync::atomic::{AtomicUsize, Ordering};
use tricolor_core::{collect, stats, Finalize, Gc, GcCell, Trace, Tracer};

static DROPS: AtomicUsize = AtomicUsize::new(0);

struct Node {
    next: GcCell<Option<Gc<Node>>>,
    payload: String,
}
impl Finalize for Node {
    fn has_finalizer() -> bool {
        false
    }
}
// SAFETY: visits the one field that holds handles.
unsafe impl Trace for Node {
    fn trace(&self, t: &mut Tracer) {
        self.next.trace(t)
    }
    unsafe fn root(&mut self) {
        // SAFETY: forwarded from the collector.
        unsafe { self.next.root() }
    }
    unsafe fn unroot(&mut self) {
        // SAFETY: forwarded from the collector.
        unsafe { self.next.unroot() }
    }
}
struct Counted(u64);
impl Finalize for Counted {
    fn has_finalizer() -> bool {
        false
    }
}
impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}
// SAFETY: holds no handle.
unsafe impl Trace for Counted {
    tricolor_core::unsafe_empty_trace!();
}

#[test]
fn smoke() {
    let a = Gc::new(Node {
        next: GcCell::new(None),
        payload: "a".into(),
    });
    let b = Gc::new(Node {
        next: GcCell::new(Some(a.clone())),
        payload: "b".into(),
    });
    *a.next.borrow_mut() = Some(b.clone()); // cycle
    assert_eq!(Gc::root_count(&a), 1);
    assert_eq!(Gc::root_count(&b), 1);
    for i in 0..10_000u64 {
        let _ = Gc::new(Counted(i));
    }
    collect();
    assert_eq!(DROPS.load(Ordering::SeqCst), 10_000);
    assert_eq!(a.next.borrow().as_ref().unwrap().payload, "b");
    drop(a);
    drop(b);
    collect();
    let s = stats();
    assert!(s.num_gc >= 2, "{s:?}");
    let live: Vec<Gc<Counted>> = (0..1000).map(|i| Gc::new(Counted(i))).collect();
    collect();
    collect();
    assert_eq!(DROPS.load(Ordering::SeqCst), 10_000);
    assert!(live.iter().enumerate().all(|(i, g)| g.0 == i as u64));
    drop(live);
    collect();
    assert_eq!(DROPS.load(Ordering::SeqCst), 11_000);
}
