//! MIGRATING.md's worked example: the closure interpreter written for the `gc` crate and its
//! tricolor port print exactly the same output.

#[allow(dead_code)]
#[path = "../examples/migrate_gc.rs"]
mod before;

#[allow(dead_code)]
#[path = "../examples/migrate_tricolor.rs"]
mod after;

const EXPECTED: &str = "\
fact(20) = 2432902008176640000
fib(20) = 6765
add3(4) = 7
sum of 2000 small factorials = 81822800
add3(10) = 13
add3 was called 2 times
";

#[test]
fn the_port_prints_what_the_original_prints() {
    let original = before::run();
    assert_eq!(original, EXPECTED);
    assert_eq!(after::run(), original);
}
