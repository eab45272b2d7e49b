//! The virtual machine: a value stack, call frames, and the instruction loop (clox's `vm.c`).
//!
//! Every `Value` on `stack` is a rooted handle: pushing an object is a root-count increment and
//! popping it a decrement, atomic read-modify-writes that `Rc` does with plain adds. Measured
//! (BENCHMARKS.md, "Lox VM"), they are 6-8% of the call-heavy programs; the rest of the distance
//! to clox is this loop's own instruction count.

use crate::cache::MethodCache;
use crate::chunk::op;
use crate::compiler::compile;
use crate::globals::Globals;
use crate::heap::{Gc, GcCell};
use crate::object::{
    BoundMethod, Class, Closure, Fields, Function, Instance, Interner, LoxStr, Native, UpState,
    Upvalue, Value,
};
use crate::stack::Stack;
use std::io::Write;
use std::time::Instant;

const FRAMES_MAX: usize = 64;

struct Frame {
    /// `None` while this frame runs: `run` holds the closure itself, which saves a root-count
    /// increment and decrement per call and per return.
    closure: Option<Gc<Closure>>,
    ip: usize,
    /// Stack index of slot 0 (the callee, or `this`).
    base: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    CompileError,
    RuntimeError,
}

pub struct Vm {
    stack: Stack,
    frames: Vec<Frame>,
    globals: Globals,
    /// Upvalues still pointing into the stack, ordered by stack slot.
    open_upvalues: Vec<Gc<Upvalue>>,
    strings: Interner,
    methods: MethodCache,
    init_string: Gc<LoxStr>,
    start: Instant,
    out: std::io::BufWriter<std::io::Stdout>,
}

type Run<T> = Result<T, ()>;

impl Vm {
    pub fn new() -> Vm {
        let mut strings = Interner::new();
        let init_string = strings.intern("init");
        let mut vm = Vm {
            stack: Stack::with_capacity(FRAMES_MAX * 256),
            frames: Vec::with_capacity(FRAMES_MAX),
            globals: Globals::new(),
            open_upvalues: Vec::new(),
            strings,
            methods: MethodCache::new(),
            init_string,
            start: Instant::now(),
            out: std::io::BufWriter::new(std::io::stdout()),
        };
        let clock = vm.strings.intern("clock");
        let slot = vm.globals.slot(&clock).expect("the first global");
        vm.globals.slots[slot as usize].value = Some(Value::Native(Native::Clock));
        vm
    }

    pub fn interpret(&mut self, src: &str) -> Outcome {
        let Some(function) = compile(src, &mut self.strings, &mut self.globals) else {
            return Outcome::CompileError;
        };
        let closure = Gc::new(Closure {
            function,
            upvalues: Vec::new(),
        });
        self.stack.push(Value::Closure(closure.clone()));
        let result = match self.call(closure, 0) {
            Ok(()) => self.run(),
            Err(msg) => {
                self.runtime_error(msg);
                Err(())
            }
        };
        let _ = self.out.flush();
        match result {
            Ok(()) => Outcome::Ok,
            Err(()) => {
                self.stack.clear();
                self.frames.clear();
                self.open_upvalues.clear();
                Outcome::RuntimeError
            }
        }
    }

    #[cold]
    fn runtime_error(&mut self, msg: String) {
        let _ = self.out.flush();
        eprintln!("{msg}");
        for frame in self.frames.iter().rev() {
            let Some(closure) = &frame.closure else {
                continue;
            };
            let f = &closure.function;
            let line = f.chunk.lines[frame.ip.saturating_sub(1)];
            match &f.name {
                Some(n) => eprintln!("[line {line}] in {}()", n.s),
                None => eprintln!("[line {line}] in script"),
            }
        }
    }

    fn peek(&self, n: usize) -> &Value {
        self.stack.peek(n)
    }

    #[inline(always)]
    fn call(&mut self, closure: Gc<Closure>, argc: usize) -> Result<(), String> {
        let arity = closure.function.arity as usize;
        if argc != arity {
            return Err(format!("Expected {arity} arguments but got {argc}."));
        }
        if self.frames.len() == FRAMES_MAX {
            return Err("Stack overflow.".into());
        }
        let base = self.stack.len() - argc - 1;
        self.frames.push(Frame {
            closure: Some(closure),
            ip: 0,
            base,
        });
        Ok(())
    }

    fn call_value(&mut self, argc: usize) -> Result<(), String> {
        let slot = self.stack.len() - argc - 1;
        match &self.stack[slot] {
            // A function's slot 0 has no name in its body, so the frame can own the closure
            // taken from it instead of a clone (and the class below is taken for the same
            // reason: the instance replaces it).
            Value::Closure(_) => {
                let Value::Closure(c) = self.stack.take(slot) else {
                    unreachable!()
                };
                self.call(c, argc)
            }
            Value::Bound(b) => {
                let (receiver, method) = (b.receiver.clone(), b.method.clone());
                self.stack.set(slot, receiver);
                self.call(method, argc)
            }
            Value::Class(_) => {
                let Value::Class(class) = self.stack.take(slot) else {
                    unreachable!()
                };
                let init = self.methods.get(&class, &self.init_string);
                let instance = Gc::new(Instance {
                    class,
                    fields: GcCell::new(Fields::new()),
                });
                self.stack.set(slot, Value::Instance(instance));
                match init {
                    Some(init) => self.call(init, argc),
                    None if argc != 0 => Err(format!("Expected 0 arguments but got {argc}.")),
                    None => Ok(()),
                }
            }
            Value::Native(Native::Clock) => {
                let t = self.start.elapsed().as_secs_f64();
                self.stack.truncate(slot);
                self.stack.push(Value::Number(t));
                Ok(())
            }
            _ => Err("Can only call functions and classes.".into()),
        }
    }

    /// Finds what `receiver.name(args)` calls, before the frame is parked (so that `name` can
    /// still borrow the running closure's constants): `Some(method)`, or `None` when a field
    /// holding a callable shadows the method, which then sits in the callee's slot for
    /// `call_value`.
    #[inline(always)]
    fn resolve_invoke(
        &mut self,
        name: &Gc<LoxStr>,
        argc: usize,
    ) -> Result<Option<Gc<Closure>>, String> {
        let slot = self.stack.len() - argc - 1;
        let Value::Instance(inst) = &self.stack[slot] else {
            return Err("Only instances have methods.".into());
        };
        if inst.class.may_have_field(name) {
            let field = inst.fields.borrow().get(name);
            if let Some(v) = field {
                self.stack.set(slot, v);
                return Ok(None);
            }
        }
        match self.methods.get(&inst.class, name) {
            Some(m) => Ok(Some(m)),
            None => Err(format!("Undefined property '{}'.", name.s)),
        }
    }

    /// Replaces the instance on top of the stack with its method `name` bound to it.
    fn bind_method(&mut self, class: &Gc<Class>, name: &Gc<LoxStr>) -> Result<(), String> {
        let Some(method) = self.methods.get(class, name) else {
            return Err(format!("Undefined property '{}'.", name.s));
        };
        let receiver = self.stack.pop();
        self.stack
            .push(Value::Bound(Gc::new(BoundMethod { receiver, method })));
        Ok(())
    }

    fn capture_upvalue(&mut self, slot: usize) -> Gc<Upvalue> {
        let mut at = self.open_upvalues.len();
        while at > 0 {
            let u = &self.open_upvalues[at - 1];
            let s = u.open_slot();
            if s == slot {
                return u.clone();
            }
            if s < slot {
                break;
            }
            at -= 1;
        }
        let u = Gc::new(Upvalue {
            state: GcCell::new(UpState::Open(slot)),
        });
        self.open_upvalues.insert(at, u.clone());
        u
    }

    fn close_upvalues(&mut self, last: usize) {
        while let Some(u) = self.open_upvalues.last() {
            let slot = u.open_slot();
            if slot < last {
                break;
            }
            *u.state.borrow_mut() = UpState::Closed(self.stack[slot].clone());
            self.open_upvalues.pop();
        }
    }

    /// `CLOSURE`: captures the upvalues its operands describe (read from `code` at `ip`) and
    /// pushes the new closure; returns the `ip` after the operands.
    #[inline(never)]
    fn make_closure(
        &mut self,
        function: &Gc<Function>,
        enclosing: &Closure,
        code: &[u8],
        mut ip: usize,
        base: usize,
    ) -> usize {
        let mut upvalues = Vec::with_capacity(function.upvalue_count as usize);
        for _ in 0..function.upvalue_count {
            let (is_local, index) = (code[ip] == 1, code[ip + 1] as usize);
            ip += 2;
            upvalues.push(if is_local {
                self.capture_upvalue(base + index)
            } else {
                enclosing.upvalues[index].clone()
            });
        }
        let c = Gc::new(Closure {
            function: function.clone(),
            upvalues,
        });
        self.stack.push(Value::Closure(c));
        ip
    }

    /// `INHERIT`: copies the superclass's methods into the subclass below it.
    fn inherit(&mut self) -> Result<(), String> {
        let Value::Class(superclass) = self.peek(1) else {
            return Err("Superclass must be a class.".into());
        };
        let Value::Class(subclass) = self.peek(0) else {
            unreachable!("INHERIT follows CLASS");
        };
        {
            let from = superclass.methods.borrow();
            let mut to = subclass.methods.borrow_mut();
            for (k, m) in from.entries() {
                to.set(k, m.clone());
            }
        }
        self.stack.drop_top();
        Ok(())
    }

    /// `METHOD`: adds the closure on top to the class below it.
    fn define_method(&mut self, name: &Gc<LoxStr>) {
        let Value::Closure(method) = self.stack.pop() else {
            unreachable!("METHOD follows CLOSURE");
        };
        let Value::Class(class) = self.peek(0) else {
            unreachable!("METHOD runs in a class body");
        };
        class.methods.borrow_mut().set(name, method);
        self.methods.clear();
    }

    fn run(&mut self) -> Run<()> {
        'frames: loop {
            let frame = self.frames.last_mut().expect("a frame");
            let closure = frame
                .closure
                .take()
                .expect("a frame's closure is put back when it calls");
            let base = frame.base;
            let mut ip = frame.ip;
            let function: &Function = &closure.function;
            let code = &function.chunk.code[..];
            let consts = &function.chunk.constants[..];
            // Puts the closure back before the frame stack changes or an error is reported.
            macro_rules! park {
                () => {{
                    let f = self.frames.last_mut().expect("a frame");
                    f.ip = ip;
                    f.closure = Some(closure);
                }};
            }

            macro_rules! byte {
                () => {{
                    let b = code[ip];
                    ip += 1;
                    b
                }};
            }
            macro_rules! short {
                () => {{
                    // One bounds check for both bytes.
                    let [hi, lo]: [u8; 2] = code[ip..ip + 2].try_into().expect("two bytes");
                    let s = u16::from_be_bytes([hi, lo]) as usize;
                    ip += 2;
                    s
                }};
            }
            macro_rules! string {
                () => {
                    match &consts[byte!() as usize] {
                        Value::Str(s) => s,
                        _ => unreachable!("the compiler emits string constants here"),
                    }
                };
            }
            // Parks this frame, then runs a call that pushes the next one (or reports its error).
            macro_rules! enter {
                ($call:expr) => {{
                    park!();
                    if let Err(m) = $call {
                        self.runtime_error(m);
                        return Err(());
                    }
                    continue 'frames;
                }};
            }
            macro_rules! fail {
                ($($msg:tt)*) => {{
                    let msg = format!($($msg)*);
                    park!();
                    self.runtime_error(msg);
                    return Err(());
                }};
            }
            // Pops the frame and leaves `result` where its callee was.
            macro_rules! ret {
                ($result:expr) => {{
                    self.frames.pop();
                    if self.frames.is_empty() {
                        self.stack.drop_top();
                        return Ok(());
                    }
                    self.stack.truncate(base);
                    self.stack.push($result);
                    continue 'frames;
                }};
            }
            macro_rules! numeric {
                ($wrap:expr, $op:tt) => {{
                    let n = self.stack.len();
                    match (&self.stack[n - 2], &self.stack[n - 1]) {
                        (Value::Number(a), Value::Number(b)) => {
                            let r = $wrap(*a $op *b);
                            self.stack.drop_top();
                            self.stack.set(n - 2, r);
                        }
                        _ => fail!("Operands must be numbers."),
                    }
                }};
            }

            loop {
                match byte!() {
                    op::CONSTANT => {
                        let v = consts[byte!() as usize].clone();
                        self.stack.push(v);
                    }
                    op::NIL => self.stack.push(Value::Nil),
                    op::TRUE => self.stack.push(Value::Bool(true)),
                    op::FALSE => self.stack.push(Value::Bool(false)),
                    op::POP => self.stack.drop_top(),
                    op::GET_LOCAL => {
                        let v = self.stack[base + byte!() as usize].clone();
                        self.stack.push(v);
                    }
                    op::SET_LOCAL => {
                        let slot = base + byte!() as usize;
                        let v = self.peek(0).clone();
                        self.stack.set(slot, v);
                    }
                    op::GET_GLOBAL => {
                        let g = &self.globals.slots[short!()];
                        match &g.value {
                            Some(v) => {
                                let v = v.clone();
                                self.stack.push(v);
                            }
                            None => fail!("Undefined variable '{}'.", g.name.s),
                        }
                    }
                    op::DEFINE_GLOBAL => {
                        let slot = short!();
                        let v = self.stack.pop();
                        self.globals.slots[slot].value = Some(v);
                    }
                    op::SET_GLOBAL => {
                        let v = self.peek(0).clone();
                        let g = &mut self.globals.slots[short!()];
                        match &mut g.value {
                            Some(old) => std::mem::replace(old, v).discard(),
                            None => fail!("Undefined variable '{}'.", g.name.s),
                        }
                    }
                    op::GET_UPVALUE => {
                        let up = &closure.upvalues[byte!() as usize];
                        let v = match &*up.state.borrow() {
                            UpState::Open(s) => self.stack[*s].clone(),
                            UpState::Closed(v) => v.clone(),
                        };
                        self.stack.push(v);
                    }
                    op::SET_UPVALUE => {
                        let up = &closure.upvalues[byte!() as usize];
                        let v = self.peek(0).clone();
                        let open = match &*up.state.borrow() {
                            UpState::Open(s) => Some(*s),
                            UpState::Closed(_) => None,
                        };
                        match open {
                            Some(s) => self.stack.set(s, v),
                            None => *up.state.borrow_mut() = UpState::Closed(v),
                        }
                    }
                    op::GET_PROPERTY => {
                        let name = string!();
                        let Value::Instance(inst) = self.peek(0) else {
                            fail!("Only instances have properties.");
                        };
                        let field = inst.fields.borrow().get(name);
                        match field {
                            Some(v) => {
                                let top = self.stack.len() - 1;
                                self.stack.set(top, v);
                            }
                            None => {
                                let class = inst.class.clone();
                                if let Err(m) = self.bind_method(&class, name) {
                                    fail!("{m}");
                                }
                            }
                        }
                    }
                    op::GET_LOCAL_PROPERTY => {
                        let slot = base + byte!() as usize;
                        let name = string!();
                        let Value::Instance(inst) = &self.stack[slot] else {
                            fail!("Only instances have properties.");
                        };
                        let field = inst.fields.borrow().get(name);
                        match field {
                            Some(v) => self.stack.push(v),
                            None => {
                                let class = inst.class.clone();
                                let receiver = self.stack[slot].clone();
                                self.stack.push(receiver);
                                if let Err(m) = self.bind_method(&class, name) {
                                    fail!("{m}");
                                }
                            }
                        }
                    }
                    op::SET_PROPERTY | op::SET_PROPERTY_POP => {
                        let keep = code[ip - 1] == op::SET_PROPERTY;
                        let name = string!();
                        let v = self.stack.pop();
                        let Value::Instance(inst) = self.peek(0) else {
                            fail!("Only instances have fields.");
                        };
                        inst.class.note_field(name);
                        if keep {
                            inst.fields.borrow_mut().set(name, v.clone());
                            let top = self.stack.len() - 1;
                            self.stack.set(top, v);
                        } else {
                            inst.fields.borrow_mut().set(name, v);
                            self.stack.drop_top();
                        }
                    }
                    op::GET_SUPER => {
                        let name = string!();
                        let Value::Class(superclass) = self.stack.pop() else {
                            unreachable!("`super` holds a class");
                        };
                        if let Err(m) = self.bind_method(&superclass, name) {
                            fail!("{m}");
                        }
                    }
                    op::EQUAL => {
                        let b = self.stack.pop();
                        let eq = self.peek(0).equals(&b);
                        b.discard();
                        let top = self.stack.len() - 1;
                        self.stack.set(top, Value::Bool(eq));
                    }
                    op::GREATER => numeric!(Value::Bool, >),
                    op::LESS => numeric!(Value::Bool, <),
                    op::ADD => {
                        let n = self.stack.len();
                        match (&self.stack[n - 2], &self.stack[n - 1]) {
                            (Value::Number(a), Value::Number(b)) => {
                                let r = a + b;
                                self.stack.drop_top();
                                self.stack.set(n - 2, Value::Number(r));
                            }
                            (Value::Str(a), Value::Str(b)) => {
                                let mut s = String::with_capacity(a.s.len() + b.s.len());
                                s.push_str(&a.s);
                                s.push_str(&b.s);
                                let r = self.strings.intern(&s);
                                self.stack.drop_top();
                                self.stack.set(n - 2, Value::Str(r));
                            }
                            _ => fail!("Operands must be two numbers or two strings."),
                        }
                    }
                    op::SUBTRACT => numeric!(Value::Number, -),
                    op::MULTIPLY => numeric!(Value::Number, *),
                    op::DIVIDE => numeric!(Value::Number, /),
                    op::NOT => {
                        let falsey = self.peek(0).is_falsey();
                        let top = self.stack.len() - 1;
                        self.stack.set(top, Value::Bool(falsey));
                    }
                    op::NEGATE => match self.stack.top_mut() {
                        Value::Number(n) => *n = -*n,
                        _ => fail!("Operand must be a number."),
                    },
                    op::PRINT => {
                        let v = self.stack.pop();
                        let _ = writeln!(self.out, "{v}");
                    }
                    op::JUMP => {
                        let off = short!();
                        ip += off;
                    }
                    op::JUMP_IF_FALSE => {
                        let off = short!();
                        if self.peek(0).is_falsey() {
                            ip += off;
                        }
                    }
                    op::LOOP => {
                        let off = short!();
                        ip -= off;
                    }
                    op::CALL => {
                        let argc = byte!() as usize;
                        let slot = self.stack.len() - argc - 1;
                        // The common callee, a closure, without the out-of-line `call_value`.
                        if let Value::Closure(_) = &self.stack[slot] {
                            let Value::Closure(c) = self.stack.take(slot) else {
                                unreachable!()
                            };
                            enter!(self.call(c, argc));
                        }
                        enter!(self.call_value(argc));
                    }
                    op::INVOKE => {
                        let name = string!();
                        let argc = byte!() as usize;
                        match self.resolve_invoke(name, argc) {
                            Ok(Some(method)) => enter!(self.call(method, argc)),
                            Ok(None) => enter!(self.call_value(argc)),
                            Err(m) => fail!("{m}"),
                        }
                    }
                    op::SUPER_INVOKE => {
                        let name = string!();
                        let argc = byte!() as usize;
                        let Value::Class(superclass) = self.stack.pop() else {
                            unreachable!("`super` holds a class");
                        };
                        match self.methods.get(&superclass, name) {
                            Some(method) => enter!(self.call(method, argc)),
                            None => fail!("Undefined property '{}'.", name.s),
                        }
                    }
                    op::CLOSURE => {
                        let Value::Function(function) = &consts[byte!() as usize] else {
                            unreachable!("the compiler emits a function constant here");
                        };
                        ip = self.make_closure(function, &closure, code, ip, base);
                    }
                    op::CLOSE_UPVALUE => {
                        self.close_upvalues(self.stack.len() - 1);
                        self.stack.drop_top();
                    }
                    op::RETURN => {
                        let result = self.stack.pop();
                        if !self.open_upvalues.is_empty() {
                            self.close_upvalues(base);
                        }
                        ret!(result);
                    }
                    op::RETURN_THIS => {
                        if !self.open_upvalues.is_empty() {
                            self.close_upvalues(base);
                        }
                        // `this` moves out of its slot: the slot is about to be popped.
                        let result = self.stack.take(base);
                        ret!(result);
                    }
                    op::CLASS => {
                        let name = string!().clone();
                        self.stack.push(Value::Class(Gc::new(Class::new(name))));
                    }
                    op::INHERIT => {
                        if let Err(m) = self.inherit() {
                            fail!("{m}");
                        }
                    }
                    op::METHOD => {
                        let name = string!();
                        self.define_method(name);
                    }
                    other => unreachable!("bad opcode {other}"),
                }
            }
        }
    }
}
