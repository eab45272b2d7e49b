use std::sync::RwLock;
use tricolor::{Finalize, Gc, Trace};

#[derive(Trace, Finalize)]
struct Holder {
    slot: RwLock<Gc<u32>>,
}

fn main() {}
