//! The `lox` binary end to end: the demo under a collector in verification mode, exit codes,
//! and a REPL that survives errors. The language itself is checked by the book's suite
//! (`../shared/lox/run-tests`, run by `.ci/run`).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn lox(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lox"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn lox");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("lox runs")
}

fn program(name: &str) -> String {
    format!("{}/programs/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn temp_program(name: &str, src: &str) -> String {
    let path = std::env::temp_dir().join(format!("tricolor-lox-{}-{name}", std::process::id()));
    std::fs::write(&path, src).expect("write program");
    path.to_string_lossy().into_owned()
}

/// Runs `lox` with cycles forced every millisecond, concurrently with the VM, in checkmark mode
/// (each termination re-marks the heap and aborts if marking missed a live object) and with freed
/// slots poisoned (a stale read corrupts what is printed); asserts a clean exit.
fn verified(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut env = env.to_vec();
    env.extend([
        ("GCFORCEPERIOD_MS", "1"),
        ("GCCHECKMARK", "1"),
        ("GCPOISON", "1"),
    ]);
    let out = lox(args, &env, "");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const DEMO_OUTPUT: &str =
    "long-lived tree nodes:\n65535\nshort-lived tree nodes churned:\n2.046e+06\n\
ledger entries:\n2000\nledger sum:\n101000\n";

#[test]
fn demo_output_is_exact_with_the_collector_verifying_every_cycle() {
    let out = verified(&["--stats", &program("demo.lox")], &[("GCTRACE", "1")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), DEMO_OUTPUT);
    let err = String::from_utf8_lossy(&out.stderr);
    let cycles = err.lines().filter(|l| l.starts_with("gc ")).count();
    assert!(cycles >= 2, "the demo ran {cycles} cycles: {err}");
}

#[test]
fn strings_are_interned_and_the_table_survives_collection() {
    // 3,000 distinct strings die (the intern table holds them weakly and prunes dead entries),
    // while equal strings built at different times stay identical.
    let src = r#"
        var keep = "k" + "ey";
        var s = "";
        for (var i = 0; i < 3000; i = i + 1) s = s + "x";
        print keep == "key";
        var a = "ab";
        var b = "a" + "b";
        print a == b;
    "#;
    let path = temp_program("intern.lox", src);
    let out = lox(
        &[&path],
        &[("GCFORCEPERIOD_MS", "1"), ("GCCHECKMARK", "1")],
        "",
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "true\ntrue\n");
}

#[test]
fn exit_codes_follow_clox() {
    let compile = temp_program("compile.lox", "print ;");
    let out = lox(&[&compile], &[], "");
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "[line 1] Error at ';': Expect expression.\n"
    );

    let runtime = temp_program("runtime.lox", "fun f() {\n  return 1 + nil;\n}\nf();\n");
    let out = lox(&[&runtime], &[], "");
    assert_eq!(out.status.code(), Some(70));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Operands must be two numbers or two strings.\n[line 2] in f()\n[line 4] in script\n"
    );

    let out = lox(&["/nonexistent/file.lox"], &[], "");
    assert_eq!(out.status.code(), Some(74));
    let out = lox(&["a.lox", "b.lox"], &[], "");
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn the_repl_survives_errors_and_keeps_its_globals() {
    let out = lox(
        &[],
        &[],
        "var x = 1;\nprint y;\nprint x +;\nprint x + 1;\nfun f() { return x * 10; }\nprint f();\n",
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed: Vec<&str> = stdout
        .split("> ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(printed, ["2", "10"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Undefined variable 'y'."), "{stderr}");
    assert!(
        stderr.contains("[line 1] Error at ';': Expect expression."),
        "{stderr}"
    );
}

/// clox's output for `programs/fast_paths.lox` (produced with the book's clox).
const FAST_PATHS_OUTPUT: &str =
    "field\nfield call\nA\nB:A\nC\nA\nB:A\nC\nA\nB:A\nC\n84\n5\n10\n10\n\
right\nleft\nright\ntrue\ntrue\ntrue\nfirst\nsecond\nfield call\nlocal class\n0\n1\n";

#[test]
fn fast_paths_print_what_clox_prints_with_the_collector_verifying() {
    // Fused instructions next to the jump that must keep them apart, a field shadowing a method,
    // one method name on several classes, fields beyond the inline ones, initializer returns,
    // globals by slot.
    let out = verified(&[&program("fast_paths.lox")], &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), FAST_PATHS_OUTPUT);
}

#[test]
fn errors_on_fast_paths_name_their_line_and_variable() {
    // `n.x` on a local compiles to the fused GET_LOCAL_PROPERTY.
    let out = lox(&[&program("fused_error.lox")], &[], "");
    assert_eq!(out.status.code(), Some(70));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Only instances have properties.\n[line 3] in f()\n[line 5] in script\n"
    );
    // A global slot that exists (the compiler saw the name) but was never defined.
    let path = temp_program(
        "undefined.lox",
        "fun g() { return undefinedLater; }\nprint g();\n",
    );
    let out = lox(&[&path], &[], "");
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(70));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Undefined variable 'undefinedLater'.\n[line 1] in g()\n[line 2] in script\n"
    );
}

/// `programs/strings.lox`: a million interned strings alive at once (the string table holds
/// them weakly) and a million more that die; each leaf is still the interned object when it is
/// built again. Its stops are in BENCHMARKS.md (measured, not asserted here).
#[test]
fn a_million_interned_strings_stay_interned() {
    let out = lox(&["--stats", &program("strings.lox")], &[], "");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1.04858e+06\n1.04858e+06\n"
    );
}
