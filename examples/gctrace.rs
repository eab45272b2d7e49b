//! A workload that changes shape, to watch the collector with `GCTRACE=1` (or `2` for detail):
//! a live set that grows, a phase of pure churn, a phase where most of the live set dies, and a
//! forced cycle at the end. Each cycle prints one line in the format of Go's `gctrace`; the
//! README explains every field.
//!
//! `GCTRACE=1 cargo run --release --example gctrace`

use tricolor_gc::{collect, stats, Finalize, Gc, GcCell, Trace};

/// Buffers owned by `Gc` values count as heap growth (README: "Memory outside the heap").
#[global_allocator]
static ALLOC: tricolor_gc::GcAllocator = tricolor_gc::GcAllocator::new();

#[derive(Trace, Finalize)]
struct Record {
    id: u64,
    payload: Vec<u8>,
    links: GcCell<Vec<Gc<Record>>>,
}

fn record(id: u64, size: usize) -> Gc<Record> {
    Gc::new(Record {
        id,
        payload: vec![id as u8; size],
        links: GcCell::new(Vec::new()),
    })
}

fn main() {
    let scale: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let mut live: Vec<Gc<Record>> = Vec::new();
    eprintln!("phase 1: the live set grows");
    for i in 0..200_000 * scale {
        let r = record(i, 64);
        // Records link to the previous one within groups of 100, so a group dies as a whole.
        if i % 100 != 0 {
            if let Some(prev) = live.last() {
                prev.links.borrow_mut().push(r.clone());
            }
        }
        if i % 2 == 0 {
            live.push(r);
        }
    }
    eprintln!("phase 2: churn, the live set stays");
    for i in 0..2_000_000 * scale {
        let _ = record(i, 32);
    }
    eprintln!("phase 3: most of the live set dies");
    live.truncate(live.len() / 10);
    for i in 0..500_000 * scale {
        let _ = record(i, 16);
    }
    eprintln!("phase 4: a forced cycle");
    collect();
    let s = stats();
    let stops: Vec<u64> = s.pause_ns.iter().copied().filter(|&p| p > 0).collect();
    println!(
        "{} cycles ({} forced), stops: total {:?}, longest {:.1} us; heap {} MiB live of {} MiB; {} objects allocated, {} freed; GC CPU {:.1}%",
        s.num_gc,
        s.num_forced_gc,
        s.pause_total,
        stops.iter().max().copied().unwrap_or(0) as f64 / 1e3,
        s.heap_live >> 20,
        s.heap_alloc >> 20,
        s.mallocs,
        s.frees,
        s.gc_cpu_fraction * 100.0
    );
    let checksum: u64 = live.iter().map(|r| r.id + r.payload.len() as u64).sum();
    println!("checksum {checksum}");
}
