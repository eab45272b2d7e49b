use tricolor_gc::{Gc, GcCell};

fn main() {
    let cell = Gc::new(GcCell::new(1u32));
    let r: &u32;
    {
        let g = cell.borrow();
        r = &*g;
    }
    println!("{r}");
}
