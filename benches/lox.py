#!/usr/bin/env python3
"""Workload 7: the Lox benchmark programs (../shared/lox/benchmark) on the tricolor VM and on the
same VM with its objects behind Rc/RefCell (the `rc` feature, which leaks cycles), alternating,
medians; ratios to each other and to the clox figures of ../shared/lox/README.md.

usage: benches/lox.py [--runs N] [--smoke] [--clox PATH]       (from the repository root)
--smoke runs each program once and only checks that both builds finish it (used by .ci/run).
--clox runs a clox binary too (built from the book's repository: `gcc -O3 -o clox c/*.c`), in
the same alternation, for ratios measured on this machine beside those to the README's figures.
Prints the Markdown table kept in BENCHMARKS.md.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--smoke", action="store_true")
ap.add_argument("--clox", help="a clox binary to measure beside the two builds")
args = ap.parse_args()

SHARED = os.path.join("..", "shared", "lox")
BENCH = os.path.join(SHARED, "benchmark")
# The `lox` profile: release with fat LTO and one codegen unit, as clox is built with gcc -O3.
subprocess.run(["cargo", "build", "--profile", "lox", "-p", "lox"], check=True)
subprocess.run(["cargo", "build", "--profile", "lox", "-p", "lox", "--features", "rc",
                "--target-dir", "target/lox-rc"], check=True)
vms = {"tricolor": "target/lox/lox", "rc": "target/lox-rc/lox/lox"}
if args.clox:
    vms["clox"] = args.clox

# clox's figures, read from the shared README's table rather than copied here.
clox = {}
with open(os.path.join(SHARED, "README.md"), encoding="utf-8") as f:
    readme = f.read()
for m in re.finditer(r"^\| (\w+)\.lox \| ([\d.]+) \|", readme, re.M):
    clox[m[1]] = float(m[2])
m = re.search(r"^\| zoo_batch\.lox \| (\d+) batches", readme, re.M)
clox_batches = int(m[1]) if m else None

programs = sorted(p[:-4] for p in os.listdir(BENCH) if p.endswith(".lox"))
if args.smoke:
    # zoo_batch runs for ten seconds by design; the rest are checked for a clean exit only.
    programs = [p for p in programs if p != "zoo_batch"]
runs = 1 if args.smoke else args.runs


def run(vm, prog):
    stats = [] if vm == "clox" else ["--stats"]
    cmd = ["/usr/bin/time", "-f", "TIME %e %M", vms[vm], *stats, os.path.join(BENCH, prog + ".lox")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{vm} failed on {prog}: {r.stderr}")
    t = re.search(r"TIME ([\d.]+) (\d+)", r.stderr)
    stop = re.search(r"(\d+) cycles, .* worst stop ([\d.]+) us", r.stderr)
    batches = r.stdout.split()[-2] if prog == "zoo_batch" else None
    return float(t[1]), int(t[2]) // 1024, (float(stop[2]) if int(stop[1]) else None) if stop else None, batches


rows = []
for prog in programs:
    res = {vm: [] for vm in vms}
    for _ in range(runs):
        for vm in vms:
            res[vm].append(run(vm, prog))
    rows.append((prog, res))
    print(f"{prog}: done", file=sys.stderr)

if args.smoke:
    print(f"lox smoke: {len(rows)} programs ran on both VMs")
    sys.exit(0)

here = "clox" in vms
print(f"median of {runs} runs, wall seconds (zoo_batch: batches in 10 s, higher is better)\n")
print("| program | tricolor (s) | rc (s) | clox, README (s) |" + (" clox, here (s) |" if here else "")
      + " tricolor/rc | tricolor/clox README |" + (" tricolor/clox here |" if here else "")
      + " worst stop (µs) | peak RSS tricolor/rc (MiB) |")
print("|---" * (8 + 2 * here) + "|")
for prog, res in rows:
    med = {vm: statistics.median(x[0] for x in res[vm]) for vm in vms}
    rss = {vm: max(x[1] for x in res[vm]) for vm in vms}
    stops = [x[2] for x in res["tricolor"] if x[2] is not None]
    stop = f"{max(stops):.1f}" if stops else "– (no cycle)"
    if prog == "zoo_batch":
        b = {vm: statistics.median(int(x[3]) for x in res[vm]) for vm in vms}
        cb = clox_batches
        cr = f"{cb / b['tricolor']:.2f}" if cb else "–"
        print(f"| {prog} | {b['tricolor']} | {b['rc']} | {cb or '–'} |"
              + (f" {b['clox']} |" if here else "")
              + f" {b['rc'] / b['tricolor']:.2f} | {cr} |"
              + (f" {b['clox'] / b['tricolor']:.2f} |" if here else "")
              + f" {stop} | {rss['tricolor']}/{rss['rc']} |")
        continue
    c = clox.get(prog)
    cr = f"{med['tricolor'] / c:.2f}" if c else "–"
    print(f"| {prog} | {med['tricolor']:.2f} | {med['rc']:.2f} | {c if c else '–'} |"
          + (f" {med['clox']:.2f} |" if here else "")
          + f" {med['tricolor'] / med['rc']:.2f} | {cr} |"
          + (f" {med['tricolor'] / med['clox']:.2f} |" if here else "")
          + f" {stop} | {rss['tricolor']}/{rss['rc']} |")
