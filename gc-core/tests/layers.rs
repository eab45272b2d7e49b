//! Keeps the runtime's layers in order: every module of `gc-core/src` imports only from its own
//! layer or the layers below, and the only import cycle is the one Go has too (`mcentral` ↔
//! `sweep`). The layers are read from the table in `lib.rs`'s docs, so that the table a reader
//! sees is the one that is checked. Run with `--nocapture` to print the module graph.

use std::collections::{BTreeMap, BTreeSet};

/// Import cycles that are allowed (each pair both ways).
const ALLOWED_CYCLES: &[(&str, &str)] = &[("mcentral", "sweep")];

fn src() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Module → layer, from the rows `//! | N name | `a`, `b` | ... |` of lib.rs's table.
fn layers() -> BTreeMap<String, u32> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! | ") else {
            continue;
        };
        let cells: Vec<&str> = row.split(" | ").collect();
        let Some(layer) = cells[0]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        for m in cells[1].split(", ") {
            out.insert(m.trim_matches('`').to_string(), layer);
        }
    }
    assert!(out.len() > 20, "lib.rs's layer table was not found");
    out
}

/// The crate-level names a source file refers to through `crate::` (outside comments).
fn references(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap();
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            // `$crate::` in a macro is the crate root used from outside; skip it.
            let dollar = i > 0 && rest.as_bytes()[i - 1] == b'$';
            rest = &rest[i + "crate::".len()..];
            if dollar {
                continue;
            }
            if let Some(list) = rest.strip_prefix('{') {
                // `use crate::{a, b::c, d};`: the first segment of each entry.
                let end = list.find('}').unwrap_or(list.len());
                for entry in list[..end].split(',') {
                    let name: String = entry
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn imports_point_down_the_layers() {
    let layers = layers();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_str().unwrap().to_string();
        if module == "lib" {
            continue;
        }
        assert!(
            layers.contains_key(&module),
            "module `{module}` is missing from lib.rs's layer table"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let deps = references(&text)
            .into_iter()
            .filter(|d| layers.contains_key(d) && *d != module)
            .collect();
        graph.insert(module, deps);
    }

    // The graph, by layer, top first.
    for layer in (0..=layers.values().copied().max().unwrap()).rev() {
        println!("layer {layer}");
        for (m, deps) in graph.iter().filter(|(m, _)| layers[*m] == layer) {
            let deps: Vec<String> = deps.iter().map(|d| format!("{d}({})", layers[d])).collect();
            println!("  {m:<12} -> {}", deps.join(" "));
        }
    }

    let mut upward = Vec::new();
    for (m, deps) in &graph {
        for d in deps {
            if layers[d] > layers[m] {
                upward.push(format!(
                    "{m} (layer {}) imports {d} (layer {})",
                    layers[m], layers[d]
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports up the layers:\n{}",
        upward.join("\n")
    );

    // Within a layer, no cycle but the allowed ones: with those edges removed, a depth-first
    // search finds no back edge.
    let allowed = |a: &str, b: &str| {
        ALLOWED_CYCLES
            .iter()
            .any(|&(x, y)| (a == x && b == y) || (a == y && b == x))
    };
    fn visit<'a>(
        m: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        allowed: &dyn Fn(&str, &str) -> bool,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) {
        state.insert(m, 1);
        path.push(m);
        for d in &graph[m] {
            if allowed(m, d) {
                continue;
            }
            match state.get(d.as_str()) {
                Some(1) => panic!("import cycle: {} -> {d}", path.join(" -> ")),
                Some(_) => {}
                None => visit(d, graph, allowed, state, path),
            }
        }
        path.pop();
        state.insert(m, 2);
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        if !state.contains_key(m.as_str()) {
            visit(m, &graph, &allowed, &mut state, &mut Vec::new());
        }
    }
}
