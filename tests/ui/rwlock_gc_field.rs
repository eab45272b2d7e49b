use std::sync::RwLock;
use tricolor_gc::{Finalize, Gc, Trace};

#[derive(Trace, Finalize)]
struct Holder {
    slot: RwLock<Gc<u32>>,
}

fn main() {}
