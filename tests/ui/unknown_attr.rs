use tricolor::{Finalize, Trace};

#[derive(Trace, Finalize)]
struct Holder {
    #[gc(frobnicate)]
    x: u32,
}

fn main() {}
