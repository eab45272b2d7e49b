//! Runs a test's scenarios in child processes: the test binary re-executed with
//! `TRICOLOR_SCENARIO=<name>` and `--exact child`, with freed slots poisoned (`GCPOISON=1`) and
//! every mark termination verified (`GCCHECKMARK=1`). A scenario that corrupts the heap, aborts
//! or hangs then fails only its own test, and each starts from a fresh heap and environment.
//! The test file provides a `#[test] fn child()` that runs the scenario `scenario_name()` names.

#![allow(dead_code)] // each test file uses part of it

use std::process::{Command, Output};
use std::time::Duration;

/// How long a scenario may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `scenario` in a child process with `env`; returns its output, or panics if it did not
/// finish within `TIMEOUT` (a deadlock).
pub fn run(scenario: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("TRICOLOR_SCENARIO", scenario)
        .env("GCPOISON", "1")
        .env("GCCHECKMARK", "1")
        .env_remove("GCTRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("scenario {scenario} did not finish within {TIMEOUT:?}: a deadlock");
        }
    }
}

/// Runs `scenario` and requires that it ran to its end ("scenario ok" on stdout) and exited 0.
pub fn passes(scenario: &str) {
    passes_with(scenario, &[]);
}

/// [`passes`] with `env` set in the child (after the defaults, so it may override them);
/// returns the child's output.
pub fn passes_with(scenario: &str, env: &[(&str, &str)]) -> Output {
    let out = run(scenario, env);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains("scenario ok"),
        "scenario {scenario} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    out
}

/// The body of a test file's `#[test] fn child()`: in a child process, runs the scenario its
/// environment names from `scenarios` and prints "scenario ok"; in the parent, nothing.
pub fn child(scenarios: &[(&str, fn())]) {
    let Some(name) = scenario_name() else {
        return;
    };
    let (_, run) = scenarios
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("unknown scenario {name}"));
    run();
    println!("scenario ok");
}

/// The scenario this process is a child for, if it is one.
pub fn scenario_name() -> Option<String> {
    std::env::var("TRICOLOR_SCENARIO").ok()
}

/// A small seeded generator (xorshift64) for the tests' random choices.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Counts its drops. Traced types may not implement `Drop` (the derive rejects it), so a test
/// type keeps one of these in an ignored field, and the shared count says how many were dropped.
pub struct Counter(pub std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Counter {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
