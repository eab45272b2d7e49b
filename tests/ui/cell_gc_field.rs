use std::cell::Cell;
use tricolor_gc::{Finalize, Gc, Trace};

#[derive(Trace, Finalize)]
struct Holder {
    slot: Cell<Option<Gc<u32>>>,
}

fn main() {}
