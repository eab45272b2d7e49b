//! Per-cycle observability without parsing stderr: the bounded history, the hook on its own
//! thread, the trace writer and level, and a trace whose stderr reader went away.

mod support;

use std::sync::mpsc;
use std::sync::Mutex;
use tricolor_gc::{self as gc, CycleTrigger};

#[test]
fn child() {
    support::child(&[
        ("slow_hook", slow_hook),
        ("panicking_hook", panicking_hook),
        ("history_is_bounded", history_is_bounded),
        ("writer_and_level", writer_and_level),
        ("closed_stderr", closed_stderr),
    ]);
}

/// A hook that blocks does not hold up cycles: `collect()` returns five times while the hook is
/// stuck on its first record, and then it receives all five in order.
fn slow_hook() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (seen_tx, seen_rx) = mpsc::channel::<(u64, CycleTrigger)>();
    let (release_rx, seen_tx) = (Mutex::new(release_rx), Mutex::new(seen_tx));
    gc::set_cycle_hook(Some(Box::new(move |c| {
        release_rx.lock().unwrap().recv().unwrap();
        seen_tx.lock().unwrap().send((c.number, c.trigger)).unwrap();
    })));
    let first = gc::stats().num_gc + 1;
    for _ in 0..5 {
        gc::collect();
    }
    // All five cycles ended with the hook blocked on the first.
    assert!(seen_rx.try_recv().is_err());
    for _ in 0..5 {
        release_tx.send(()).unwrap();
    }
    let seen: Vec<(u64, CycleTrigger)> = (0..5).map(|_| seen_rx.recv().unwrap()).collect();
    let want: Vec<(u64, CycleTrigger)> = (first..first + 5)
        .map(|n| (n, CycleTrigger::Forced))
        .collect();
    assert_eq!(seen, want);
    gc::set_cycle_hook(None);
}

/// A hook that panics is reported and keeps receiving records.
fn panicking_hook() {
    let (tx, rx) = mpsc::channel::<u64>();
    let tx = Mutex::new(tx);
    gc::set_cycle_hook(Some(Box::new(move |c| {
        tx.lock().unwrap().send(c.number).unwrap();
        panic!("hook failure {}", c.number);
    })));
    gc::collect();
    gc::collect();
    let a = rx.recv().unwrap();
    let b = rx.recv().unwrap();
    assert_eq!(b, a + 1);
    let _ = gc::Gc::new(1u32); // the heap still works
}

/// The history keeps the last 256 records, numbered in order, with the stop, the heap figures
/// and the goal that `GCTRACE` prints.
fn history_is_bounded() {
    let keep: Vec<gc::Gc<[u64; 8]>> = (0..10_000).map(|i| gc::Gc::new([i; 8])).collect();
    for _ in 0..300 {
        gc::collect();
    }
    let h = gc::cycle_history();
    assert_eq!(h.len(), 256);
    assert_eq!(h.last().unwrap().number, gc::stats().num_gc);
    assert!(h.windows(2).all(|w| w[0].number + 1 == w[1].number));
    assert!(h.windows(2).all(|w| w[0].started_at <= w[1].started_at));
    for c in &h {
        assert_eq!(c.trigger, CycleTrigger::Forced);
        assert!(c.heap_marked >= keep.len() * 64, "{c:?}");
        assert!(
            c.goal > 0 && c.next_goal > 0 && c.mark_workers >= 1,
            "{c:?}"
        );
        assert!(
            c.roots >= keep.len(),
            "every handle of `keep` is a root: {c:?}"
        );
    }
    let s = gc::stats();
    let last = h.last().unwrap();
    assert_eq!(
        s.pause_ns[((s.num_gc + 255) % 256) as usize],
        last.pause.as_nanos() as u64
    );
    drop(keep);
}

#[derive(Clone, Default)]
struct Lines(std::sync::Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The writer receives the lines the level asks for, and nothing at level 0.
fn writer_and_level() {
    let lines = Lines::default();
    gc::set_gctrace_writer(Some(Box::new(lines.clone())));
    assert_eq!(gc::set_gctrace(0), 0, "GCTRACE is unset in the child");
    gc::collect();
    assert!(lines.0.lock().unwrap().is_empty());
    gc::set_gctrace(2);
    gc::collect();
    gc::set_gctrace(1);
    gc::collect();
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let all: Vec<&str> = text.lines().collect();
    assert_eq!(all.len(), 3, "{text}");
    let n = gc::stats().num_gc;
    assert!(all[0].starts_with(&format!("gc {} @", n - 1)), "{text}");
    assert!(
        all[1].starts_with(&format!("gc {} detail: ", n - 1)),
        "{text}"
    );
    assert!(all[2].starts_with(&format!("gc {n} @")) && all[2].ends_with("(forced)"));
    assert!(std::panic::catch_unwind(|| gc::set_gctrace(3)).is_err());
    gc::set_gctrace_writer(None);
}

/// With `GCTRACE=1` and stderr a pipe nobody reads, the program still finishes (writing the
/// trace used to panic the collector thread, which then died without its abort and left
/// `collect()` waiting).
fn closed_stderr() {
    for i in 0..20 {
        let _ = gc::Gc::new([i as u8; 100]);
        gc::collect();
    }
}

#[test]
fn a_blocked_hook_does_not_hold_up_cycles() {
    support::passes("slow_hook");
}

#[test]
fn a_panicking_hook_is_reported_and_stays() {
    let out = support::passes_with("panicking_hook", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    let reports = err
        .lines()
        .filter(|l| l.starts_with("tricolor: the cycle hook panicked"))
        .count();
    assert_eq!(reports, 1, "{err}");
}

#[test]
fn the_history_keeps_the_last_256_cycles() {
    support::passes("history_is_bounded");
}

#[test]
fn gctrace_goes_to_the_writer_at_the_level_set() {
    support::passes("writer_and_level");
}

#[test]
fn a_closed_stderr_does_not_hang_the_collector() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("TRICOLOR_SCENARIO", "closed_stderr")
        .env("GCTRACE", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take()); // the reader goes away before the first line
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", out.status);
    assert!(String::from_utf8_lossy(&out.stdout).contains("scenario ok"));
}
