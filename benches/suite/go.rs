//! The Go peer: builds `benches/go/*.go` once with the `go` on PATH (Debian's `golang-go`) and
//! runs them as children; each prints the same `RESULT` line as the Rust children, from
//! `runtime.MemStats` and `getrusage`. Without a Go toolchain the Go column is left out.

use crate::Case;
use std::path::{Path, PathBuf};
use std::process::Command;

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
        for prog in ["binary_trees", "gcbench"] {
            let ok = Command::new("go")
                .args(["build", "-o"])
                .arg(dir.join(prog))
                .arg(root.join(format!("benches/go/{prog}.go")))
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "go build benches/go/{prog}.go failed");
        }
        Go {
            dir: Some(dir),
            version,
        }
    }

    /// The command that runs `case` in Go, if Go is here and has the workload.
    pub fn command(&self, case: &Case) -> Option<Command> {
        let dir = self.dir.as_ref()?;
        let prog = match case.workload {
            "binary-trees" => "binary_trees",
            "gcbench" => "gcbench",
            _ => return None,
        };
        let mut c = Command::new(dir.join(prog));
        c.arg(case.size.to_string());
        Some(c)
    }
}
