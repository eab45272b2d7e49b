//! The peers, in one place: their names in table order (`PEERS`), and for each peer whose objects
//! sit behind a smart pointer, everything a workload needs to write its code once for all of
//! them (`with_peer!`): the name the report uses, the handle type, the cell its mutable fields
//! use, the derive for its traced types, the attribute that skips a field, and how to force a
//! collection.
//!
//! A workload writes one body macro taking those facts, instantiates it for the peers it can
//! express with `pointer_peers!`, and finds a peer's code by name with `dispatch!`. Peers that are
//! not smart pointers (`bumpalo`, `gc-arena`, Go) are written by hand where they take part.

#[allow(unused_imports)]
pub use boa_gc::{Gc as BoaGc, GcRefCell};
pub use dumpster::sync::Gc as DumpsterSyncGc;
pub use dumpster::unsync::Gc as DumpsterGc;
#[allow(unused_imports)]
pub use gc::{Gc as RustGc, GcCell as RustGcCell};
pub use std::cell::RefCell;
pub use std::rc::Rc;
pub use std::sync::{Arc, Mutex};
pub use tricolor_gc::{Gc as TricolorGc, GcCell as TricolorGcCell};

/// The peers, in table order. "Go" runs the programs in `benches/go/`; "tricolor-GcSlot" is
/// tricolor with `GcSlot` fields instead of `GcCell` where a workload has both (GCBench).
pub const PEERS: &[&str] = &[
    "tricolor",
    "tricolor-GcSlot",
    "Box",
    "Rc",
    "Arc",
    "bumpalo",
    "gc",
    "boa_gc",
    "dumpster",
    "dumpster-sync",
    "gc-arena",
    "Go",
];

/// The facts of the smart-pointer peer whose module is `$m`, appended to the arguments of the
/// macro call given: `$body!(args.., module, "name", Handle, Cell, [type attributes],
/// [skipped-field attributes], collect)`. `Cell` is the interior-mutability type the peer's own
/// users reach for (`RefCell` for single-threaded handles, `Mutex` for `Arc`-like ones, the
/// collector's cell for the tracing peers); `collect` forces a full collection, `()` where there
/// is no collector.
#[macro_export]
macro_rules! with_peer {
    (boxed, $body:ident!($($a:tt)*)) => {
        $body!($($a)* boxed, "Box", Box, RefCell, [], [], ());
    };
    (rc, $body:ident!($($a:tt)*)) => {
        $body!($($a)* rc, "Rc", Rc, RefCell, [], [], ());
    };
    (arc, $body:ident!($($a:tt)*)) => {
        $body!($($a)* arc, "Arc", Arc, Mutex, [], [], ());
    };
    (gc_crate, $body:ident!($($a:tt)*)) => {
        $body!($($a)* gc_crate, "gc", RustGc, RustGcCell,
            [#[derive(gc::Trace, gc::Finalize)]], [#[unsafe_ignore_trace]], gc::force_collect());
    };
    (boa, $body:ident!($($a:tt)*)) => {
        $body!($($a)* boa, "boa_gc", BoaGc, GcRefCell,
            [#[derive(boa_gc::Trace, boa_gc::Finalize)]], [#[unsafe_ignore_trace]],
            boa_gc::force_collect());
    };
    (dumpster_unsync, $body:ident!($($a:tt)*)) => {
        $body!($($a)* dumpster_unsync, "dumpster", DumpsterGc, RefCell, [], [],
            dumpster::unsync::collect());
    };
    (dumpster_sync, $body:ident!($($a:tt)*)) => {
        $body!($($a)* dumpster_sync, "dumpster-sync", DumpsterSyncGc, Mutex, [], [],
            dumpster::sync::collect());
    };
    (tricolor_peer, $body:ident!($($a:tt)*)) => {
        $body!($($a)* tricolor_peer, "tricolor", TricolorGc, TricolorGcCell,
            [#[derive(tricolor_gc::Trace, tricolor_gc::Finalize)]], [], tricolor_gc::collect());
    };
    (tricolor_slot, $body:ident!($($a:tt)*)) => {
        $body!($($a)* tricolor_slot, "tricolor-GcSlot", TricolorGc, GcSlotOf,
            [#[derive(tricolor_gc::Trace, tricolor_gc::Finalize)]], [], tricolor_gc::collect());
    };
}

/// Instantiates the workload's body macro for each listed peer; `all` stands for every peer of
/// `with_peer!` but `tricolor-GcSlot` (which only GCBench has).
#[macro_export]
macro_rules! pointer_peers {
    ($body:ident: all $(, $more:ident)*) => {
        $crate::pointer_peers!($body: boxed, rc, arc, gc_crate, boa, dumpster_unsync,
            dumpster_sync, tricolor_peer $(, $more)*);
    };
    ($body:ident: $($m:ident),* $(,)?) => {
        $( $crate::with_peer!($m, $body!()); )*
    };
}

/// Runs `$call` with `$p` standing for the module of the listed peer named `$peer`, and returns
/// `Some` of its result from the enclosing function; falls through if no listed peer has that
/// name. `all` as in `pointer_peers!`.
#[macro_export]
macro_rules! dispatch {
    ($peer:expr, [all $(, $more:ident)*], |$p:ident| $call:expr) => {
        $crate::dispatch!($peer, [boxed, rc, arc, gc_crate, boa, dumpster_unsync, dumpster_sync,
            tricolor_peer $(, $more)*], |$p| $call)
    };
    ($peer:expr, [$($m:ident),* $(,)?], |$p:ident| $call:expr) => {{
        use $crate::__dispatch_if;
        let peer: &str = $peer;
        $( $crate::with_peer!($m, __dispatch_if!(peer, $p, $call;)); )*
    }};
}

/// One arm of `dispatch!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __dispatch_if {
    ($peer:ident, $p:ident, $call:expr; $m:ident, $name:literal, $($facts:tt)*) => {
        if $peer == $name {
            use $m as $p;
            return Some($call);
        }
    };
}

/// dumpster's `Trace` by hand: its derive cannot see fields declared inside a `macro_rules`
/// expansion (the generated `self.field` gets the wrong hygiene), and the peers' types are
/// declared by each workload's body macro.
#[macro_export]
macro_rules! dumpster_trace {
    ($t:ty; $($f:ident),*) => {
        // SAFETY: visits every field that can hold a dumpster `Gc`.
        unsafe impl<V: dumpster::Visitor> dumpster::TraceWith<V> for $t {
            fn accept(&self, visitor: &mut V) -> Result<(), ()> {
                let _ = &visitor;
                $(self.$f.accept(visitor)?;)*
                Ok(())
            }
        }
    };
}

/// The median of `v` (the upper one of an even count), for any ordered figure.
pub fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("figures are comparable"));
    v[v.len() / 2]
}
