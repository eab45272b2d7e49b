use tricolor_gc::{Gc, GcMutex};

fn main() {
    let m = Gc::new(GcMutex::new(1u32));
    let g = m.lock();
    // A guard is released by the thread that took the lock.
    std::thread::spawn(move || drop(g));
}
