use std::cell::RefCell;
use tricolor_gc::{Finalize, Gc, Trace};

#[derive(Trace, Finalize)]
struct Holder {
    slot: RefCell<Vec<Gc<u32>>>,
}

fn main() {}
