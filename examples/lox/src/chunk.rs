//! Bytecode: a function's code, the source line of each byte, and its constants.

use crate::object::Value;

#[cfg_attr(not(feature = "rc"), derive(tricolor_gc::Trace, tricolor_gc::Finalize))]
pub struct Chunk {
    pub code: Vec<u8>,
    pub lines: Vec<u32>,
    pub constants: Vec<Value>,
}

impl Chunk {
    pub fn new() -> Chunk {
        Chunk {
            code: Vec::new(),
            lines: Vec::new(),
            constants: Vec::new(),
        }
    }

    pub fn write(&mut self, byte: u8, line: u32) {
        self.code.push(byte);
        self.lines.push(line);
    }
}

/// The instruction set (clox's, with the same operands).
pub mod op {
    pub const CONSTANT: u8 = 0;
    pub const NIL: u8 = 1;
    pub const TRUE: u8 = 2;
    pub const FALSE: u8 = 3;
    pub const POP: u8 = 4;
    pub const GET_LOCAL: u8 = 5;
    pub const SET_LOCAL: u8 = 6;
    /// Globals take a 16-bit slot (`crate::globals`) where clox takes a name constant.
    pub const GET_GLOBAL: u8 = 7;
    pub const DEFINE_GLOBAL: u8 = 8;
    pub const SET_GLOBAL: u8 = 9;
    pub const GET_UPVALUE: u8 = 10;
    pub const SET_UPVALUE: u8 = 11;
    pub const GET_PROPERTY: u8 = 12;
    pub const SET_PROPERTY: u8 = 13;
    pub const GET_SUPER: u8 = 14;
    pub const EQUAL: u8 = 15;
    pub const GREATER: u8 = 16;
    pub const LESS: u8 = 17;
    pub const ADD: u8 = 18;
    pub const SUBTRACT: u8 = 19;
    pub const MULTIPLY: u8 = 20;
    pub const DIVIDE: u8 = 21;
    pub const NOT: u8 = 22;
    pub const NEGATE: u8 = 23;
    pub const PRINT: u8 = 24;
    pub const JUMP: u8 = 25;
    pub const JUMP_IF_FALSE: u8 = 26;
    pub const LOOP: u8 = 27;
    pub const CALL: u8 = 28;
    pub const INVOKE: u8 = 29;
    pub const SUPER_INVOKE: u8 = 30;
    pub const CLOSURE: u8 = 31;
    pub const CLOSE_UPVALUE: u8 = 32;
    pub const RETURN: u8 = 33;
    pub const CLASS: u8 = 34;
    pub const INHERIT: u8 = 35;
    pub const METHOD: u8 = 36;
    // Fused pairs the compiler emits in place of two instructions (`Compiler::fuse`).
    /// `GET_LOCAL slot; GET_PROPERTY name` without copying the instance onto the stack.
    pub const GET_LOCAL_PROPERTY: u8 = 37;
    /// `SET_PROPERTY name; POP`: an assignment to a field whose value is not used.
    pub const SET_PROPERTY_POP: u8 = 38;
    /// `GET_LOCAL 0; RETURN`, an initializer's return, moving `this` instead of copying it.
    pub const RETURN_THIS: u8 = 39;
}
