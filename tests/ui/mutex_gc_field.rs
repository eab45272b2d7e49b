use std::sync::Mutex;
use tricolor_gc::{Finalize, Gc, Trace};

#[derive(Trace, Finalize)]
struct Holder {
    slot: Mutex<Gc<u32>>,
}

fn main() {}
