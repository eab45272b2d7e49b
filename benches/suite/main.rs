//! The peer benchmark suite (issue #5): every workload on tricolor and on each peer that can
//! express it, side by side on one machine in one run.
//!
//! ```text
//! cargo bench --bench suite                       # the full suite (tens of minutes)
//! cargo bench --bench suite -- --smoke            # tiny sizes, one repetition (CI)
//! cargo bench --bench suite -- --write BENCHMARKS.md   # regenerate the report section
//! cargo bench --bench suite -- --only gcbench --reps 3
//! cargo bench --bench suite -- --depths 16,18       # binary-trees at these depths only
//! cargo bench --bench suite -- --plots-only --write x  # redraw the plots from the last run's data
//! cargo bench --bench suite -- --only churn --peers tricolor,Go
//! ```
//!
//! Workloads (issue #5): 1 binary-trees, 2 GCBench, 3 the latency ring, 4 the allocation fast
//! path, 5 the mark rate, 6 random graph churn, 7 the Lox interpreter; each module says what it
//! does and which peers can express it. The plots (SVG, `plotters`) go to `target/suite/`;
//! `--write` also copies them to `benches/plots/` for BENCHMARKS.md.
//!
//! Each measurement is a fresh child process (this binary with `--child`), so that every peer
//! starts from an empty heap and its peak RSS is its own. Repetitions alternate the peers
//! (rotating the order each round) and the tables give medians. One extra run per peer switches
//! on the probe, which times every allocation and every drop of a structure: its maximum is the
//! longest pause the program itself saw, whoever caused it. Throughput figures come from the
//! runs without the probe. Every peer must print the same checksum, or the suite stops.

// gc_derive 0.5 wraps its impls in a way that today's `non_local_definitions` lint reports.
#![allow(non_local_definitions)]

mod alloc;
mod binary_trees;
mod churn;
#[path = "../common/mod.rs"]
mod common;
mod containers;
mod gcbench;
mod go;
mod heaptrace;
mod lox;
mod markrate;
mod peers;
mod plots;
mod probe;
mod report;
mod ring;
mod rng;
mod weak;

pub use peers::PEERS;
use probe::{measure, tricolor_stats, Outcome};
use std::process::Command;

/// The workloads, by the name `--only` takes, in the report's order.
pub const WORKLOADS: &[&str] = &[
    "binary-trees",
    "gcbench",
    "ring",
    "alloc",
    "markrate",
    "churn",
    "containers",
    "weak",
    "lox",
];

/// One table: a workload at one size and variant.
pub struct Case {
    pub workload: &'static str,
    pub title: String,
    pub size: u32,
    pub variant: String,
    /// Mark workers (tricolor's `GCMARKPROCS`, Go's `GOMAXPROCS`); `None`: the defaults.
    pub procs: Option<u32>,
    /// The peers that take part, if not every one that can express the workload.
    pub peers: Option<&'static [&'static str]>,
    /// Whether a probe run (every allocation and drop timed) adds anything.
    pub probe: bool,
    /// Fewer rounds than asked for (the largest sizes).
    pub max_reps: Option<usize>,
    /// Said under the table (a peer left out and why).
    pub notes: Vec<String>,
}

impl Case {
    fn new(workload: &'static str, title: String, size: u32, variant: &str) -> Case {
        Case {
            workload,
            title,
            size,
            variant: variant.to_string(),
            procs: None,
            peers: None,
            probe: true,
            max_reps: None,
            notes: Vec::new(),
        }
    }
}

fn plan(smoke: bool, only: Option<&str>, depths: Option<Vec<u32>>, lox: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    let depths = depths.unwrap_or(if smoke { vec![10] } else { vec![16, 18, 21] });
    for d in depths {
        let mut c = Case::new("binary-trees", format!("binary-trees, depth {d}"), d, "");
        if d >= 21 {
            c.max_reps = Some(1);
            c.title += " (one round: each run takes up to minutes)";
        }
        cases.push(c);
    }
    let scale = if smoke { 6 } else { 0 };
    cases.push(Case::new(
        "gcbench",
        if smoke {
            format!("GCBench, every depth {scale} less")
        } else {
            "GCBench (stretch 18, long-lived 16, 500,000 doubles, depths 4..16)".into()
        },
        scale,
        "",
    ));
    let r = ring::Params::new(smoke);
    for (v, what) in [
        ("bytes", "1 KiB messages"),
        ("pointers", "messages of 8 handles to 112-byte parts"),
    ] {
        let mut c = Case::new(
            "ring",
            format!(
                "latency ring, {what} ({} in the window, {} pushes)",
                r.window, r.pushes
            ),
            0,
            v,
        );
        c.probe = false;
        cases.push(c);
    }
    for (size, v) in [(16, "none"), (16, "live"), (1008, "none"), (1008, "live")] {
        let a = alloc::Params::new(size, v, smoke);
        let mut c = Case::new(
            "alloc",
            format!(
                "allocation fast path, {} × {size} B, {} live",
                a.count,
                if a.live == 0 {
                    "nothing else".to_string()
                } else {
                    format!("{} objects of the same size", a.live)
                }
            ),
            size,
            v,
        );
        c.probe = false;
        cases.push(c);
    }
    let d = markrate::depth(smoke);
    for v in ["ordered", "shuffled"] {
        for procs in [1, 2] {
            let mut c = Case::new(
                "markrate",
                format!(
                    "mark rate, {} nodes of 16 B, {v}, {procs} mark worker{}",
                    (1u64 << (d + 1)) - 1,
                    if procs > 1 { "s" } else { "" }
                ),
                0,
                v,
            );
            c.procs = Some(procs);
            c.probe = false;
            if procs > 1 {
                c.peers = Some(&["tricolor", "Go"]);
            }
            cases.push(c);
        }
    }
    for threads in [1, 2] {
        let mut c = Case::new(
            "churn",
            format!(
                "random graph churn, {} operations, {threads} mutator thread{}",
                churn::ops(smoke),
                if threads > 1 { "s" } else { "" }
            ),
            threads,
            "",
        );
        // The threaded program is not probed: two threads' operations interleave.
        c.probe = threads == 1;
        if threads > 1 {
            c.notes.push(
                "dumpster-sync is left out: in this workload its two threads deadlock, both in \
                 `Gc::drop` → `GarbageTruck::collect_all` waiting for its collecting lock \
                 (seen with gdb on dumpster 2.1.0). The other peers cannot share handles \
                 between threads."
                    .into(),
            );
        }
        cases.push(c);
    }
    for (v, what) in [
        ("push", "pushes onto an empty vector"),
        ("set", "stores at random positions of a vector that long"),
        (
            "map",
            "inserts into a map, then as many stores over random keys",
        ),
    ] {
        for size in containers::SIZES {
            let n = containers::count(size, smoke);
            let mut c = Case::new(
                "containers",
                format!("containers, {n} {what} (a fresh handle each)"),
                size,
                v,
            );
            c.peers = Some(&["tricolor", "Rc", "Arc", "boa_gc", "dumpster", "gc", "Go"]);
            c.probe = false;
            if !containers::takes_part("gc", size) {
                c.notes.push(
                    "gc runs the smallest size only: its `GcCell` roots and unroots the whole \
                     vector or map on every `borrow_mut`, so each store costs O(len) \
                     (tricolor's `GcCell` does too; `GcVec` and `GcMap` are the remedy)."
                        .into(),
                );
            }
            cases.push(c);
        }
    }
    for (v, what) in [
        ("downgrade", "more weak references to objects that have one"),
        ("first-downgrade", "first weak references of fresh objects"),
        ("upgrade", "upgrades (each strong handle dropped at once)"),
    ] {
        for size in weak::SIZES {
            let n = if smoke { size / 100 } else { size };
            let mut c = Case::new("weak", format!("weak references, {n} {what}"), size, v);
            c.peers = Some(weak::TAKING_PART);
            c.probe = false;
            cases.push(c);
        }
    }
    if lox {
        let programs: &[&str] = if smoke { &["zoo"] } else { lox::PROGRAMS };
        for prog in programs {
            let clox = lox::clox_seconds(prog).map_or(String::new(), |s| {
                format!("; clox: {s} s on the shared README's machine")
            });
            let mut c = Case::new("lox", format!("Lox interpreter, {prog}.lox{clox}"), 0, prog);
            c.probe = false;
            cases.push(c);
        }
    }
    assert!(
        cases.iter().all(|c| WORKLOADS.contains(&c.workload)),
        "a case of a workload missing from WORKLOADS"
    );
    cases.retain(|c| only.is_none_or(|o| c.workload == o));
    cases
}

/// The child: runs one peer on one case and prints its `Outcome`.
fn child(args: &[String]) {
    let (workload, peer, size, variant, probe, smoke) = (
        args[0].as_str(),
        args[1].as_str(),
        args[2].parse::<u32>().expect("size"),
        args[3].as_str(),
        args[4] == "1",
        args[5] == "1",
    );
    if workload == "lox" {
        match lox::run(peer, variant) {
            Some(o) => println!("{}", o.to_line()),
            None => println!("SKIP"),
        }
        return;
    }
    let mut result = None;
    let mut o = measure(probe, |p| {
        let r = match workload {
            "binary-trees" => binary_trees::run(peer, size, p),
            "gcbench" => gcbench::run(peer, size, p),
            "ring" => ring::run(peer, smoke, variant, p),
            "alloc" => alloc::run(peer, size, variant, smoke, p),
            "containers" => containers::run(peer, size, variant, smoke, p),
            "weak" => weak::run(peer, size, variant, smoke, p),
            "markrate" => markrate::run(peer, smoke, variant, p),
            "churn" => churn::run(peer, smoke, size as usize, p),
            _ => None,
        };
        result = r;
        r.unwrap_or(0)
    });
    if result.is_none() {
        println!("SKIP");
        return;
    }
    if peer.starts_with("tricolor") {
        tricolor_stats(&mut o);
    }
    println!("{}", o.to_line());
}

/// The command that measures `peer` on `case` in a fresh process; `None` if the peer does not
/// take part.
pub fn command(case: &Case, peer: &str, probe: bool, smoke: bool, go: &go::Go) -> Option<Command> {
    if case.peers.is_some_and(|ps| !ps.contains(&peer)) {
        return None;
    }
    let mut cmd = if peer == "Go" {
        if probe {
            return None;
        }
        go.command(case, smoke)?
    } else {
        let mut c = Command::new(std::env::current_exe().expect("own path"));
        c.args([
            "--child",
            case.workload,
            peer,
            &case.size.to_string(),
            if case.variant.is_empty() {
                "-"
            } else {
                &case.variant
            },
            if probe { "1" } else { "0" },
            if smoke { "1" } else { "0" },
        ]);
        c
    };
    if let Some(n) = case.procs {
        cmd.env("GCMARKPROCS", n.to_string())
            .env("GOMAXPROCS", n.to_string());
    }
    Some(cmd)
}

/// A child that runs longer than this is killed and the suite stops: a peer that hangs (as
/// dumpster-sync did, see the churn case) must not hang the suite.
const CHILD_LIMIT: std::time::Duration = std::time::Duration::from_secs(900);

/// Runs one measurement; `None` if the peer does not take part.
fn spawn(case: &Case, peer: &str, probe: bool, smoke: bool, go: &go::Go) -> Option<Outcome> {
    let mut cmd = command(case, peer, probe, smoke, go)?;
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run a child");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(CHILD_LIMIT) {
        Ok(out) => out.expect("wait for a child"),
        Err(_) => {
            // SAFETY: plain FFI call; `pid` is our child, not yet reaped (its waiter is
            // blocked), so the pid cannot have been reused.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!(
                "{peer} on {} did not finish within {CHILD_LIMIT:?}",
                case.title
            );
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim() == "SKIP" {
        return None;
    }
    match Outcome::parse(&text).or_else(|| Outcome::parse(&String::from_utf8_lossy(&out.stderr))) {
        Some(o) if out.status.success() => Some(o),
        _ => panic!(
            "{peer} on {} failed ({}):\n{}\n{}",
            case.title,
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A peer's runs of one case: its throughput runs and its probe run.
pub struct Runs {
    pub peer: String,
    pub runs: Vec<Outcome>,
    pub probe: Option<Outcome>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2..]);
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/suite");
    std::fs::create_dir_all(&dir).expect("target/suite");
    if args.iter().any(|a| a == "--plots-only") {
        let svgs = plots::draw_all(&dir, &plots::load(&dir));
        if arg_value(&args, "--write").is_some() {
            publish(&dir, &svgs);
        }
        return;
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let reps: usize = arg_value(&args, "--reps")
        .map(|v| v.parse().expect("--reps N"))
        .unwrap_or(if smoke { 1 } else { 5 });
    let only = arg_value(&args, "--only");
    if let Some(o) = &only {
        if !WORKLOADS.contains(&o.as_str()) {
            eprintln!(
                "suite: no workload named {o:?}; the workloads are: {}",
                WORKLOADS.join(", ")
            );
            std::process::exit(2);
        }
    }
    let peers: Vec<String> = arg_value(&args, "--peers")
        .map(|v| v.split(',').map(String::from).collect())
        .unwrap_or_else(|| PEERS.iter().map(|p| p.to_string()).collect());
    let go = go::Go::prepare();
    let lox = only.as_deref().is_none_or(|o| o == "lox") && lox::prepare();
    let depths = arg_value(&args, "--depths").map(|v| {
        v.split(',')
            .map(|d| d.parse().expect("--depths 16,18"))
            .collect()
    });
    let mut done: Vec<(Case, Vec<Runs>)> = Vec::new();
    for case in plan(smoke, only.as_deref(), depths, lox) {
        let reps = case.max_reps.map_or(reps, |m| m.min(reps));
        eprintln!("suite: {} ({reps} rounds)", case.title);
        let mut runs: Vec<Runs> = Vec::new();
        for round in 0..reps {
            for k in 0..PEERS.len() {
                let peer = PEERS[(k + round) % PEERS.len()];
                if !peers.iter().any(|p| p == peer) {
                    continue;
                }
                if let Some(o) = spawn(&case, peer, false, smoke, &go) {
                    match runs.iter_mut().find(|r| r.peer == peer) {
                        Some(r) => r.runs.push(o),
                        None => runs.push(Runs {
                            peer: peer.to_string(),
                            runs: vec![o],
                            probe: None,
                        }),
                    }
                }
            }
        }
        if case.probe {
            for r in runs.iter_mut() {
                r.probe = spawn(&case, &r.peer, true, smoke, &go);
            }
        }
        runs.sort_by_key(|r| PEERS.iter().position(|p| *p == r.peer));
        let check = runs[0].runs[0].check;
        for r in &runs {
            for o in r.runs.iter().chain(r.probe.iter()) {
                assert_eq!(
                    o.check, check,
                    "{} computed a different result on {}",
                    r.peer, case.title
                );
            }
        }
        done.push((case, runs));
    }
    let heap = heaptrace::run(&done, smoke, &go);
    let data = plots::Data::gather(&done, heap);
    data.save(&dir);
    let svgs = plots::draw_all(&dir, &data);
    let md = report::document(&done, reps, smoke, &go, &args[1..], &svgs);
    println!("{md}");
    std::fs::write(dir.join("report.md"), &md).expect("write the report");
    if let Some(path) = arg_value(&args, "--write") {
        publish(&dir, &svgs);
        report::splice(&path, &md);
        eprintln!("suite: wrote {path} and benches/plots/");
    }
}

/// Copies the plots where BENCHMARKS.md links them.
fn publish(dir: &std::path::Path, svgs: &[String]) {
    let plots_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/plots");
    std::fs::create_dir_all(&plots_dir).expect("benches/plots");
    for svg in svgs {
        std::fs::copy(dir.join(svg), plots_dir.join(svg)).expect("copy a plot");
    }
}
