use tricolor_gc::{unsafe_empty_trace, Finalize, Gc, Trace};

struct NotSend(*const u8);
impl Finalize for NotSend {}
unsafe impl Trace for NotSend {
    unsafe_empty_trace!();
}

fn main() {
    let _ = Gc::new(NotSend(std::ptr::null()));
}
