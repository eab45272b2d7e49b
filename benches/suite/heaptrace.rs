//! Heap size over time, for the plots: one more run of tricolor with `GCTRACE=1` and of Go with
//! `GODEBUG=gctrace=1` on binary-trees (depth 18 if planned, else the first depth) and GCBench.
//! tricolor prints Go's gctrace format, so one parser reads both.

use crate::{command, go::Go, Case, Runs};
use serde::{Deserialize, Serialize};

/// One cycle as gctrace reports it; times in seconds since the program started, sizes in MB.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cycle {
    pub start: f64,
    pub end: f64,
    pub heap_start: f64,
    pub heap_end: f64,
    pub live: f64,
    pub goal: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trace {
    pub title: String,
    pub peer: String,
    pub cycles: Vec<Cycle>,
}

/// Parses "gc 3 @0.512s 4%: 0.02+1.8+0.03 ms clock, ..., 9->9->4 MB, 9 MB goal, ...".
pub fn parse(stderr: &str) -> Vec<Cycle> {
    stderr
        .lines()
        .filter(|l| l.starts_with("gc ") && l.contains(" MB goal"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let start: f64 = f
                .get(2)?
                .strip_prefix('@')?
                .strip_suffix('s')?
                .parse()
                .ok()?;
            let clock: f64 = f
                .get(4)?
                .split('+')
                .map(|x| x.parse::<f64>().unwrap_or(0.0))
                .sum();
            let heap_at = f.iter().position(|w| w.contains("->"))?;
            let h: Vec<f64> = f[heap_at]
                .split("->")
                .filter_map(|x| x.parse().ok())
                .collect();
            let goal: f64 = f.get(heap_at + 2)?.parse().ok()?;
            Some(Cycle {
                start,
                end: start + clock / 1e3,
                heap_start: *h.first()?,
                heap_end: *h.get(1)?,
                live: *h.get(2)?,
                goal,
            })
        })
        .collect()
}

pub fn run(done: &[(Case, Vec<Runs>)], smoke: bool, go: &Go) -> Vec<Trace> {
    let trees: Vec<&Case> = done
        .iter()
        .map(|d| &d.0)
        .filter(|c| c.workload == "binary-trees")
        .collect();
    let tree = trees
        .iter()
        .find(|c| c.size == 18)
        .or(trees.first())
        .copied();
    let bench = done.iter().map(|d| &d.0).find(|c| c.workload == "gcbench");
    let mut out = Vec::new();
    for case in tree.into_iter().chain(bench) {
        for peer in ["tricolor", "Go"] {
            let Some(mut cmd) = command(case, peer, false, smoke, go) else {
                continue;
            };
            cmd.env("GCTRACE", "1").env("GODEBUG", "gctrace=1");
            let o = cmd.output().expect("run a traced child");
            assert!(o.status.success(), "{peer} traced run failed: {o:?}");
            out.push(Trace {
                title: case.title.clone(),
                peer: peer.to_string(),
                cycles: parse(&String::from_utf8_lossy(&o.stderr)),
            });
        }
    }
    out
}
