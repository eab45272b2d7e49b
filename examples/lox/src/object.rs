//! Values and heap objects. Every object (string, function, closure, upvalue, class, instance,
//! bound method) is allocated with `Gc::new`, which is `tricolor_gc::Gc::new` in the default build.

use crate::chunk::Chunk;
use crate::heap::{Gc, GcCell, Weak};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A Lox value: 16 bytes, with object references as handles into the heap.
#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub enum Value {
    Nil,
    Bool(bool),
    Number(f64),
    Str(Gc<LoxStr>),
    Function(Gc<Function>),
    Closure(Gc<Closure>),
    Class(Gc<Class>),
    Instance(Gc<Instance>),
    Bound(Gc<BoundMethod>),
    Native(Native),
}

// By hand rather than derived: the derived clone was an out-of-line call on every stack push
// (13% of zoo.lox), and the VM copies values more than it does anything else.
impl Clone for Value {
    #[inline(always)]
    fn clone(&self) -> Value {
        match self {
            Value::Nil => Value::Nil,
            Value::Bool(b) => Value::Bool(*b),
            Value::Number(n) => Value::Number(*n),
            Value::Str(r) => Value::Str(r.clone()),
            Value::Function(r) => Value::Function(r.clone()),
            Value::Closure(r) => Value::Closure(r.clone()),
            Value::Class(r) => Value::Class(r.clone()),
            Value::Instance(r) => Value::Instance(r.clone()),
            Value::Bound(r) => Value::Bound(r.clone()),
            Value::Native(n) => Value::Native(*n),
        }
    }
}

/// The native functions; `clock` is the only one Lox has.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub enum Native {
    Clock,
}

/// An interned string: equal strings are the same object, so equality is identity.
#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub struct LoxStr {
    pub s: Box<str>,
    /// One bit chosen by the string's hash: the name's bit in `Class::field_names`.
    pub bit: u64,
}

impl LoxStr {
    fn new(s: &str) -> LoxStr {
        let h = s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        LoxStr {
            s: s.into(),
            bit: 1 << (h >> 58),
        }
    }
}

#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub struct Function {
    pub arity: u8,
    pub upvalue_count: u8,
    pub chunk: Chunk,
    /// `None` for the top-level script.
    pub name: Option<Gc<LoxStr>>,
}

#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub struct Closure {
    pub function: Gc<Function>,
    pub upvalues: Vec<Gc<Upvalue>>,
}

/// A captured variable: open while its variable is still on the VM stack (at that index),
/// closed once the variable's scope ends.
#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub struct Upvalue {
    pub state: GcCell<UpState>,
}

impl Upvalue {
    /// The stack slot of an upvalue on the VM's open list.
    pub fn open_slot(&self) -> usize {
        match &*self.state.borrow() {
            UpState::Open(s) => *s,
            UpState::Closed(_) => unreachable!("closed upvalues leave the open list"),
        }
    }
}

#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub enum UpState {
    Open(usize),
    Closed(Value),
}

/// A class: its methods (looked up through the VM's method cache, `cache.rs`) and what its
/// instances' field names may be.
#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub struct Class {
    pub name: Gc<LoxStr>,
    pub methods: GcCell<Table<Gc<Closure>>>,
    /// The union of the `LoxStr::bit`s of every field name ever set on an instance of this
    /// class (a one-word Bloom filter). `invoke` skips the search of the instance's fields when
    /// the method's name has no bit here, which is nearly always: a field that shadows a
    /// method is rare, and the search is a cache miss per call on a large heap (trees.lox).
    pub field_names: AtomicU64,
}

impl Class {
    pub fn new(name: Gc<LoxStr>) -> Class {
        Class {
            name,
            methods: GcCell::new(Table::new()),
            field_names: AtomicU64::new(0),
        }
    }

    /// Records that some instance has a field `name`.
    #[inline]
    pub fn note_field(&self, name: &LoxStr) {
        // Load first: the store is needed once per name, the read on every assignment.
        if self.field_names.load(Relaxed) & name.bit == 0 {
            self.field_names.fetch_or(name.bit, Relaxed);
        }
    }

    /// False if no instance of this class can have a field `name`.
    #[inline]
    pub fn may_have_field(&self, name: &LoxStr) -> bool {
        self.field_names.load(Relaxed) & name.bit != 0
    }
}

#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub struct Instance {
    pub class: Gc<Class>,
    pub fields: GcCell<Fields>,
}

#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub struct BoundMethod {
    pub receiver: Value,
    pub method: Gc<Closure>,
}

/// How many fields an instance holds in itself before the rest go to a vector. With two, a leaf
/// of trees.lox (one field) is a single 112-byte object, and the walk went from 5.5 to 4.0 s
/// (six did no better). Each costs 24 bytes in every instance, fields or not: with six, an
/// empty instance of instantiation.lox is 192 bytes and that program ran 30% slower.
const INLINE_FIELDS: usize = 2;

/// An instance's fields: the first `INLINE_FIELDS` inside the instance object, so that reading
/// one touches no other memory, and any further ones in a vector.
#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub struct Fields {
    inline: [Option<(Gc<LoxStr>, Value)>; INLINE_FIELDS],
    more: Table<Value>,
}

impl Fields {
    pub fn new() -> Fields {
        Fields {
            inline: [const { None }; INLINE_FIELDS],
            more: Table::new(),
        }
    }

    #[inline(always)]
    pub fn get(&self, key: &Gc<LoxStr>) -> Option<Value> {
        for e in &self.inline {
            match e {
                Some((k, v)) if Gc::ptr_eq(k, key) => return Some(v.clone()),
                Some(_) => {}
                None => return None,
            }
        }
        self.more.get(key).cloned()
    }

    pub fn set(&mut self, key: &Gc<LoxStr>, value: Value) {
        for e in &mut self.inline {
            match e {
                Some((k, v)) if Gc::ptr_eq(k, key) => {
                    std::mem::replace(v, value).discard();
                    return;
                }
                Some(_) => {}
                None => {
                    *e = Some((key.clone(), value));
                    return;
                }
            }
        }
        self.more.set(key, value);
    }
}

/// A small map from interned names to values, searched linearly by identity: classes have few
/// methods and instances few fields, and a scan of a few pointers beats hashing.
#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub struct Table<V> {
    entries: Vec<(Gc<LoxStr>, V)>,
}

impl<V: Clone> Table<V> {
    pub fn new() -> Table<V> {
        Table {
            entries: Vec::new(),
        }
    }

    pub fn get(&self, key: &Gc<LoxStr>) -> Option<&V> {
        self.entries
            .iter()
            .find(|(k, _)| Gc::ptr_eq(k, key))
            .map(|(_, v)| v)
    }

    pub fn set(&mut self, key: &Gc<LoxStr>, value: V) {
        match self.entries.iter_mut().find(|(k, _)| Gc::ptr_eq(k, key)) {
            Some(e) => e.1 = value,
            None => self.entries.push((key.clone(), value)),
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = &(Gc<LoxStr>, V)> {
        self.entries.iter()
    }
}

/// The string table. It holds its strings weakly, as clox's `vm.strings` does: a string no one
/// else references is collected, and its dead entry is dropped the next time the table grows.
pub struct Interner {
    map: HashMap<Box<str>, Weak<LoxStr>>,
    prune_at: usize,
}

impl Interner {
    pub fn new() -> Interner {
        Interner {
            map: HashMap::new(),
            prune_at: 1024,
        }
    }

    pub fn intern(&mut self, s: &str) -> Gc<LoxStr> {
        if let Some(live) = self.map.get(s).and_then(|w| w.upgrade()) {
            return live;
        }
        let obj = Gc::new(LoxStr::new(s));
        if self.map.len() >= self.prune_at {
            self.map.retain(|_, w| w.upgrade().is_some());
            self.prune_at = (self.map.len() * 2).max(1024);
        }
        self.map.insert(s.into(), Gc::downgrade(&obj));
        obj
    }
}

impl Value {
    #[inline(always)]
    pub fn is_object(&self) -> bool {
        !matches!(
            self,
            Value::Nil | Value::Bool(_) | Value::Number(_) | Value::Native(_)
        )
    }

    /// Drops `self`, without the drop glue when it holds no handle: dropping a `Value` is an
    /// out-of-line call that matches on the variant, and most values the VM discards are numbers
    /// and booleans (`crate::stack`).
    #[inline(always)]
    pub fn discard(self) {
        if self.is_object() {
            drop(self);
        } else {
            // Nothing to release: a scalar's drop does nothing, so skipping it loses nothing.
            std::mem::forget(self);
        }
    }

    pub fn is_falsey(&self) -> bool {
        matches!(self, Value::Nil | Value::Bool(false))
    }

    /// Lox equality: numbers by value, objects (including interned strings) by identity.
    pub fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => Gc::ptr_eq(a, b),
            (Value::Function(a), Value::Function(b)) => Gc::ptr_eq(a, b),
            (Value::Closure(a), Value::Closure(b)) => Gc::ptr_eq(a, b),
            (Value::Class(a), Value::Class(b)) => Gc::ptr_eq(a, b),
            (Value::Instance(a), Value::Instance(b)) => Gc::ptr_eq(a, b),
            (Value::Bound(a), Value::Bound(b)) => Gc::ptr_eq(a, b),
            (Value::Native(Native::Clock), Value::Native(Native::Clock)) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "<fn {}>", n.s),
            None => f.write_str("<script>"),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => f.write_str(&format_number(*n)),
            Value::Str(s) => f.write_str(&s.s),
            Value::Function(func) => write!(f, "{func}"),
            Value::Closure(c) => write!(f, "{}", c.function),
            Value::Class(c) => f.write_str(&c.name.s),
            Value::Instance(i) => write!(f, "{} instance", i.class.name.s),
            Value::Bound(b) => write!(f, "{}", b.method.function),
            Value::Native(_) => f.write_str("<native fn>"),
        }
    }
}

/// C's `printf("%g")`, which clox uses to print numbers: six significant digits, scientific
/// notation outside 1e-4 ..= 1e6, trailing zeros removed.
pub fn format_number(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{n:.5e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if !(-4..6).contains(&exp) {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        trim_zeros(&format!("{:.*}", (5 - exp) as usize, n)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::format_number;

    #[test]
    fn numbers_print_as_printf_g() {
        for (n, s) in [
            (123.0, "123"),
            (0.1, "0.1"),
            (-0.0, "-0"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (2.5, "2.5"),
            (1.0 / 3.0, "0.333333"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(format_number(n), s, "{n}");
        }
    }
}
