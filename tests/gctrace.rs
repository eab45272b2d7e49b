//! `GCTRACE` output of a real run, parsed field by field as a tool that reads Go's gctrace lines
//! would, and the handling of bad environment values in a real process.

use std::process::Command;

/// Runs the workload `args[0]` (function `probe` below) in a child process: this test binary
/// re-executed, with only the GC* environment the test sets.
fn run_example(name: &str, env: &[(&str, &str)], args: &[&str]) -> (String, String) {
    let _ = name;
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "probe", "--nocapture", "--test-threads=1", "-q"]);
    c.env("TRICOLOR_PROBE", args[0]);
    for (k, v) in env {
        c.env(k, v);
    }
    for k in [
        "GCTRACE",
        "GCPERCENT",
        "GCMEMLIMIT",
        "GCCHECKMARK",
        "GCPOISON",
        "GCMARKPROCS",
        "GCHARDLIMIT",
        "GCFENCE",
        "GCFORCEPERIOD_MS",
    ] {
        if !env.iter().any(|(e, _)| e == &k) {
            c.env_remove(k);
        }
    }
    let out = c.output().expect("run the probe");
    assert!(
        out.status.success(),
        "probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

use tricolor_gc::{collect, set_gc_percent, set_memory_limit, Gc, GcCell};

/// The child side of `run_example`: in the parent (no `TRICOLOR_PROBE`), nothing.
#[test]
fn probe() {
    match std::env::var("TRICOLOR_PROBE").ok().as_deref() {
        None => {}
        Some("churn") => {
            let keep = Gc::new(GcCell::new(Vec::new()));
            for i in 0..400_000u64 {
                let g = Gc::new([i; 4]);
                if i % 64 == 0 {
                    keep.borrow_mut().push(g);
                }
                if i % 100_000 == 99_999 {
                    collect(); // forced cycles: the test knows at least these ran
                }
            }
            collect();
            println!("done {}", keep.borrow().len());
        }
        Some("collect") => {
            let _g = Gc::new(vec![1u8; 10]);
            collect();
            collect();
            println!("done");
        }
        Some("idle") => {
            // Wait for the collector's timer (shortened by the test with GCFORCEPERIOD_MS) to
            // start a cycle on its own: nothing here allocates or collects.
            let _g = Gc::new(1u8);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while tricolor_gc::stats().num_gc == 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            println!("num_gc={}", tricolor_gc::stats().num_gc);
        }
        Some("settings") => {
            let _ = Gc::new(1u8); // reads the environment
            let p = set_gc_percent(100);
            set_gc_percent(p);
            let l = set_memory_limit(u64::MAX);
            println!("gc_percent={p} mem_limit={l}");
        }
        Some(other) => panic!("unknown probe {other}"),
    }
}

/// Parses "#.#" or "#" milliseconds as Go prints them.
fn ms(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

#[derive(Debug)]
struct Line {
    n: u64,
    at: f64,
    pct: u64,
    clock: [f64; 3],
    cpu: [f64; 5],
    heap: [u64; 3],
    goal: u64,
    stacks: u64,
    globals: u64,
    procs: u64,
    forced: bool,
}

fn parse(line: &str) -> Line {
    // gc 3 @0.512s 4%: 0.021+1.8+0.035 ms clock, 0.021+0/1.8/0+0.035 ms cpu, 9->9->4 MB, 9 MB goal, 0 MB stacks, 0 MB globals, 1 P (forced)
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f[0], "gc", "{line}");
    let n = f[1].parse().unwrap();
    let at = f[2]
        .strip_prefix('@')
        .and_then(|s| s.strip_suffix('s'))
        .unwrap()
        .parse()
        .unwrap();
    let pct = f[3].strip_suffix("%:").unwrap().parse().unwrap();
    let clock: Vec<f64> = f[4].split('+').map(ms).collect();
    assert_eq!((f[5], f[6]), ("ms", "clock,"), "{line}");
    let cpu_parts: Vec<&str> = f[7].split(['+', '/']).collect();
    let cpu: Vec<f64> = cpu_parts.iter().map(|s| ms(s)).collect();
    assert_eq!((f[8], f[9]), ("ms", "cpu,"), "{line}");
    let heap: Vec<u64> = f[10].split("->").map(|s| s.parse().unwrap()).collect();
    assert_eq!(f[11], "MB,", "{line}");
    assert_eq!((f[13], f[14]), ("MB", "goal,"), "{line}");
    assert_eq!((f[16], f[17]), ("MB", "stacks,"), "{line}");
    assert_eq!((f[19], f[20]), ("MB", "globals,"), "{line}");
    assert_eq!(f[22], "P", "{line}");
    let forced = match f.get(23) {
        None => false,
        Some(&"(forced)") => true,
        Some(x) => panic!("unexpected trailing field {x:?} in {line}"),
    };
    Line {
        n,
        at,
        pct,
        clock: clock.try_into().unwrap(),
        cpu: cpu.try_into().unwrap(),
        heap: heap.try_into().unwrap(),
        goal: f[12].parse().unwrap(),
        stacks: f[15].parse().unwrap(),
        globals: f[18].parse().unwrap(),
        procs: f[21].parse().unwrap(),
        forced,
    }
}

/// The invariants of a gctrace line that hold for Go's and tricolor's alike.
fn check_invariants(lines: &[Line], who: &str, all: &str) {
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    assert!(!lines.is_empty(), "{who}: no lines:\n{all}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(
            l.n,
            i as u64 + 1,
            "{who}: cycles are numbered from 1 in order"
        );
        assert!(l.pct <= 100, "{who}: {l:?}");
        assert!(l.clock.iter().all(|&x| x >= 0.0) && l.cpu.iter().all(|&x| x >= 0.0));
        // The stop phases' cpu is their clock times P. Both figures are printed as Go prints
        // them, cut (not rounded) to two significant digits, so each is up to 10% under the
        // true value: the printed cpu lies within 10% of the printed clock times P.
        for (cpu, clock) in [(l.cpu[0], l.clock[0]), (l.cpu[4], l.clock[2])] {
            let want = clock * l.procs as f64;
            assert!(
                cpu >= want * 0.9 - 0.002 && cpu <= want * 1.11 + 0.002,
                "{who}: stop cpu {cpu} is not clock {clock} x {} P: {l:?}",
                l.procs
            );
        }
        if !l.forced {
            // A cycle the heap triggered starts below the goal it aims at (MB rounding aside).
            assert!(
                l.goal + 1 >= l.heap[0],
                "{who}: goal below the start heap: {l:?}"
            );
        }
        assert_eq!(l.globals, 0);
        assert!(l.stacks <= l.heap[1] + 1, "{who}: {l:?}");
        assert_eq!(l.procs, cores, "{who}: P is the available parallelism");
    }
    assert!(
        lines.windows(2).all(|w| w[0].at <= w[1].at),
        "{who}: timestamps go forward"
    );
}

/// The suite's Go binary-trees (`benches/go`), for `go_and_tricolor_lines_read_the_same`.
const GO_SOURCES: [&str; 2] = ["benches/go/binary_trees.go", "benches/go/report.go"];

/// Its trace at depth 14, recorded with Go 1.19 on a 2-core machine: what the test parses where
/// no Go toolchain is installed (the P check then needs 2 cores).
const GO_RECORDED: &str = "\
gc 1 @0.017s 3%: 0.019+2.0+0.078 ms clock, 0.038+0.29/0.75/1.2+0.15 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 2 @0.031s 2%: 0.007+4.6+0.030 ms clock, 0.015+0.16/0.066/1.6+0.061 ms cpu, 3->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 3 @0.043s 2%: 0.013+1.5+0.028 ms clock, 0.026+0.16/0.077/1.3+0.056 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 4 @0.056s 2%: 0.016+1.6+0.028 ms clock, 0.033+0/0.70/1.0+0.057 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 5 @0.069s 2%: 0.021+2.0+0.027 ms clock, 0.043+0.067/0.077/1.7+0.055 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 6 @0.076s 2%: 0.009+1.4+0.032 ms clock, 0.018+0.044/0.64/0.81+0.064 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 7 @0.083s 2%: 0.008+1.3+0.026 ms clock, 0.016+0.038/0.47/0.94+0.052 ms cpu, 3->3->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
";

/// Go's gctrace lines of the suite's binary-trees at depth 14, from a real run when `go` is
/// installed (CI installs it).
fn go_lines() -> Option<String> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("gctrace-go");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("binary_trees");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .args(GO_SOURCES.map(|f| root.join(f)))
        .env("GOCACHE", dir.join("cache"))
        .env("GOPATH", dir.join("path"))
        .env("GO111MODULE", "off")
        .status()
        .ok()?;
    assert!(built.success(), "go build failed");
    let out = Command::new(&bin)
        .arg("14")
        .env("GODEBUG", "gctrace=1")
        .env_remove("GOMAXPROCS")
        .env_remove("GOGC")
        .output()
        .unwrap();
    assert!(out.status.success());
    Some(String::from_utf8(out.stderr).unwrap())
}

#[test]
fn go_and_tricolor_lines_read_the_same() {
    let go = match go_lines() {
        Some(trace) => trace,
        None => {
            eprintln!("no Go toolchain: parsing Go lines recorded on a 2-core machine");
            if std::thread::available_parallelism().unwrap().get() != 2 {
                return;
            }
            GO_RECORDED.to_string()
        }
    };
    let go_lines: Vec<Line> = go
        .lines()
        .filter(|l| l.starts_with("gc "))
        .map(parse)
        .collect();
    check_invariants(&go_lines, "Go", &go);
    assert!(
        go_lines.len() >= 5,
        "binary-trees 14 runs several cycles:\n{go}"
    );

    let (out, err) = run_example("gctrace", &[("GCTRACE", "1")], &["churn"]);
    assert!(out.contains("done"), "{out}");
    let lines: Vec<Line> = err
        .lines()
        .filter(|l| l.starts_with("gc "))
        .map(parse)
        .collect();
    assert!(lines.len() >= 5, "the probe forces 5 cycles:\n{err}");
    check_invariants(&lines, "tricolor", &err);
    for l in &lines {
        assert!(
            l.heap[2] <= l.heap[1].max(l.heap[0]) + 1,
            "marked <= heap: {l:?}"
        );
        assert!(l.goal >= 4, "the goal is at least 4 MB: {l:?}");
    }
    assert!(
        lines.last().unwrap().forced,
        "the final collect() is marked (forced)"
    );
    assert_eq!(lines.iter().filter(|l| l.forced).count(), 5, "{err}");
    // `@` counts from the process's start, as Go's does: never before it, and this child does
    // nothing else before its first cycle.
    assert!(lines[0].at < 5.0, "{err}");
}

#[test]
fn gctrace_2_adds_a_detail_line_per_cycle() {
    let (_, err) = run_example("gctrace", &[("GCTRACE", "2")], &["collect"]);
    let summary: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("gc ") && !l.contains("detail"))
        .collect();
    let detail: Vec<&str> = err.lines().filter(|l| l.contains(" detail: ")).collect();
    assert_eq!(summary.len(), detail.len(), "{err}");
    for d in detail {
        for key in [
            "workers=",
            "roots=",
            "root_scan=",
            "root_spans=",
            "root_jobs_assist=",
            "root_jobs_waiting=",
            "rounds=",
            "stops_called_off=",
            "late=",
            "termination=",
            "scanned bg=",
            "assist=",
            " spans=",
            "swept bg=",
            "lazy=",
            "credit=",
            "waiting=",
            "freed=",
            "weak_cleared=",
            "finalizers=",
            "black=",
            "next_goal=",
        ] {
            assert!(d.contains(key), "{key} missing in {d}");
        }
    }
}

#[test]
fn no_trace_without_gctrace() {
    let (_, err) = run_example("gctrace", &[], &["collect"]);
    assert!(!err.lines().any(|l| l.starts_with("gc ")), "{err}");
}

#[test]
fn bad_environment_values_warn_once_and_use_defaults() {
    let (out, err) = run_example(
        "gctrace",
        &[
            ("GCTRACE", "loud"),
            ("GCPERCENT", "fifty"),
            ("GCMEMLIMIT", "1XB"),
            ("GCCHECKMARK", "2"),
        ],
        &["settings"],
    );
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("tricolor: invalid"))
        .collect();
    assert_eq!(warnings.len(), 4, "{err}");
    for (var, val) in [
        ("GCTRACE", "loud"),
        ("GCPERCENT", "fifty"),
        ("GCMEMLIMIT", "1XB"),
        ("GCCHECKMARK", "2"),
    ] {
        assert_eq!(
            warnings
                .iter()
                .filter(|w| w.contains(var) && w.contains(val))
                .count(),
            1,
            "{var}: {err}"
        );
    }
    assert!(
        !err.lines().any(|l| l.starts_with("gc ")),
        "GCTRACE fell back to 0"
    );
    assert!(
        out.contains("gc_percent=100"),
        "GCPERCENT fell back to 100: {out}"
    );
}

#[test]
fn valid_environment_values_take_effect() {
    let (out, err) = run_example(
        "gctrace",
        &[("GCPERCENT", "off"), ("GCMEMLIMIT", "64MiB")],
        &["settings"],
    );
    assert!(!err.contains("invalid"), "{err}");
    assert!(out.contains("gc_percent=-1"), "{out}");
    assert!(out.contains(&format!("mem_limit={}", 64u64 << 20)), "{out}");
}

#[test]
fn gcmarkprocs_sets_the_mark_workers_and_a_bad_value_is_reported() {
    // Checkmark on, so that what three workers do is verified too (CI also runs the checkmark
    // stress with two workers, which exercises the give-away of gray stacks).
    let (_, err) = run_example(
        "gctrace",
        &[("GCTRACE", "1"), ("GCMARKPROCS", "3"), ("GCCHECKMARK", "1")],
        &["churn"],
    );
    let lines: Vec<Line> = err
        .lines()
        .filter(|l| l.starts_with("gc "))
        .map(parse)
        .collect();
    assert!(lines.len() >= 5, "{err}");
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    assert!(
        lines.iter().all(|l| l.procs == cores),
        "P is the cores: {err}"
    );
    let (_, err) = run_example(
        "gctrace",
        &[("GCTRACE", "2"), ("GCMARKPROCS", "3")],
        &["collect"],
    );
    let details: Vec<&str> = err.lines().filter(|l| l.contains(" detail: ")).collect();
    assert!(!details.is_empty(), "{err}");
    assert!(details.iter().all(|d| d.contains("workers=3 ")), "{err}");
    let (_, err) = run_example(
        "gctrace",
        &[("GCTRACE", "1"), ("GCMARKPROCS", "none")],
        &["churn"],
    );
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("invalid")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("GCMARKPROCS") && warnings[0].contains("none"));
    assert!(err.lines().filter(|l| l.starts_with("gc ")).count() >= 5);
}

#[test]
fn the_timer_starts_a_cycle_and_gctrace_says_so() {
    // The period is two minutes; the hidden GCFORCEPERIOD_MS shortens it for this test, and the
    // probe waits (a time-based feature) until the timer's cycle has run.
    let (out, err) = run_example(
        "gctrace",
        &[("GCTRACE", "1"), ("GCFORCEPERIOD_MS", "100")],
        &["idle"],
    );
    assert!(
        out.contains("num_gc=") && !out.contains("num_gc=0\n"),
        "{out}"
    );
    let lines: Vec<&str> = err.lines().collect();
    let i = lines
        .iter()
        .position(|l| *l == "GC forced")
        .unwrap_or_else(|| panic!("no 'GC forced' line:\n{err}"));
    let next = parse(lines[i + 1]);
    assert_eq!(next.n, 1);
    assert!(!next.forced, "a timer cycle is not a collect() cycle");
}
