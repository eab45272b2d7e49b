use tricolor_gc::{Finalize, Trace};

#[derive(Trace, Finalize)]
struct Holder {
    #[gc(frobnicate)]
    x: u32,
}

fn main() {}
