//! # tricolor
//!
//! A concurrent, Go-style garbage collector for Rust. `Gc<T>` handles and `#[derive(Trace)]` on
//! your types; the collector scans roots once per cycle, marks concurrently on background threads
//! behind a hybrid Yuasa/Dijkstra write barrier, stops tricolor operations only briefly at mark
//! termination, and sweeps lazily per span over a Go-style heap (size classes, spans, per-thread
//! caches, central lists, a page heap).
//!
//! ```
//! use tricolor_gc as gc;
//! use gc::{Finalize, Gc, GcCell, Trace};
//!
//! #[derive(Trace, Finalize)]
//! enum Value { Nil, Int(i64), Pair(Gc<GcCell<(Value, Value)>>) }
//!
//! let list = Gc::new(GcCell::new((Value::Int(1), Value::Nil)));
//! list.borrow_mut().1 = Value::Pair(list.clone()); // a cycle: collected once unreachable
//! drop(list);
//! gc::collect();
//! assert!(gc::stats().num_gc >= 1);
//! ```
//!
//! Environment (read once; a bad value is reported on stderr and the default used):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `GCTRACE=1` | one line per cycle on stderr, Go's gctrace format; `2` adds a detail line | 0 |
//! | `GCPERCENT=<n\|off>` | heap growth before the next cycle, like `GOGC` | 100 |
//! | `GCMEMLIMIT=<bytes>[B\|KiB\|MiB\|GiB\|TiB]` | soft memory limit, like `GOMEMLIMIT` | none |
//! | `GCHARDLIMIT=<bytes>[unit]` | hard limit: past it `Gc::try_new` fails | none |
//! | `GCCHECKMARK=1` | verification: re-mark at each mark termination, abort on a white reachable object | 0 |
//! | `GCPOISON=1` | fill freed slots with `0xDB` | 0 |
//! | `GCMARKPROCS=<n>` | background mark workers (1–256) | a quarter of the cores, at least 1 |
//! | `GCFENCE=symmetric` | mutators fence for real on entering an operation (to measure the asymmetric fence, or rule it out) | `asymmetric` where Linux's `membarrier(2)` works |

pub use tricolor_core::*;
pub use tricolor_derive::{Finalize, Trace};

/// The Rust examples of `MIGRATING.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../MIGRATING.md")]
pub struct MigratingGuide;
