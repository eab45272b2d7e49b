//! The single-pass compiler: a Pratt parser that emits bytecode as it parses (clox's
//! `compiler.c`), with clox's error messages.

use crate::chunk::{op, Chunk};
use crate::globals::Globals;
use crate::heap::Gc;
use crate::object::{Function, Interner, Value};
use crate::scanner::{Scanner, Tok, Token};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    None,
    Assignment,
    Or,
    And,
    Equality,
    Comparison,
    Term,
    Factor,
    Unary,
    Call,
    Primary,
}

impl Prec {
    fn next(self) -> Prec {
        use Prec::*;
        match self {
            None => Assignment,
            Assignment => Or,
            Or => And,
            And => Equality,
            Equality => Comparison,
            Comparison => Term,
            Term => Factor,
            Factor => Unary,
            Unary => Call,
            Call | Primary => Primary,
        }
    }
}

fn infix_prec(t: Tok) -> Prec {
    match t {
        Tok::LeftParen | Tok::Dot => Prec::Call,
        Tok::Minus | Tok::Plus => Prec::Term,
        Tok::Slash | Tok::Star => Prec::Factor,
        Tok::BangEqual | Tok::EqualEqual => Prec::Equality,
        Tok::Greater | Tok::GreaterEqual | Tok::Less | Tok::LessEqual => Prec::Comparison,
        Tok::And => Prec::And,
        Tok::Or => Prec::Or,
        _ => Prec::None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Function,
    Initializer,
    Method,
    Script,
}

struct Local<'s> {
    name: &'s str,
    /// -1 while the variable's initializer is being compiled.
    depth: i32,
    captured: bool,
}

struct FnState<'s> {
    kind: Kind,
    arity: usize,
    chunk: Chunk,
    name: Option<&'s str>,
    locals: Vec<Local<'s>>,
    upvalues: Vec<(u8, bool)>,
    depth: i32,
    /// Where the last instruction starts and what it is, when it may be fused with the next one
    /// (see `fuse`). Cleared at every jump target: an instruction that a jump lands after
    /// must stay whole.
    last: Option<(usize, u8)>,
}

struct ClassState {
    has_superclass: bool,
}

const MAX_LOCALS: usize = 256;
const MAX_UPVALUES: usize = 256;

pub struct Compiler<'s, 'i> {
    scanner: Scanner<'s>,
    current: Token<'s>,
    previous: Token<'s>,
    had_error: bool,
    panic_mode: bool,
    fns: Vec<FnState<'s>>,
    classes: Vec<ClassState>,
    strings: &'i mut Interner,
    globals: &'i mut Globals,
}

/// Compiles a script; compile errors are printed to stderr and give `None`.
pub fn compile(src: &str, strings: &mut Interner, globals: &mut Globals) -> Option<Gc<Function>> {
    let eof = Token {
        kind: Tok::Eof,
        text: "",
        line: 1,
    };
    let mut c = Compiler {
        scanner: Scanner::new(src),
        current: eof,
        previous: eof,
        had_error: false,
        panic_mode: false,
        fns: Vec::new(),
        classes: Vec::new(),
        strings,
        globals,
    };
    c.begin_fn(Kind::Script, None);
    c.advance();
    while !c.matches(Tok::Eof) {
        c.declaration();
    }
    let (f, _) = c.end_fn();
    (!c.had_error).then_some(f)
}

impl<'s> Compiler<'s, '_> {
    // ---- tokens and errors ----

    fn advance(&mut self) {
        self.previous = self.current;
        loop {
            self.current = self.scanner.next_token();
            if self.current.kind != Tok::Error {
                break;
            }
            self.error_at(self.current, self.current.text);
        }
    }

    fn check(&self, t: Tok) -> bool {
        self.current.kind == t
    }

    fn matches(&mut self, t: Tok) -> bool {
        if !self.check(t) {
            return false;
        }
        self.advance();
        true
    }

    fn consume(&mut self, t: Tok, msg: &str) {
        if self.check(t) {
            self.advance();
        } else {
            self.error_at(self.current, msg);
        }
    }

    fn error_at(&mut self, tok: Token<'s>, msg: &str) {
        if self.panic_mode {
            return;
        }
        self.panic_mode = true;
        self.had_error = true;
        let at = match tok.kind {
            Tok::Eof => " at end".to_string(),
            Tok::Error => String::new(),
            _ => format!(" at '{}'", tok.text),
        };
        eprintln!("[line {}] Error{at}: {msg}", tok.line);
    }

    fn error(&mut self, msg: &str) {
        self.error_at(self.previous, msg);
    }

    fn synchronize(&mut self) {
        self.panic_mode = false;
        while self.current.kind != Tok::Eof {
            if self.previous.kind == Tok::Semicolon {
                return;
            }
            match self.current.kind {
                Tok::Class
                | Tok::Fun
                | Tok::Var
                | Tok::For
                | Tok::If
                | Tok::While
                | Tok::Print
                | Tok::Return => return,
                _ => self.advance(),
            }
        }
    }

    // ---- emitting ----

    fn f(&mut self) -> &mut FnState<'s> {
        self.fns.last_mut().expect("a function is being compiled")
    }

    fn chunk(&mut self) -> &mut Chunk {
        &mut self.f().chunk
    }

    fn emit(&mut self, b: u8) {
        let line = self.previous.line;
        self.chunk().write(b, line);
    }

    fn emit2(&mut self, a: u8, b: u8) {
        self.emit(a);
        self.emit(b);
    }

    fn emit_short(&mut self, v: u16) {
        self.emit2((v >> 8) as u8, v as u8);
    }

    fn emit_return(&mut self) {
        if self.f().kind == Kind::Initializer {
            self.emit(op::RETURN_THIS);
        } else {
            self.emit(op::NIL);
            self.emit(op::RETURN);
        }
    }

    fn make_constant(&mut self, v: Value) -> u8 {
        let consts = &mut self.chunk().constants;
        consts.push(v);
        let idx = consts.len() - 1;
        if idx > u8::MAX as usize {
            self.error("Too many constants in one chunk.");
            return 0;
        }
        idx as u8
    }

    fn emit_constant(&mut self, v: Value) {
        let c = self.make_constant(v);
        self.emit2(op::CONSTANT, c);
    }

    fn emit_jump(&mut self, instr: u8) -> usize {
        self.emit(instr);
        self.emit2(0xff, 0xff);
        self.chunk().code.len() - 2
    }

    /// Where the next instruction goes, as the target of a jump: nothing before it may be fused
    /// with what follows.
    fn target(&mut self) -> usize {
        self.f().last = None;
        self.chunk().code.len()
    }

    /// If the last instruction is `first` with a one-byte operand and nothing jumps between it
    /// and the end of the code, rewrites it as `fused` (keeping the operand) and returns true;
    /// the caller then emits the rest of the fused instruction's operands. These pairs are what
    /// the benchmark programs run most (`this.field`, `object.field = value;`).
    fn fuse(&mut self, first: u8, fused: u8) -> bool {
        let len = self.chunk().code.len();
        match self.f().last.take() {
            Some((at, op)) if op == first && at + 2 == len => {
                self.chunk().code[at] = fused;
                true
            }
            _ => false,
        }
    }

    fn patch_jump(&mut self, at: usize) {
        self.f().last = None;
        let jump = self.chunk().code.len() - at - 2;
        if jump > u16::MAX as usize {
            self.error("Too much code to jump over.");
        }
        let code = &mut self.chunk().code;
        code[at] = (jump >> 8) as u8;
        code[at + 1] = jump as u8;
    }

    fn emit_loop(&mut self, start: usize) {
        self.emit(op::LOOP);
        let offset = self.chunk().code.len() - start + 2;
        if offset > u16::MAX as usize {
            self.error("Loop body too large.");
        }
        self.emit2((offset >> 8) as u8, offset as u8);
    }

    // ---- functions and scopes ----

    fn begin_fn(&mut self, kind: Kind, name: Option<&'s str>) {
        let slot0 = if kind == Kind::Function || kind == Kind::Script {
            ""
        } else {
            "this"
        };
        self.fns.push(FnState {
            kind,
            arity: 0,
            chunk: Chunk::new(),
            name,
            locals: vec![Local {
                name: slot0,
                depth: 0,
                captured: false,
            }],
            upvalues: Vec::new(),
            depth: 0,
            last: None,
        });
    }

    fn end_fn(&mut self) -> (Gc<Function>, Vec<(u8, bool)>) {
        self.emit_return();
        let st = self.fns.pop().expect("a function is being compiled");
        let name = st.name.map(|n| self.strings.intern(n));
        let f = Function {
            arity: st.arity as u8,
            upvalue_count: st.upvalues.len() as u8,
            chunk: st.chunk,
            name,
        };
        (Gc::new(f), st.upvalues)
    }

    fn begin_scope(&mut self) {
        self.f().depth += 1;
    }

    fn end_scope(&mut self) {
        self.f().depth -= 1;
        loop {
            let f = self.f();
            match f.locals.last() {
                Some(l) if l.depth > f.depth => {
                    let captured = l.captured;
                    f.locals.pop();
                    self.emit(if captured { op::CLOSE_UPVALUE } else { op::POP });
                }
                _ => break,
            }
        }
    }

    fn identifier_constant(&mut self, name: &str) -> u8 {
        let s = self.strings.intern(name);
        self.make_constant(Value::Str(s))
    }

    fn add_local(&mut self, name: &'s str) {
        if self.f().locals.len() == MAX_LOCALS {
            self.error("Too many local variables in function.");
            return;
        }
        self.f().locals.push(Local {
            name,
            depth: -1,
            captured: false,
        });
    }

    fn declare_variable(&mut self) {
        if self.f().depth == 0 {
            return;
        }
        let name = self.previous.text;
        let f = self.fns.last().expect("function");
        let dup = f
            .locals
            .iter()
            .rev()
            .take_while(|l| l.depth == -1 || l.depth >= f.depth)
            .any(|l| l.name == name);
        if dup {
            self.error("Already a variable with this name in this scope.");
        }
        self.add_local(name);
    }

    /// The global slot of `name`.
    fn global_slot(&mut self, name: &str) -> u16 {
        let s = self.strings.intern(name);
        match self.globals.slot(&s) {
            Some(i) => i,
            None => {
                self.error("Too many global variables.");
                0
            }
        }
    }

    /// Returns the global slot to define, or 0 for a local.
    fn parse_variable(&mut self, msg: &str) -> u16 {
        self.consume(Tok::Identifier, msg);
        self.declare_named()
    }

    /// Declares the variable just named (`previous`): a local in a scope, else the global slot
    /// that `define_variable` will fill (0 for a local).
    fn declare_named(&mut self) -> u16 {
        self.declare_variable();
        if self.f().depth > 0 {
            return 0;
        }
        self.global_slot(self.previous.text)
    }

    fn mark_initialized(&mut self) {
        let f = self.f();
        if f.depth == 0 {
            return;
        }
        let d = f.depth;
        f.locals.last_mut().expect("local").depth = d;
    }

    fn define_variable(&mut self, global: u16) {
        if self.f().depth > 0 {
            self.mark_initialized();
            return;
        }
        self.emit(op::DEFINE_GLOBAL);
        self.emit_short(global);
    }

    fn resolve_local(&mut self, level: usize, name: &str) -> Option<u8> {
        let pos = self.fns[level]
            .locals
            .iter()
            .rposition(|l| l.name == name)?;
        if self.fns[level].locals[pos].depth == -1 {
            self.error("Can't read local variable in its own initializer.");
        }
        Some(pos as u8)
    }

    fn add_upvalue(&mut self, level: usize, index: u8, is_local: bool) -> u8 {
        let ups = &self.fns[level].upvalues;
        if let Some(i) = ups.iter().position(|&u| u == (index, is_local)) {
            return i as u8;
        }
        if ups.len() == MAX_UPVALUES {
            self.error("Too many closure variables in function.");
            return 0;
        }
        self.fns[level].upvalues.push((index, is_local));
        (self.fns[level].upvalues.len() - 1) as u8
    }

    fn resolve_upvalue(&mut self, level: usize, name: &str) -> Option<u8> {
        if level == 0 {
            return None;
        }
        if let Some(local) = self.resolve_local(level - 1, name) {
            self.fns[level - 1].locals[local as usize].captured = true;
            return Some(self.add_upvalue(level, local, true));
        }
        let up = self.resolve_upvalue(level - 1, name)?;
        Some(self.add_upvalue(level, up, false))
    }

    fn named_variable(&mut self, name: &'s str, can_assign: bool) {
        let level = self.fns.len() - 1;
        let (get, set, arg) = if let Some(i) = self.resolve_local(level, name) {
            (op::GET_LOCAL, op::SET_LOCAL, i as u16)
        } else if let Some(i) = self.resolve_upvalue(level, name) {
            (op::GET_UPVALUE, op::SET_UPVALUE, i as u16)
        } else {
            (op::GET_GLOBAL, op::SET_GLOBAL, self.global_slot(name))
        };
        let assign = can_assign && self.matches(Tok::Equal);
        if assign {
            self.expression();
        }
        let at = self.chunk().code.len();
        self.emit(if assign { set } else { get });
        // Locals and upvalues take a byte, globals a 16-bit slot.
        if get == op::GET_GLOBAL {
            self.emit_short(arg);
        } else {
            self.emit(arg as u8);
        }
        if !assign {
            self.f().last = Some((at, get));
        }
    }

    // ---- declarations and statements ----

    fn declaration(&mut self) {
        if self.matches(Tok::Class) {
            self.class_declaration();
        } else if self.matches(Tok::Fun) {
            self.fun_declaration();
        } else if self.matches(Tok::Var) {
            self.var_declaration();
        } else {
            self.statement();
        }
        if self.panic_mode {
            self.synchronize();
        }
    }

    fn class_declaration(&mut self) {
        self.consume(Tok::Identifier, "Expect class name.");
        let class_name = self.previous.text;
        let name_const = self.identifier_constant(class_name);
        let global = self.declare_named();
        self.emit2(op::CLASS, name_const);
        self.define_variable(global);
        self.classes.push(ClassState {
            has_superclass: false,
        });
        if self.matches(Tok::Less) {
            self.consume(Tok::Identifier, "Expect superclass name.");
            self.named_variable(self.previous.text, false);
            if class_name == self.previous.text {
                self.error("A class can't inherit from itself.");
            }
            self.begin_scope();
            self.add_local("super");
            self.define_variable(0);
            self.named_variable(class_name, false);
            self.emit(op::INHERIT);
            self.classes.last_mut().expect("class").has_superclass = true;
        }
        self.named_variable(class_name, false);
        self.consume(Tok::LeftBrace, "Expect '{' before class body.");
        while !self.check(Tok::RightBrace) && !self.check(Tok::Eof) {
            self.method();
        }
        self.consume(Tok::RightBrace, "Expect '}' after class body.");
        self.emit(op::POP);
        if self.classes.pop().expect("class").has_superclass {
            self.end_scope();
        }
    }

    fn method(&mut self) {
        self.consume(Tok::Identifier, "Expect method name.");
        let name = self.previous.text;
        let c = self.identifier_constant(name);
        let kind = if name == "init" {
            Kind::Initializer
        } else {
            Kind::Method
        };
        self.function(kind);
        self.emit2(op::METHOD, c);
    }

    fn fun_declaration(&mut self) {
        let global = self.parse_variable("Expect function name.");
        self.mark_initialized();
        self.function(Kind::Function);
        self.define_variable(global);
    }

    fn function(&mut self, kind: Kind) {
        self.begin_fn(kind, Some(self.previous.text));
        self.begin_scope();
        self.consume(Tok::LeftParen, "Expect '(' after function name.");
        if !self.check(Tok::RightParen) {
            loop {
                self.f().arity += 1;
                if self.f().arity > 255 {
                    self.error_at(self.current, "Can't have more than 255 parameters.");
                }
                let c = self.parse_variable("Expect parameter name.");
                self.define_variable(c);
                if !self.matches(Tok::Comma) {
                    break;
                }
            }
        }
        self.consume(Tok::RightParen, "Expect ')' after parameters.");
        self.consume(Tok::LeftBrace, "Expect '{' before function body.");
        self.block();
        let (f, upvalues) = self.end_fn();
        let c = self.make_constant(Value::Function(f));
        self.emit2(op::CLOSURE, c);
        for (index, is_local) in upvalues {
            self.emit2(is_local as u8, index);
        }
    }

    fn var_declaration(&mut self) {
        let global = self.parse_variable("Expect variable name.");
        if self.matches(Tok::Equal) {
            self.expression();
        } else {
            self.emit(op::NIL);
        }
        self.consume(Tok::Semicolon, "Expect ';' after variable declaration.");
        self.define_variable(global);
    }

    fn expression_statement(&mut self) {
        self.expression();
        self.consume(Tok::Semicolon, "Expect ';' after expression.");
        if !self.fuse(op::SET_PROPERTY, op::SET_PROPERTY_POP) {
            self.emit(op::POP);
        }
    }

    fn statement(&mut self) {
        if self.matches(Tok::Print) {
            self.expression();
            self.consume(Tok::Semicolon, "Expect ';' after value.");
            self.emit(op::PRINT);
        } else if self.matches(Tok::For) {
            self.for_statement();
        } else if self.matches(Tok::If) {
            self.if_statement();
        } else if self.matches(Tok::Return) {
            self.return_statement();
        } else if self.matches(Tok::While) {
            self.while_statement();
        } else if self.matches(Tok::LeftBrace) {
            self.begin_scope();
            self.block();
            self.end_scope();
        } else {
            self.expression_statement();
        }
    }

    fn block(&mut self) {
        while !self.check(Tok::RightBrace) && !self.check(Tok::Eof) {
            self.declaration();
        }
        self.consume(Tok::RightBrace, "Expect '}' after block.");
    }

    fn return_statement(&mut self) {
        if self.f().kind == Kind::Script {
            self.error("Can't return from top-level code.");
        }
        if self.matches(Tok::Semicolon) {
            self.emit_return();
        } else {
            if self.f().kind == Kind::Initializer {
                self.error("Can't return a value from an initializer.");
            }
            self.expression();
            self.consume(Tok::Semicolon, "Expect ';' after return value.");
            self.emit(op::RETURN);
        }
    }

    fn if_statement(&mut self) {
        self.consume(Tok::LeftParen, "Expect '(' after 'if'.");
        self.expression();
        self.consume(Tok::RightParen, "Expect ')' after condition.");
        let then_jump = self.emit_jump(op::JUMP_IF_FALSE);
        self.emit(op::POP);
        self.statement();
        let else_jump = self.emit_jump(op::JUMP);
        self.patch_jump(then_jump);
        self.emit(op::POP);
        if self.matches(Tok::Else) {
            self.statement();
        }
        self.patch_jump(else_jump);
    }

    fn while_statement(&mut self) {
        let start = self.target();
        self.consume(Tok::LeftParen, "Expect '(' after 'while'.");
        self.expression();
        self.consume(Tok::RightParen, "Expect ')' after condition.");
        let exit = self.emit_jump(op::JUMP_IF_FALSE);
        self.emit(op::POP);
        self.statement();
        self.emit_loop(start);
        self.patch_jump(exit);
        self.emit(op::POP);
    }

    fn for_statement(&mut self) {
        self.begin_scope();
        self.consume(Tok::LeftParen, "Expect '(' after 'for'.");
        if self.matches(Tok::Semicolon) {
        } else if self.matches(Tok::Var) {
            self.var_declaration();
        } else {
            self.expression_statement();
        }
        let mut start = self.target();
        let mut exit = None;
        if !self.matches(Tok::Semicolon) {
            self.expression();
            self.consume(Tok::Semicolon, "Expect ';' after loop condition.");
            exit = Some(self.emit_jump(op::JUMP_IF_FALSE));
            self.emit(op::POP);
        }
        if !self.matches(Tok::RightParen) {
            let body = self.emit_jump(op::JUMP);
            let increment = self.target();
            self.expression();
            self.emit(op::POP);
            self.consume(Tok::RightParen, "Expect ')' after for clauses.");
            self.emit_loop(start);
            start = increment;
            self.patch_jump(body);
        }
        self.statement();
        self.emit_loop(start);
        if let Some(exit) = exit {
            self.patch_jump(exit);
            self.emit(op::POP);
        }
        self.end_scope();
    }

    // ---- expressions ----

    fn expression(&mut self) {
        self.parse_precedence(Prec::Assignment);
    }

    fn parse_precedence(&mut self, prec: Prec) {
        self.advance();
        let can_assign = prec <= Prec::Assignment;
        if !self.prefix(self.previous.kind, can_assign) {
            self.error("Expect expression.");
            return;
        }
        while prec <= infix_prec(self.current.kind) {
            self.advance();
            self.infix(self.previous.kind, can_assign);
        }
        if can_assign && self.matches(Tok::Equal) {
            self.error("Invalid assignment target.");
        }
    }

    /// Runs the prefix rule of `t`; false if it has none.
    fn prefix(&mut self, t: Tok, can_assign: bool) -> bool {
        match t {
            Tok::LeftParen => {
                self.expression();
                self.consume(Tok::RightParen, "Expect ')' after expression.");
            }
            Tok::Minus | Tok::Bang => {
                self.parse_precedence(Prec::Unary);
                self.emit(if t == Tok::Minus { op::NEGATE } else { op::NOT });
            }
            Tok::Number => {
                let n: f64 = self
                    .previous
                    .text
                    .parse()
                    .expect("scanner checked the digits");
                self.emit_constant(Value::Number(n));
            }
            Tok::String => {
                let text = self.previous.text;
                let s = self.strings.intern(&text[1..text.len() - 1]);
                self.emit_constant(Value::Str(s));
            }
            Tok::Identifier => self.named_variable(self.previous.text, can_assign),
            Tok::False => self.emit(op::FALSE),
            Tok::True => self.emit(op::TRUE),
            Tok::Nil => self.emit(op::NIL),
            Tok::This => {
                if self.classes.is_empty() {
                    self.error("Can't use 'this' outside of a class.");
                } else {
                    self.named_variable("this", false);
                }
            }
            Tok::Super => self.super_(),
            _ => return false,
        }
        true
    }

    fn infix(&mut self, t: Tok, can_assign: bool) {
        match t {
            Tok::LeftParen => {
                let n = self.argument_list();
                self.emit2(op::CALL, n);
            }
            Tok::Dot => {
                self.consume(Tok::Identifier, "Expect property name after '.'.");
                let name = self.identifier_constant(self.previous.text);
                if can_assign && self.matches(Tok::Equal) {
                    self.expression();
                    let at = self.chunk().code.len();
                    self.emit2(op::SET_PROPERTY, name);
                    self.f().last = Some((at, op::SET_PROPERTY));
                } else if self.matches(Tok::LeftParen) {
                    let n = self.argument_list();
                    self.emit2(op::INVOKE, name);
                    self.emit(n);
                } else if self.fuse(op::GET_LOCAL, op::GET_LOCAL_PROPERTY) {
                    self.emit(name);
                } else {
                    self.emit2(op::GET_PROPERTY, name);
                }
            }
            Tok::And => {
                let end = self.emit_jump(op::JUMP_IF_FALSE);
                self.emit(op::POP);
                self.parse_precedence(Prec::And);
                self.patch_jump(end);
            }
            Tok::Or => {
                let else_jump = self.emit_jump(op::JUMP_IF_FALSE);
                let end = self.emit_jump(op::JUMP);
                self.patch_jump(else_jump);
                self.emit(op::POP);
                self.parse_precedence(Prec::Or);
                self.patch_jump(end);
            }
            _ => {
                self.parse_precedence(infix_prec(t).next());
                match t {
                    Tok::BangEqual => self.emit2(op::EQUAL, op::NOT),
                    Tok::EqualEqual => self.emit(op::EQUAL),
                    Tok::Greater => self.emit(op::GREATER),
                    Tok::GreaterEqual => self.emit2(op::LESS, op::NOT),
                    Tok::Less => self.emit(op::LESS),
                    Tok::LessEqual => self.emit2(op::GREATER, op::NOT),
                    Tok::Plus => self.emit(op::ADD),
                    Tok::Minus => self.emit(op::SUBTRACT),
                    Tok::Star => self.emit(op::MULTIPLY),
                    Tok::Slash => self.emit(op::DIVIDE),
                    _ => unreachable!("not an infix operator"),
                }
            }
        }
    }

    fn argument_list(&mut self) -> u8 {
        let mut n = 0usize;
        if !self.check(Tok::RightParen) {
            loop {
                self.expression();
                if n == 255 {
                    self.error("Can't have more than 255 arguments.");
                }
                n += 1;
                if !self.matches(Tok::Comma) {
                    break;
                }
            }
        }
        self.consume(Tok::RightParen, "Expect ')' after arguments.");
        n.min(255) as u8
    }

    fn super_(&mut self) {
        match self.classes.last() {
            None => self.error("Can't use 'super' outside of a class."),
            Some(c) if !c.has_superclass => {
                self.error("Can't use 'super' in a class with no superclass.")
            }
            _ => {}
        }
        self.consume(Tok::Dot, "Expect '.' after 'super'.");
        self.consume(Tok::Identifier, "Expect superclass method name.");
        let name = self.identifier_constant(self.previous.text);
        self.named_variable("this", false);
        if self.matches(Tok::LeftParen) {
            let n = self.argument_list();
            self.named_variable("super", false);
            self.emit2(op::SUPER_INVOKE, name);
            self.emit(n);
        } else {
            self.named_variable("super", false);
            self.emit2(op::GET_SUPER, name);
        }
    }
}
