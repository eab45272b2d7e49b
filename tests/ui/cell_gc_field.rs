use std::cell::Cell;
use tricolor::{Finalize, Gc, Trace};

#[derive(Trace, Finalize)]
struct Holder {
    slot: Cell<Option<Gc<u32>>>,
}

fn main() {}
