//! Each peer's handle and cell under one name per peer, for the workloads' `pointer_peer!`
//! macros (which take a type name as an identifier).

pub use boa_gc::{Gc as BoaGc, GcRefCell};
pub use dumpster::sync::Gc as DumpsterSyncGc;
pub use dumpster::unsync::Gc as DumpsterGc;
pub use gc::{Gc as RustGc, GcCell as RustGcCell};
pub use std::cell::RefCell;
pub use std::rc::Rc;
pub use std::sync::{Arc, Mutex};
pub use tricolor::{Gc as TricolorGc, GcCell as TricolorGcCell};
