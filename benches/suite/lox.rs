//! Workload 7, the interpreter: the Lox VM of `examples/lox` running the GC-heavy programs of
//! `../shared/lox/benchmark`, built twice from the same source: on tricolor, and with its
//! objects behind `Rc` (the `rc` feature, which leaks cycles). The child runs the VM as its own
//! child and reports that process's CPU time and peak RSS; the checksum is the number of lines
//! the program printed.

use crate::probe::Outcome;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The programs whose work is mostly allocation (issue #6's list).
pub const PROGRAMS: &[&str] = &["binary_trees", "trees", "instantiation", "zoo"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn shared() -> PathBuf {
    root().join("../shared/lox")
}

fn binary(peer: &str) -> Option<PathBuf> {
    match peer {
        "tricolor" => Some(root().join("target/lox/lox")),
        "Rc" => Some(root().join("target/lox-rc/lox/lox")),
        _ => None,
    }
}

/// Builds both VMs with the `lox` profile (release with fat LTO and one codegen unit, the
/// counterpart of clox's `gcc -O3`; the parent does this once, before any child runs). `false`
/// if the shared Lox directory is not beside the checkout.
pub fn prepare() -> bool {
    if !shared().join("benchmark").is_dir() {
        eprintln!("suite: ../shared/lox/benchmark not found; the interpreter workload is left out");
        return false;
    }
    let build = |extra: &[&str]| {
        let ok = Command::new(env!("CARGO"))
            .args(["build", "--profile", "lox", "-p", "lox"])
            .args(extra)
            .current_dir(root())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cargo build -p lox {extra:?} failed");
    };
    build(&[]);
    build(&["--features", "rc", "--target-dir", "target/lox-rc"]);
    true
}

/// clox's time for a program, from the table in the shared README.
pub fn clox_seconds(program: &str) -> Option<f64> {
    let readme = std::fs::read_to_string(shared().join("README.md")).ok()?;
    let prefix = format!("| {program}.lox | ");
    let line = readme.lines().find(|l| l.starts_with(&prefix))?;
    line[prefix.len()..].split(' ').next()?.parse().ok()
}

/// Runs one VM on one program and measures it.
pub fn run(peer: &str, program: &str) -> Option<Outcome> {
    let exe = binary(peer)?;
    let file = shared().join(format!("benchmark/{program}.lox"));
    let t = Instant::now();
    let out = Command::new(exe)
        .arg("--stats")
        .arg(file)
        .output()
        .expect("run the Lox VM");
    let wall = t.elapsed();
    assert!(out.status.success(), "lox {program} failed: {out:?}");
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `ru` is a valid out-parameter; RUSAGE_CHILDREN covers the VM just waited for.
    let r = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, ru.as_mut_ptr()) };
    assert_eq!(r, 0, "getrusage");
    // SAFETY: getrusage succeeded, so it wrote the whole struct.
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let err = String::from_utf8_lossy(&out.stderr);
    // "tricolor: N cycles, ..., worst stop X us, ..." (the rc build prints no figures).
    let field = |after: &str, before: &str| -> Option<f64> {
        let i = err.find(after)? + after.len();
        err[i..].split(before).next()?.trim().parse().ok()
    };
    Some(Outcome {
        check: String::from_utf8_lossy(&out.stdout).lines().count() as u64,
        wall,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        rss_kib: ru.ru_maxrss as u64,
        stop: field("worst stop", "us").map(|us| Duration::from_nanos((us * 1e3) as u64)),
        cycles: field("tricolor:", "cycles").map(|c| c as u64),
        ..Outcome::default()
    })
}
