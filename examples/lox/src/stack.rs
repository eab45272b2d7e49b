//! The VM's value stack: a `Vec<Value>` whose pops and overwrites skip the drop glue for values
//! that hold no handle. Dropping a `Value` is an out-of-line call that matches on the variant;
//! most values the stack discards are numbers and booleans (9% of trees.lox's instructions
//! went to that call before).

use crate::object::Value;
use std::ops::{Index, IndexMut};

pub struct Stack {
    values: Vec<Value>,
}

impl Stack {
    pub fn with_capacity(n: usize) -> Stack {
        Stack {
            values: Vec::with_capacity(n),
        }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    #[inline(always)]
    pub fn push(&mut self, v: Value) {
        self.values.push(v);
    }

    #[inline(always)]
    pub fn pop(&mut self) -> Value {
        self.values.pop().expect("the compiler balances the stack")
    }

    /// Pops and drops the top value.
    #[inline(always)]
    pub fn drop_top(&mut self) {
        self.pop().discard();
    }

    /// Takes the value out of slot `i`, leaving nil: a move where a clone would cost a
    /// root-count increment now and a decrement when the slot is popped.
    #[inline(always)]
    pub fn take(&mut self, i: usize) -> Value {
        std::mem::replace(&mut self.values[i], Value::Nil)
    }

    /// Overwrites slot `i`.
    #[inline(always)]
    pub fn set(&mut self, i: usize, v: Value) {
        std::mem::replace(&mut self.values[i], v).discard();
    }

    /// The value `n` slots below the top.
    #[inline(always)]
    pub fn peek(&self, n: usize) -> &Value {
        &self.values[self.values.len() - 1 - n]
    }

    #[inline(always)]
    pub fn top_mut(&mut self) -> &mut Value {
        self.values
            .last_mut()
            .expect("the compiler balances the stack")
    }

    #[inline(always)]
    pub fn truncate(&mut self, n: usize) {
        while self.values.len() > n {
            self.drop_top();
        }
    }

    pub fn clear(&mut self) {
        self.values.clear();
    }
}

impl Index<usize> for Stack {
    type Output = Value;
    #[inline(always)]
    fn index(&self, i: usize) -> &Value {
        &self.values[i]
    }
}

impl IndexMut<usize> for Stack {
    #[inline(always)]
    fn index_mut(&mut self, i: usize) -> &mut Value {
        &mut self.values[i]
    }
}
