//! The peer benchmark suite (issue #5): every workload on tricolor and on each peer that can
//! express it, side by side on one machine in one run.
//!
//! ```text
//! cargo bench --bench suite                       # the full suite (tens of minutes)
//! cargo bench --bench suite -- --smoke            # tiny sizes, one repetition (CI)
//! cargo bench --bench suite -- --write BENCHMARKS.md   # regenerate the report section
//! cargo bench --bench suite -- --only gcbench --reps 3
//! cargo bench --bench suite -- --depths 16,18       # binary-trees at these depths only
//! ```
//!
//! Each measurement is a fresh child process (this binary with `--child`), so that every peer
//! starts from an empty heap and its peak RSS is its own. Repetitions alternate the peers
//! (rotating the order each round) and the tables give medians. One extra run per peer switches
//! on the probe, which times every allocation and every drop of a structure: its maximum is the
//! longest pause the program itself saw, whoever caused it. Throughput figures come from the
//! runs without the probe. Every peer must print the same checksum, or the suite stops.

// gc_derive 0.5 wraps its impls in a way that today's `non_local_definitions` lint reports.
#![allow(non_local_definitions)]

/// dumpster's `Trace` by hand: its derive cannot see fields declared inside a `macro_rules`
/// expansion (the generated `self.field` gets the wrong hygiene), and the peers' node types are
/// declared by one macro per workload.
#[macro_export]
macro_rules! dumpster_trace {
    ($t:ty; $($f:ident),*) => {
        // SAFETY: visits every field that can hold a dumpster `Gc`.
        unsafe impl<V: dumpster::Visitor> dumpster::TraceWith<V> for $t {
            fn accept(&self, visitor: &mut V) -> Result<(), ()> {
                $(self.$f.accept(visitor)?;)*
                Ok(())
            }
        }
    };
}

mod binary_trees;
#[path = "../common/mod.rs"]
mod common;
mod gcbench;
mod go;
mod probe;
mod report;

use probe::{measure, tricolor_stats, Outcome};
use std::process::Command;

/// The peers, in table order. "Go" runs the programs in `benches/go/`.
pub const PEERS: &[&str] = &[
    "tricolor",
    "Box",
    "Rc",
    "Arc",
    "bumpalo",
    "gc",
    "boa_gc",
    "dumpster",
    "dumpster-sync",
    "gc-arena",
    "Go",
];

/// One table: a workload at one size.
pub struct Case {
    pub workload: &'static str,
    pub title: String,
    pub size: u32,
}

fn plan(smoke: bool, only: Option<&str>, depths: Option<Vec<u32>>) -> Vec<Case> {
    let mut cases = Vec::new();
    let depths = depths.unwrap_or(if smoke { vec![10] } else { vec![16, 18, 21] });
    for d in depths {
        cases.push(Case {
            workload: "binary-trees",
            title: format!("binary-trees, depth {d}"),
            size: d,
        });
    }
    let scale = if smoke { 6 } else { 0 };
    cases.push(Case {
        workload: "gcbench",
        title: if smoke {
            format!("GCBench, every depth {scale} less")
        } else {
            "GCBench (stretch 18, long-lived 16, 500,000 doubles, depths 4..16)".into()
        },
        size: scale,
    });
    cases.retain(|c| only.is_none_or(|o| c.workload == o));
    cases
}

/// The child: runs one peer on one case and prints its `Outcome`.
fn child(args: &[String]) {
    let (workload, peer, size, probe) = (
        args[0].as_str(),
        args[1].as_str(),
        args[2].parse::<u32>().expect("size"),
        args[3] == "1",
    );
    let mut result = None;
    let mut o = measure(probe, |p| {
        let r = match workload {
            "binary-trees" => binary_trees::run(peer, size, p),
            "gcbench" => gcbench::run(peer, size, p),
            _ => None,
        };
        result = r;
        r.unwrap_or(0)
    });
    if result.is_none() {
        println!("SKIP");
        return;
    }
    if peer == "tricolor" {
        tricolor_stats(&mut o);
    }
    println!("{}", o.to_line());
}

/// Runs one measurement in a fresh process; `None` if the peer does not take part.
fn spawn(case: &Case, peer: &str, probe: bool, go: &go::Go) -> Option<Outcome> {
    let out = if peer == "Go" {
        if probe {
            return None;
        }
        go.command(case)?.output().expect("run the Go program")
    } else {
        Command::new(std::env::current_exe().expect("own path"))
            .args([
                "--child",
                case.workload,
                peer,
                &case.size.to_string(),
                if probe { "1" } else { "0" },
            ])
            .output()
            .expect("run a child")
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2..]);
        return;
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let reps: usize = arg_value(&args, "--reps")
        .map(|v| v.parse().expect("--reps N"))
        .unwrap_or(if smoke { 1 } else { 5 });
    let only = arg_value(&args, "--only");
    let go = go::Go::prepare();
    let mut tables = Vec::new();
    let depths = arg_value(&args, "--depths").map(|v| {
        v.split(',')
            .map(|d| d.parse().expect("--depths 16,18"))
            .collect()
    });
    for case in plan(smoke, only.as_deref(), depths) {
        eprintln!("suite: {} ({reps} rounds)", case.title);
        let mut runs: Vec<(String, Vec<Outcome>, Option<Outcome>)> = Vec::new();
        for round in 0..reps {
            for k in 0..PEERS.len() {
                let peer = PEERS[(k + round) % PEERS.len()];
                if let Some(o) = spawn(&case, peer, false, &go) {
                    match runs.iter_mut().find(|r| r.0 == peer) {
                        Some(r) => r.1.push(o),
                        None => runs.push((peer.to_string(), vec![o], None)),
                    }
                }
            }
        }
        for r in runs.iter_mut() {
            r.2 = spawn(&case, &r.0, true, &go);
        }
        runs.sort_by_key(|r| PEERS.iter().position(|p| *p == r.0));
        let check = runs[0].1[0].check;
        for (peer, os, probe) in &runs {
            for o in os.iter().chain(probe.iter()) {
                assert_eq!(
                    o.check, check,
                    "{peer} computed a different result on {}",
                    case.title
                );
            }
        }
        tables.push(report::table(&case, &runs));
    }
    let md = report::document(&tables, reps, smoke, &go, &args[1..]);
    println!("{md}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/suite");
    std::fs::create_dir_all(&dir).expect("target/suite");
    std::fs::write(dir.join("report.md"), &md).expect("write the report");
    if let Some(path) = arg_value(&args, "--write") {
        report::splice(&path, &md);
        eprintln!("suite: wrote {path}");
    }
}
