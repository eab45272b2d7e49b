//! The weak-reference peers that both `benches/weak.rs` and the suite's `weak` workload run:
//! a strong handle, its `downgrade`, an `upgrade` that reads the value.

/// What a peer offers: make a strong handle, downgrade it, upgrade a weak one.
pub trait WeakPeer {
    type Strong;
    type Weak;
    fn new(v: u64) -> Self::Strong;
    fn downgrade(s: &Self::Strong) -> Self::Weak;
    fn upgrade(w: &Self::Weak) -> Option<u64>;
}

/// Implements `WeakPeer` for `$peer` with the given handle types and calls.
macro_rules! weak_peer {
    ($peer:ident, $strong:ty, $weak:ty, $new:expr, $down:expr) => {
        pub struct $peer;
        impl WeakPeer for $peer {
            type Strong = $strong;
            type Weak = $weak;
            fn new(v: u64) -> Self::Strong {
                $new(v)
            }
            fn downgrade(s: &Self::Strong) -> Self::Weak {
                $down(s)
            }
            fn upgrade(w: &Self::Weak) -> Option<u64> {
                w.upgrade().map(|g| *g)
            }
        }
    };
}

weak_peer!(
    Tricolor,
    tricolor_gc::Gc<u64>,
    tricolor_gc::Weak<u64>,
    tricolor_gc::Gc::new,
    tricolor_gc::Gc::downgrade
);
weak_peer!(
    ArcPeer,
    std::sync::Arc<u64>,
    std::sync::Weak<u64>,
    std::sync::Arc::new,
    std::sync::Arc::downgrade
);
weak_peer!(
    RcPeer,
    std::rc::Rc<u64>,
    std::rc::Weak<u64>,
    std::rc::Rc::new,
    std::rc::Rc::downgrade
);
