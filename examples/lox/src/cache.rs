//! The method cache: (class, name) → closure, direct-mapped, owned by the VM.
//!
//! A method lookup without it is a shared borrow of the class's `GcCell` (two atomic
//! read-modify-writes in the tricolor build) and a scan of its table; with it, a hash and two
//! pointer comparisons. Entries hold rooted handles, so a cached class cannot be freed and
//! its address reused by another class while the entry exists. A class's methods are all set
//! by its class body before any code can look one up, so entries never go stale; `METHOD`
//! still clears the cache, so that this does not have to stay true.

use crate::heap::Gc;
use crate::object::{Class, Closure, LoxStr};

const SIZE: usize = 256;

type Entry = Option<(Gc<Class>, Gc<LoxStr>, Gc<Closure>)>;

pub struct MethodCache {
    entries: Vec<Entry>,
}

impl MethodCache {
    pub fn new() -> MethodCache {
        MethodCache {
            entries: (0..SIZE).map(|_| None).collect(),
        }
    }

    #[inline(always)]
    fn index(class: &Gc<Class>, name: &Gc<LoxStr>) -> usize {
        let a = Gc::as_ptr(class) as usize as u64;
        let b = Gc::as_ptr(name) as usize as u64;
        let h = (a ^ b.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> (64 - SIZE.trailing_zeros())) as usize
    }

    /// The method `name` of `class`, if it has one.
    #[inline(always)]
    pub fn get(&mut self, class: &Gc<Class>, name: &Gc<LoxStr>) -> Option<Gc<Closure>> {
        let i = Self::index(class, name);
        if let Some((c, n, m)) = &self.entries[i] {
            if Gc::ptr_eq(c, class) && Gc::ptr_eq(n, name) {
                return Some(m.clone());
            }
        }
        self.miss(i, class, name)
    }

    #[cold]
    #[inline(never)]
    fn miss(&mut self, i: usize, class: &Gc<Class>, name: &Gc<LoxStr>) -> Option<Gc<Closure>> {
        let m = class.methods.borrow().get(name).cloned()?;
        self.entries[i] = Some((class.clone(), name.clone(), m.clone()));
        Some(m)
    }

    pub fn clear(&mut self) {
        self.entries.iter_mut().for_each(|e| *e = None);
    }
}
