//! The Go peer: builds `benches/go/*.go` once with the `go` on PATH (Debian's `golang-go`) and
//! runs them as children; each ends with the same `RESULT` line as the Rust children, printed by
//! `report.go` from `runtime.MemStats` and `getrusage`. Without a Go toolchain the Go column is
//! left out.

use crate::Case;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Go program of a workload: `benches/go/<workload>.go` (dashes as underscores), if the
/// workload has one; each is built with `report.go`.
fn program(workload: &str) -> String {
    workload.replace('-', "_")
}

pub struct Go {
    dir: Option<PathBuf>,
    pub version: Option<String>,
}

impl Go {
    pub fn prepare() -> Go {
        let version = Command::new("go")
            .arg("version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if version.is_none() {
            eprintln!(
                "suite: no `go` on PATH (apt-get install golang-go); the Go column is left out"
            );
            return Go { dir: None, version };
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("target/suite/go");
        std::fs::create_dir_all(&dir).expect("target/suite/go");
        let programs = crate::WORKLOADS
            .iter()
            .map(|w| program(w))
            .filter(|p| root.join(format!("benches/go/{p}.go")).exists());
        for prog in programs {
            let ok = Command::new("go")
                .args(["build", "-o"])
                .arg(dir.join(&prog))
                .arg(root.join(format!("benches/go/{prog}.go")))
                .arg(root.join("benches/go/report.go"))
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "go build benches/go/{prog}.go failed");
        }
        Go {
            dir: Some(dir),
            version,
        }
    }

    /// The command that runs `case` in Go, if Go is here and has the workload; the arguments
    /// are the sizes the Rust side uses.
    pub fn command(&self, case: &Case, smoke: bool) -> Option<Command> {
        let dir = self.dir.as_ref()?;
        let args: Vec<String> = match case.workload {
            "binary-trees" | "gcbench" => vec![case.size.to_string()],
            "ring" => {
                let p = crate::ring::Params::new(smoke);
                vec![
                    case.variant.clone(),
                    p.window.to_string(),
                    p.pushes.to_string(),
                ]
            }
            "alloc" => {
                let p = crate::alloc::Params::new(case.size, &case.variant, smoke);
                vec![
                    case.size.to_string(),
                    p.live.to_string(),
                    p.count.to_string(),
                ]
            }
            "markrate" => vec![
                case.variant.clone(),
                crate::markrate::depth(smoke).to_string(),
            ],
            "churn" => vec![case.size.to_string(), crate::churn::ops(smoke).to_string()],
            "containers" => vec![
                case.variant.clone(),
                crate::containers::count(case.size, smoke).to_string(),
            ],
            _ => return None,
        };
        let mut c = Command::new(dir.join(program(case.workload)));
        c.args(args);
        Some(c)
    }
}
