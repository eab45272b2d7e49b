//! Allocation fast path: `Gc::new` + drop of the handle per object, against `Box::new` + drop,
//! `Arc::new` + drop and a `bumpalo` arena, for 16-byte and 1 KiB objects, with no live heap and
//! with 1,000,000 live objects. tricolor's figure includes everything the collector does for
//! those objects (its cycles and sweeping run during the measurement; the process CPU time is
//! reported too, because the collector thread's work is not in the mutator's wall time).
//!
//! The operation protocol's own cost is measured too: entering and leaving an operation with
//! the asymmetric fence the runtime uses, with the `SeqCst` fence it used before, and with no
//! fence at all (unsound: the upper bound of what removing the fence can save); and the whole
//! allocation path again in a child process under `GCFENCE=symmetric`.
//!
//! `cargo bench --bench alloc` (add `-- --quick` for a smoke run).

mod common;
use common::*;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use tricolor_gc::Gc;

fn run<T: tricolor_gc::Trace + Send + Sync + Clone + 'static>(
    label: &str,
    v: T,
    n: usize,
    reps: usize,
) {
    let mut bump = bumpalo::Bump::new();
    let vb = v.clone();
    let va = v.clone();
    let vg = v.clone();
    let vbump = v;
    let mut cands: Vec<(&str, &mut dyn FnMut())> = Vec::new();
    let mut fb = || {
        for _ in 0..n {
            black_box(Box::new(black_box(vb.clone())));
        }
    };
    let mut fa = || {
        for _ in 0..n {
            black_box(Arc::new(black_box(va.clone())));
        }
    };
    let mut fbump = || {
        for _ in 0..n {
            black_box(bump.alloc(black_box(vbump.clone())));
        }
        bump.reset();
    };
    let mut fg = || {
        for _ in 0..n {
            black_box(Gc::new(black_box(vg.clone())));
        }
    };
    cands.push(("Box", &mut fb));
    cands.push(("Arc", &mut fa));
    cands.push(("bumpalo", &mut fbump));
    cands.push(("tricolor", &mut fg));
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let res = alternate(reps, &mut cands);
    let _ = (cpu0, t0);
    let boxt = res[0].1.as_nanos() as f64 / n as f64;
    print!("| {label} |");
    for (_, d) in &res {
        print!(" {:.1} |", d.as_nanos() as f64 / n as f64);
    }
    let g = res[3].1.as_nanos() as f64 / n as f64;
    println!(" {:.2} |", g / boxt);
}

/// Strings, as interpreters keep them: an unsized `Gc<str>` (one allocation: header and bytes in
/// one slot) against `Gc<String>` (the object plus the `String`'s buffer) and std's one-allocation
/// `Box<str>` and `Arc<str>`.
fn strings(n: usize, reps: usize) {
    let text = "twenty-four bytes of txt";
    let mut fbox = || {
        for _ in 0..n {
            black_box(Box::<str>::from(black_box(text)));
        }
    };
    let mut farc = || {
        for _ in 0..n {
            black_box(Arc::<str>::from(black_box(text)));
        }
    };
    let mut fstring = || {
        for _ in 0..n {
            black_box(Gc::new(black_box(text).to_string()));
        }
    };
    let mut fstr = || {
        for _ in 0..n {
            black_box(Gc::<str>::from(black_box(text)));
        }
    };
    let mut cands: Vec<(&str, &mut dyn FnMut())> = vec![
        ("Box<str>", &mut fbox),
        ("Arc<str>", &mut farc),
        ("Gc<String>", &mut fstring),
        ("Gc<str>", &mut fstr),
    ];
    let res = alternate(reps, &mut cands);
    let per = |i: usize| res[i].1.as_nanos() as f64 / n as f64;
    println!("\n24-byte strings, ns per object (median of {reps} alternating runs of {n})\n");
    println!("| Box<str> | Arc<str> | Gc<String> | Gc<str> | Gc<str> / Arc<str> | Gc<str> / Gc<String> |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
        per(0),
        per(1),
        per(2),
        per(3),
        per(3) / per(1),
        per(3) / per(2)
    );
}

/// Entering and leaving an operation, on a flag and a phase of the benchmark's own (the runtime's
/// code, `protocol::enter_fenced`, with each fence in turn).
fn protocol(n: usize, reps: usize) {
    use std::sync::atomic::{compiler_fence, fence, AtomicBool, AtomicU32, Ordering};
    use tricolor_gc::protocol::{enter, enter_fenced, exit};
    let flag = AtomicBool::new(false);
    let phase = AtomicU32::new(tricolor_gc::protocol::OFF);
    let mut seqcst = || {
        for _ in 0..n {
            black_box(enter_fenced(&flag, &phase, || fence(Ordering::SeqCst)));
            exit(&flag);
        }
    };
    let mut runtime = || {
        for _ in 0..n {
            black_box(enter(&flag, &phase));
            exit(&flag);
        }
    };
    let mut none = || {
        for _ in 0..n {
            black_box(enter_fenced(&flag, &phase, || {
                compiler_fence(Ordering::SeqCst)
            }));
            exit(&flag);
        }
    };
    let mut cands: Vec<(&str, &mut dyn FnMut())> = vec![
        ("SeqCst fence (before)", &mut seqcst),
        ("the runtime's", &mut runtime),
        ("no fence (unsound bound)", &mut none),
    ];
    let res = alternate(reps, &mut cands);
    let per = |i: usize| res[i].1.as_nanos() as f64 / n as f64;
    println!(
        "\nEntering and leaving an operation, ns (median of {reps} alternating runs of {n}; the \
         runtime's fence is {})\n",
        if tricolor_gc::asymmetric_fences() {
            "asymmetric"
        } else {
            "symmetric"
        }
    );
    println!("| SeqCst fence (before) | the runtime's | no fence (unsound bound) |");
    println!("|---|---|---|");
    println!("| {:.2} | {:.2} | {:.2} |", per(0), per(1), per(2));
}

/// The rows above again in a child process whose mutators fence for real (`GCFENCE=symmetric`).
fn fence_child(quick: bool) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.arg("--fence-child").env("GCFENCE", "symmetric");
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd.output().expect("the GCFENCE=symmetric child runs");
    assert!(out.status.success(), "the GCFENCE=symmetric child failed");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("{}", line.replacen("| ", "| GCFENCE=symmetric: ", 1));
    }
}

fn main() {
    let quick = quick();
    let n = if quick { 20_000 } else { 2_000_000 };
    let reps = if quick { 3 } else { 11 };
    if std::env::args().any(|a| a == "--fence-child") {
        // The allocation rows only, under the environment the parent set.
        run("16 B, no live heap", [1u64, 2u64], n, reps);
        run("1 KiB, no live heap", [7u8; 1024], n / 8, reps);
        return;
    }
    println!("ns per object (median of {reps} alternating runs of {n} objects)\n");
    println!("| workload | Box | Arc | bumpalo | tricolor | tricolor / Box |");
    println!("|---|---|---|---|---|---|");
    run("16 B, no live heap", [1u64, 2u64], n, reps);
    run("1 KiB, no live heap", [7u8; 1024], n / 8, reps);
    fence_child(quick);
    // A live heap of 1,000,000 objects that every cycle must mark.
    let live: Vec<Gc<[u64; 2]>> = (0..1_000_000u64).map(|i| Gc::new([i, i])).collect();
    let live_box: Vec<Box<[u64; 2]>> = (0..1_000_000u64).map(|i| Box::new([i, i])).collect();
    run("16 B, 1M live", [1u64, 2u64], n, reps);
    run("1 KiB, 1M live", [7u8; 1024], n / 8, reps);
    black_box((&live, &live_box));
    drop((live, live_box));
    strings(n, reps);
    protocol(if quick { 100_000 } else { 50_000_000 }, reps);
    let s = tricolor_gc::stats();
    println!(
        "\ntricolor: {} cycles, max stop {:.1} us, GC CPU fraction {:.3}, process CPU {:?}",
        s.num_gc,
        *s.pause_ns.iter().max().unwrap() as f64 / 1000.0,
        s.gc_cpu_fraction,
        cpu_time()
    );
}
