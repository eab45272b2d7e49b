use tricolor_gc::{Gc, GcVec};

fn main() {
    let v = Gc::new(GcVec::from_iter([1u32, 2]));
    let first: &u32;
    {
        let view = v.view();
        first = &view[0];
    }
    v.push(3); // a reference into the buffer must not outlive the view
    println!("{first}");
}
