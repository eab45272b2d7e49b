use tricolor_gc::GcVec;

fn main() {
    let v: &'static GcVec<u64> = Box::leak(Box::new(GcVec::new()));
    let view = v.view();
    // A view ends on the thread that took it (the owner's guard writes that thread's word).
    std::thread::spawn(move || drop(view));
}
