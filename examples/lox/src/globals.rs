//! Global variables by slot. The compiler turns each global name into an index once, so a
//! global read is a vector index where clox probes a hash table on every access (zoo.lox and
//! instantiation.lox read a global for every call they make).

use crate::heap::Gc;
use crate::object::{LoxStr, Value};
use std::collections::HashMap;

/// A global's name (for error messages) and its value, `None` until `var` or `fun` defines it.
pub struct Global {
    pub name: Gc<LoxStr>,
    pub value: Option<Value>,
}

/// Every global name the compiler has seen, in slot order. Slots outlive a compilation, so a
/// REPL line sees the globals that earlier lines defined.
pub struct Globals {
    index: HashMap<Box<str>, u16>,
    pub slots: Vec<Global>,
}

impl Globals {
    pub fn new() -> Globals {
        Globals {
            index: HashMap::new(),
            slots: Vec::new(),
        }
    }

    /// The slot of `name`, allocated on first sight; `None` once the 65,536 slots an operand
    /// can name are taken.
    pub fn slot(&mut self, name: &Gc<LoxStr>) -> Option<u16> {
        if let Some(&i) = self.index.get(&*name.s) {
            return Some(i);
        }
        let i = u16::try_from(self.slots.len()).ok()?;
        self.index.insert(name.s.clone(), i);
        self.slots.push(Global {
            name: name.clone(),
            value: None,
        });
        Some(i)
    }
}
