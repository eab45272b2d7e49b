//! MIGRATING.md's worked example, **after**: `examples/migrate_gc.rs` ported to tricolor.
//! The port changed the imports, `force_collect` to `collect`, and the `Cell` counter to an
//! atomic (a `Gc` may cross threads, so what it holds must be `Send + Sync`); nothing else.
//! `tests/migration.rs` checks that both programs print the same thing.
//! Run: `GCTRACE=1 cargo run --release --example migrate_tricolor`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Buffers owned by `Gc` values count as heap growth (README: "Memory outside the heap").
#[global_allocator]
static ALLOC: tricolor_gc::GcAllocator = tricolor_gc::GcAllocator::new();
use tricolor_gc::{collect, Finalize, Gc, GcCell, Trace};

/// Expressions are shared by every closure made from them.
#[derive(Trace, Finalize)]
pub enum Expr {
    Num(i64),
    Var(String),
    Bin(char, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Lambda(String, Gc<Expr>),
    Call(Box<Expr>, Box<Expr>),
    /// `letrec name = value in body`: `value` sees `name` (a cycle when it is a lambda).
    LetRec(String, Box<Expr>, Box<Expr>),
}

#[derive(Trace, Finalize, Clone)]
pub enum Value {
    Int(i64),
    Fun(Gc<Closure>),
}

#[derive(Trace, Finalize)]
pub struct Closure {
    param: String,
    body: Gc<Expr>,
    env: Gc<Env>,
    /// Statistics that the collector need not see.
    #[unsafe_ignore_trace]
    calls: AtomicU64,
}

#[derive(Trace, Finalize)]
pub struct Env {
    vars: GcCell<Vec<(String, Value)>>,
    parent: Option<Gc<Env>>,
}

fn lookup(env: &Gc<Env>, name: &str) -> Value {
    let mut e = env.clone();
    loop {
        if let Some((_, v)) = e.vars.borrow().iter().find(|(n, _)| n == name) {
            return v.clone();
        }
        let up = e.parent.clone().unwrap_or_else(|| panic!("unbound {name}"));
        e = up;
    }
}

fn int(v: Value) -> i64 {
    match v {
        Value::Int(i) => i,
        Value::Fun(_) => panic!("not a number"),
    }
}

fn fun(v: &Value) -> Gc<Closure> {
    match v {
        Value::Fun(c) => c.clone(),
        Value::Int(_) => panic!("not a function"),
    }
}

pub fn eval(e: &Expr, env: &Gc<Env>) -> Value {
    match e {
        Expr::Num(n) => Value::Int(*n),
        Expr::Var(x) => lookup(env, x),
        Expr::Bin(op, a, b) => {
            let (a, b) = (int(eval(a, env)), int(eval(b, env)));
            Value::Int(match op {
                '+' => a + b,
                '-' => a - b,
                '*' => a * b,
                '<' => (a < b) as i64,
                _ => panic!("bad operator {op}"),
            })
        }
        Expr::If(c, t, f) => {
            if int(eval(c, env)) != 0 {
                eval(t, env)
            } else {
                eval(f, env)
            }
        }
        Expr::Lambda(p, body) => Value::Fun(Gc::new(Closure {
            param: p.clone(),
            body: body.clone(),
            env: env.clone(),
            calls: AtomicU64::new(0),
        })),
        Expr::Call(f, arg) => {
            let c = fun(&eval(f, env));
            let arg = eval(arg, env);
            c.calls.fetch_add(1, Ordering::Relaxed);
            let frame = Gc::new(Env {
                vars: GcCell::new(vec![(c.param.clone(), arg)]),
                parent: Some(c.env.clone()),
            });
            eval(&c.body, &frame)
        }
        Expr::LetRec(name, value, body) => {
            let frame = Gc::new(Env {
                vars: GcCell::new(Vec::new()),
                parent: Some(env.clone()),
            });
            let v = eval(value, &frame);
            frame.vars.borrow_mut().push((name.clone(), v));
            eval(body, &frame)
        }
    }
}

fn num(n: i64) -> Box<Expr> {
    Box::new(Expr::Num(n))
}
fn var(x: &str) -> Box<Expr> {
    Box::new(Expr::Var(x.into()))
}
fn bin(op: char, a: Box<Expr>, b: Box<Expr>) -> Box<Expr> {
    Box::new(Expr::Bin(op, a, b))
}
fn call(f: Box<Expr>, a: Box<Expr>) -> Box<Expr> {
    Box::new(Expr::Call(f, a))
}
fn lambda(p: &str, body: Expr) -> Box<Expr> {
    Box::new(Expr::Lambda(p.into(), Gc::new(body)))
}

/// `letrec fact = \n. if n < 1 then 1 else n * fact(n - 1) in fact(k)`
fn factorial(k: i64) -> Expr {
    let body = Expr::If(
        bin('<', var("n"), num(1)),
        num(1),
        bin('*', var("n"), call(var("fact"), bin('-', var("n"), num(1)))),
    );
    Expr::LetRec("fact".into(), lambda("n", body), call(var("fact"), num(k)))
}

/// `letrec fib = \n. if n < 2 then n else fib(n-1) + fib(n-2) in fib(k)`
fn fibonacci(k: i64) -> Expr {
    let body = Expr::If(
        bin('<', var("n"), num(2)),
        var("n"),
        bin(
            '+',
            call(var("fib"), bin('-', var("n"), num(1))),
            call(var("fib"), bin('-', var("n"), num(2))),
        ),
    );
    Expr::LetRec("fib".into(), lambda("n", body), call(var("fib"), num(k)))
}

/// Runs the program and returns what it prints.
pub fn run() -> String {
    let mut out = String::new();
    let global = Gc::new(Env {
        vars: GcCell::new(Vec::new()),
        parent: None,
    });
    out += &format!("fact(20) = {}\n", int(eval(&factorial(20), &global)));
    out += &format!("fib(20) = {}\n", int(eval(&fibonacci(20), &global)));

    // Curried addition: the inner closure keeps the outer frame alive.
    let add = lambda("x", *lambda("y", *bin('+', var("x"), var("y"))));
    let add3 = eval(&Expr::Call(add, num(3)), &global);
    global.vars.borrow_mut().push(("add3".into(), add3));
    out += &format!(
        "add3(4) = {}\n",
        int(eval(&call(var("add3"), num(4)), &global))
    );

    // Many recursive closures, each a cycle of frame and closure, become garbage at once.
    let mut total = 0;
    for k in 0..2_000 {
        total += int(eval(&factorial(k % 10), &global));
    }
    collect();
    out += &format!("sum of 2000 small factorials = {total}\n");

    // What survived the collection still works, and remembers how often it ran.
    out += &format!(
        "add3(10) = {}\n",
        int(eval(&call(var("add3"), num(10)), &global))
    );
    let f = fun(&lookup(&global, "add3"));
    out += &format!(
        "add3 was called {} times\n",
        f.calls.load(Ordering::Relaxed)
    );
    out
}

#[allow(dead_code)]
fn main() {
    print!("{}", run());
}
