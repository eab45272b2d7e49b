//! A small program for tests/gctrace.rs: runs a workload chosen by its argument under whatever
//! GC* environment the test sets, so that the test can read the real stderr of a real process.
//! Not part of the public API.

use tricolor::{collect, set_gc_percent, set_memory_limit, Gc, GcCell};

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("churn") => {
            let keep = Gc::new(GcCell::new(Vec::new()));
            for i in 0..400_000u64 {
                let g = Gc::new([i; 4]);
                if i % 64 == 0 {
                    keep.borrow_mut().push(g);
                }
                if i % 100_000 == 99_999 {
                    collect(); // forced cycles: the test knows at least these ran
                }
            }
            collect();
            println!("done {}", keep.borrow().len());
        }
        Some("collect") => {
            let _g = Gc::new(vec![1u8; 10]);
            collect();
            collect();
            println!("done");
        }
        Some("idle") => {
            // Wait for the collector's timer (shortened by the test with GCFORCEPERIOD_MS) to
            // start a cycle on its own: nothing here allocates or collects.
            let _g = Gc::new(1u8);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while tricolor::stats().num_gc == 0 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            println!("num_gc={}", tricolor::stats().num_gc);
        }
        Some("settings") => {
            let _ = Gc::new(1u8); // reads the environment
            let p = set_gc_percent(100);
            set_gc_percent(p);
            let l = set_memory_limit(u64::MAX);
            println!("gc_percent={p} mem_limit={l}");
        }
        _ => eprintln!("usage: tricolor_trace_probe churn|collect|settings"),
    }
}
