#![doc = include_str!("../GUIDE.md")]

pub use tricolor_core::*;

/// Derives [`Finalize`](trait@Finalize) with no finalizer: objects of the type skip the
/// finalizer machinery entirely. Write `impl Finalize for T { fn finalize(&self) { .. } }` by
/// hand instead to give the type one. Takes `#[gc(crate = "path")]` like `Trace`.
///
/// # Example
/// ```
/// use tricolor_gc::{Finalize, Gc, Trace};
/// #[derive(Trace, Finalize)]
/// struct Point { x: i32, y: i32 }
/// assert_eq!(Gc::new(Point { x: 1, y: 2 }).y, 2);
/// ```
pub use tricolor_derive::Finalize;

/// Derives [`Trace`](trait@Trace): `trace`, `root` and `unroot` visit every field (in every
/// variant), and the type's flags say whether it can hold a handle at all (objects that cannot
/// are never scanned) and whether a dead one needs its drop glue run. The type may not also
/// implement `Drop` (a compile error says so).
///
/// Works on structs, tuple and unit structs, enums and generic types, and on a struct whose last
/// field is unsized (`[T]`, `str`, `dyn Trait`, a `?Sized` parameter).
///
/// | attribute | on | meaning |
/// |---|---|---|
/// | `#[gc(ignore)]` (or `#[unsafe_ignore_trace]`) | a field | not traced: it must hold no `Gc` (an ignored handle is never unrooted, so it acts as a root) |
/// | `#[gc(bound = "T: Trace, ...")]` | the type | replaces the automatic `T: Trace` bound on each type parameter |
/// | `#[gc(crate = "path")]` | the type | the path of this crate, when the dependency is renamed |
///
/// A field whose type is not `Trace` is one compile error, at the field, that names `GcCell`
/// and `#[gc(ignore)]`.
///
/// # Example
/// ```
/// use std::sync::Mutex;
/// use tricolor_gc::{Finalize, Gc, GcCell, Trace};
///
/// #[derive(Trace, Finalize)]
/// enum Expr {
///     Num(f64),
///     Add(Gc<Expr>, Gc<Expr>),
///     Var { name: String, bound: GcCell<Option<Gc<Expr>>> },
/// }
///
/// #[derive(Trace, Finalize)]
/// #[gc(bound = "T: Trace + Send + Sync")]
/// struct Env<T: 'static> {
///     vars: Vec<Gc<T>>,
///     #[gc(ignore)]
///     log: Mutex<Vec<String>>, // holds no handle
/// }
///
/// let e = Gc::new(Expr::Add(Gc::new(Expr::Num(1.0)), Gc::new(Expr::Num(2.0))));
/// let env = Env { vars: vec![e], log: Mutex::new(Vec::new()) };
/// assert_eq!(env.vars.len(), 1);
/// ```
pub use tricolor_derive::Trace;

/// The Rust examples of `MIGRATING.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../MIGRATING.md")]
pub struct MigratingGuide;
