// `Gc::unsize`'s closure must return a view of the value it was given, not something that
// outlives it.
use tricolor_gc::Gc;

fn main() {
    let local = String::from("elsewhere");
    let g = Gc::new(1u64);
    let _ = Gc::unsize(g, |_| &local as &(dyn std::fmt::Debug + Send + Sync));
}
