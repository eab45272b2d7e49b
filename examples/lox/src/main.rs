//! `lox FILE` runs a Lox program; `lox` alone is a REPL. The VM's objects live in the tricolor
//! heap, so `GCTRACE=1 lox FILE` shows the collector at work on a real language.
//!
//! `--stats` prints a summary of the collector's work on stderr at exit.
#![forbid(unsafe_code)]

mod cache;
mod chunk;
mod compiler;
mod globals;
mod heap;
mod object;
mod scanner;
mod stack;
mod vm;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use vm::{Outcome, Vm};

/// Strings, chunks and tables live in `malloc`'s heap, owned by objects in the collector's: the
/// pacer counts them (README: "Memory outside the heap"). Not in the `Rc` build, which has no
/// collector.
#[cfg(not(feature = "rc"))]
#[global_allocator]
static ALLOC: tricolor_gc::GcAllocator = tricolor_gc::GcAllocator::new();

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let stats = args.iter().any(|a| a == "--stats");
    args.retain(|a| a != "--stats");
    let code = match args.as_slice() {
        [] => repl(),
        [path] => run_file(path),
        _ => {
            eprintln!("Usage: lox [--stats] [path]");
            64
        }
    };
    if stats {
        eprintln!("{}", heap::summary());
    }
    ExitCode::from(code)
}

fn repl() -> u8 {
    let mut vm = Vm::new();
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        print!("> ");
        let _ = std::io::stdout().flush();
        line.clear();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                println!();
                return 0;
            }
            // Errors were reported; the session goes on with the globals defined so far.
            Ok(_) => {
                vm.interpret(&line);
            }
        }
    }
}

fn run_file(path: &str) -> u8 {
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Could not read file \"{path}\": {e}");
            return 74;
        }
    };
    match Vm::new().interpret(&src) {
        Outcome::Ok => 0,
        Outcome::CompileError => 65,
        Outcome::RuntimeError => 70,
    }
}
