//! Where the VM's objects live. By default: the tricolor heap (`Gc`, `GcCell`, `Weak`), under
//! their own names. With the `rc` feature: `Rc`, `RefCell` and `rc::Weak` under tricolor's names,
//! the baseline that measures what tracing costs (that build leaks every cycle). The two APIs
//! line up name for name, so the VM is written once, in tricolor's vocabulary.

#[cfg(not(feature = "rc"))]
pub use tricolor_gc::{Gc, GcCell, Weak};

#[cfg(feature = "rc")]
pub use std::{cell::RefCell as GcCell, rc::Rc as Gc, rc::Weak};

/// A line for `--stats`: what the collector did during the run.
#[cfg(not(feature = "rc"))]
pub fn summary() -> String {
    let s = tricolor_gc::stats();
    // Unused ring entries are zero, so the maximum over the whole ring is the worst kept stop.
    let worst = s.pause_ns.iter().max().copied().unwrap_or(0);
    format!(
        "tricolor: {} cycles, heap {} KiB, total allocated {} MiB, worst stop {:.1} us, total stop {:.1} us",
        s.num_gc,
        s.heap_alloc / 1024,
        s.total_alloc >> 20,
        worst as f64 / 1e3,
        s.pause_total.as_secs_f64() * 1e6
    )
}

#[cfg(feature = "rc")]
pub fn summary() -> String {
    "rc: no collector (cycles leak)".to_string()
}
