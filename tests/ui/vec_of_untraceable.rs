use std::cell::Cell;
use tricolor_gc::{Gc, GcVec};

fn main() {
    // A `Cell` of handles would change behind the collector's back, in a vector too.
    let _ = Gc::new(GcVec::<Cell<Option<Gc<u8>>>>::new());
}
