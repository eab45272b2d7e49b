// A field whose type is not `Trace` is one error, at the field (not one per generated method).
use tricolor_gc::{Finalize, Gc, Trace};

struct NotTrace;

#[derive(Trace, Finalize)]
struct Bad {
    x: NotTrace,
    g: Gc<u8>,
}

fn main() {}
