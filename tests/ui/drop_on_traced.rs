use tricolor_gc::{Finalize, Gc, Trace};

#[derive(Trace, Finalize)]
struct Node {
    next: Option<Gc<Node>>,
}

impl Drop for Node {
    fn drop(&mut self) {}
}

fn main() {}
