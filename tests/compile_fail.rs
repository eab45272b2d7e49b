//! Misuse is rejected at compile time, with a readable error: a `Drop` impl on a traced type,
//! `Cell`/`RefCell`/`Mutex`/`RwLock` holding `Gc` in a traced type, a `Gc` of a type that is not
//! `Send + Sync` (also as a `Gc<dyn Trait>`), an unknown derive attribute, a reference outliving
//! its `GcCell` borrow or its `GcVec` view, a `Gc::unsize` closure returning something other
//! than its argument, a `GcMutex` guard or a `GcVec` view sent to another thread, and a `GcVec` of an
//! untraceable element type.
//! The expected errors are in `tests/ui/*.stderr` (regenerate with `TRYBUILD=overwrite`).

#[test]
fn misuse_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
