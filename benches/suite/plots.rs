//! The suite's plots, as SVG with `plotters` (no font files needed: SVG text is rendered by the
//! viewer): the latency ring's pause distributions, heap size over time with the cycles
//! marked, and each peer's time relative to tricolor on every case. The data behind them is
//! saved as JSON beside them, so `--plots-only` can redraw without measuring again.

use crate::heaptrace::Trace;
use crate::report::primary;
use crate::{Case, Runs};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Serialize, Deserialize)]
pub struct PeerData {
    pub peer: String,
    /// The case's ranking figure (see `report::primary`), median over the runs.
    pub primary: f64,
    /// The latency ring's survival curve, from the run with the median p99.9.
    pub ccdf: Option<Vec<(f64, f64)>>,
}

#[derive(Serialize, Deserialize)]
pub struct CaseData {
    pub title: String,
    pub workload: String,
    pub variant: String,
    pub peers: Vec<PeerData>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct Data {
    pub cases: Vec<CaseData>,
    pub heap: Vec<Trace>,
}

impl Data {
    pub fn gather(done: &[(Case, Vec<Runs>)], heap: Vec<Trace>) -> Data {
        let cases = done
            .iter()
            .map(|(c, runs)| CaseData {
                title: c.title.clone(),
                workload: c.workload.to_string(),
                variant: c.variant.clone(),
                peers: runs
                    .iter()
                    .map(|r| {
                        let mut v: Vec<f64> =
                            r.runs.iter().map(|o| primary(c.workload, o)).collect();
                        v.sort_by(f64::total_cmp);
                        let mut by_tail: Vec<_> = r
                            .runs
                            .iter()
                            .filter(|o| o.get("p999_ns").is_some())
                            .collect();
                        by_tail.sort_by_key(|o| o.get("p999_ns"));
                        PeerData {
                            peer: r.peer.clone(),
                            primary: v[v.len() / 2],
                            ccdf: by_tail.get(by_tail.len() / 2).and_then(|o| {
                                o.series
                                    .iter()
                                    .find(|s| s.0 == "push_us_ccdf")
                                    .map(|s| s.1.clone())
                            }),
                        }
                    })
                    .collect(),
            })
            .collect();
        Data { cases, heap }
    }

    pub fn save(&self, dir: &Path) {
        let json = serde_json::to_string_pretty(self).expect("serialize the plot data");
        std::fs::write(dir.join("plots.json"), json).expect("write plots.json");
    }
}

pub fn load(dir: &Path) -> Data {
    let text = std::fs::read_to_string(dir.join("plots.json"))
        .expect("target/suite/plots.json: run the suite first");
    serde_json::from_str(&text).expect("parse plots.json")
}

/// One colour per peer, the same in every plot.
fn colour(peer: &str) -> RGBColor {
    let i = crate::PEERS.iter().position(|p| *p == peer).unwrap_or(0);
    const C: [RGBColor; 12] = [
        RGBColor(214, 39, 40),
        RGBColor(247, 129, 191),
        RGBColor(127, 127, 127),
        RGBColor(31, 119, 180),
        RGBColor(23, 190, 207),
        RGBColor(188, 189, 34),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(44, 160, 44),
        RGBColor(152, 223, 138),
        RGBColor(140, 86, 75),
        RGBColor(0, 0, 0),
    ];
    C[i % C.len()]
}

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

/// Draws every plot the data allows; returns the file names written in `dir`.
pub fn draw_all(dir: &Path, data: &Data) -> Vec<String> {
    let mut names = Vec::new();
    let mut run = |name: String, r: Result| match r {
        Ok(()) => names.push(name),
        Err(e) => eprintln!("suite: plot {name} failed: {e}"),
    };
    for c in data.cases.iter().filter(|c| c.workload == "ring") {
        let name = format!("ring-{}.svg", c.variant);
        run(name.clone(), ring(&dir.join(&name), c));
    }
    let titles: Vec<&String> = {
        let mut t: Vec<&String> = data.heap.iter().map(|h| &h.title).collect();
        t.dedup();
        t
    };
    for (k, title) in titles.into_iter().enumerate() {
        let traces: Vec<&Trace> = data.heap.iter().filter(|h| &h.title == title).collect();
        let name = format!("heap-{k}.svg");
        run(name.clone(), heap(&dir.join(&name), title, &traces));
    }
    if !data.cases.is_empty() {
        run(
            "relative.svg".into(),
            relative(&dir.join("relative.svg"), data),
        );
    }
    names
}

/// The ring's pause distribution: for each peer, the fraction of pushes at least as slow as x.
fn ring(path: &Path, c: &CaseData) -> Result {
    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let pts: Vec<(f64, f64)> = c
        .peers
        .iter()
        .flat_map(|p| p.ccdf.iter().flatten().copied())
        .collect();
    let xmax = pts.iter().map(|p| p.0).fold(1.0, f64::max) * 1.5;
    let ymin = pts.iter().map(|p| p.1).fold(1.0, f64::min) / 2.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(&c.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((0.01f64..xmax).log_scale(), (ymin..1.0f64).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("push latency (µs)")
        .y_desc("fraction of pushes at least this slow")
        .x_label_formatter(&|v| {
            if *v >= 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        })
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    for p in &c.peers {
        let Some(ccdf) = &p.ccdf else { continue };
        let col = colour(&p.peer);
        chart
            .draw_series(LineSeries::new(
                ccdf.iter().map(|&(x, y)| (x.max(0.01), y)),
                col.stroke_width(2),
            ))?
            .label(p.peer.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Heap size over time: at each cycle the heap at its start, at mark termination and what it
/// marked live (the sawtooth), with the goal dotted and a tick at each cycle's start.
fn heap(path: &Path, title: &str, traces: &[&Trace]) -> Result {
    let root = SVGBackend::new(path, (1000, 300 * traces.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((traces.len(), 1));
    for (t, area) in traces.iter().zip(panels.iter()) {
        let tmax = t.cycles.iter().map(|c| c.end).fold(0.001, f64::max) * 1.02;
        let hmax = t
            .cycles
            .iter()
            .map(|c| c.heap_start.max(c.heap_end).max(c.goal))
            .fold(1.0, f64::max)
            * 1.1;
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{}: {title} ({} cycles)", t.peer, t.cycles.len()),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..tmax, 0f64..hmax)?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc("heap (MB)")
            .draw()?;
        let col = colour(&t.peer);
        let mut saw = Vec::new();
        for c in &t.cycles {
            saw.push((c.start, c.heap_start));
            saw.push((c.end, c.heap_end));
            saw.push((c.end, c.live));
        }
        chart.draw_series(LineSeries::new(saw, col.stroke_width(2)))?;
        chart.draw_series(
            t.cycles
                .iter()
                .map(|c| Circle::new((c.start, c.heap_start), 2, col.filled())),
        )?;
        chart.draw_series(
            t.cycles
                .iter()
                .map(|c| PathElement::new(vec![(c.start, 0.0), (c.start, hmax * 0.03)], BLACK)),
        )?;
        chart.draw_series(LineSeries::new(
            t.cycles.iter().map(|c| (c.end, c.goal)),
            BLUE.mix(0.5),
        ))?;
    }
    root.present()?;
    Ok(())
}

/// A ratio with two significant digits at most, for axis labels.
fn short(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Every case in one figure: for each peer, its ranking figure over tricolor's (log scale;
/// right of 1, the peer takes longer than tricolor).
fn relative(path: &Path, data: &Data) -> Result {
    let cases: Vec<&CaseData> = data
        .cases
        .iter()
        .filter(|c| c.peers.iter().any(|p| p.peer == "tricolor") && c.peers.len() > 1)
        .collect();
    let cols = 3;
    let rows = cases.len().div_ceil(cols).max(1);
    let root = SVGBackend::new(path, (1500, 260 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((rows, cols));
    for (c, area) in cases.iter().zip(panels.iter()) {
        let ours = c
            .peers
            .iter()
            .find(|p| p.peer == "tricolor")
            .unwrap()
            .primary;
        let bars: Vec<(&str, f64)> = c
            .peers
            .iter()
            .map(|p| (p.peer.as_str(), (p.primary / ours).max(1e-3)))
            .collect();
        let lo = (bars.iter().map(|b| b.1).fold(1.0, f64::min) / 1.5).min(0.5);
        let hi = (bars.iter().map(|b| b.1).fold(1.0, f64::max) * 1.5).max(2.0);
        let n = bars.len() as i32;
        let mut title = c.title.clone();
        if title.len() > 60 {
            title.truncate(57);
            title += "...";
        }
        let names: Vec<String> = bars.iter().map(|b| b.0.to_string()).collect();
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 13))
            .margin(6)
            .x_label_area_size(25)
            .y_label_area_size(95)
            .build_cartesian_2d((lo..hi).log_scale(), (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n as usize)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_labels(6)
            .x_label_formatter(&|v| short(*v))
            .x_desc("time relative to tricolor (log)")
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, (peer, r))| {
            let mut rect = Rectangle::new(
                [
                    (1.0, SegmentValue::Exact(i as i32)),
                    (*r, SegmentValue::Exact(i as i32 + 1)),
                ],
                colour(peer).filled(),
            );
            rect.set_margin(3, 3, 0, 0);
            rect
        }))?;
    }
    root.present()?;
    Ok(())
}
