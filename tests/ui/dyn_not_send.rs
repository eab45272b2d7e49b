// A trait object that is not `Send + Sync` cannot become a `Gc<dyn Trait>`: the collector drops
// objects on its own threads.
use tricolor_gc::{Gc, Trace};

trait Shape: Trace {
    fn area(&self) -> f64;
}

fn convert(b: Box<dyn Shape>) {
    let _ = Gc::from_box(b);
}

fn main() {}
