//! Failing loudly (Go's `throw`) and warning once.
//!
//! The collector aborts rather than unwinds when its own invariants break or when a user `trace`
//! panics on one of its threads: continuing could free live memory, and a collector thread that
//! died would leave the phase where it was for good.

/// Aborts the process with a message: collector bugs, failed verifications, broken `Trace`
/// contracts.
#[cold]
pub(crate) fn throw(msg: &str) -> ! {
    stderr_line(&format!("tricolor: fatal: {msg}"));
    std::process::abort()
}

/// Writes a line on stderr, ignoring failure: `eprintln!` panics when stderr is closed (a
/// pipe whose reader left), and a panic on a collector thread while reporting would end the
/// thread without its abort, leaving the program waiting for a cycle forever.
pub(crate) fn stderr_line(msg: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Prints a message on stderr the first time it is seen.
#[cold]
pub(crate) fn report_once(msg: &str) {
    /// Lock order: a leaf (nothing is locked while it is held).
    static SEEN: crate::locks::Mutex<Option<std::collections::HashSet<String>>> =
        crate::locks::Mutex::new(None);
    let mut s = SEEN.lock();
    if s.get_or_insert_with(Default::default)
        .insert(msg.to_string())
    {
        stderr_line(msg);
    }
}

/// Leaks the payload of a panic that the collector caught from user code (a finalizer, a drop
/// during sweep, the cycle hook) instead of dropping it: a payload whose own `Drop` panics would
/// unwind out of the collector's loop and end its thread. The payload is small and rare.
pub(crate) fn forget_payload<T>(r: std::thread::Result<T>) {
    if let Err(e) = r {
        std::mem::forget(e);
    }
}

/// The message of a caught panic, for reports.
pub(crate) fn panic_message(e: &(dyn std::any::Any + Send)) -> &str {
    e.downcast_ref::<String>()
        .map(String::as_str)
        .or(e.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}
