#!/usr/bin/env python3
"""binary-trees side by side: Box, Go and tricolor, alternating, medians.

usage: benches/compare_binary_trees.py [RUNS] [DEPTH]   (from the repository root)
Builds the Rust example and the Go program (needs `go`, e.g. Debian's golang-go), then prints
the Markdown table used in BENCHMARKS.md.
"""
import re
import statistics
import subprocess
import sys
import tempfile

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
depth = sys.argv[2] if len(sys.argv) > 2 else "18"
subprocess.run(["cargo", "build", "--release", "--example", "binary_trees"], check=True)
go_bin = tempfile.mktemp(prefix="bt_go")
subprocess.run(["go", "build", "-o", go_bin, "binary_trees.go", "report.go"], cwd="benches/go", check=True)
cmds = {
    "Box": ["target/release/examples/binary_trees", depth, "--box"],
    "Go": [go_bin, depth],
    "tricolor": ["target/release/examples/binary_trees", depth],
}
res = {k: [] for k in cmds}
stops = {k: [] for k in cmds}
for _ in range(runs):
    for k, c in cmds.items():
        r = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S %M"] + c, capture_output=True, text=True)
        m = re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", r.stderr)
        res[k].append((float(m[1]), float(m[2]) + float(m[3]), int(m[4]) // 1024))
        s = re.search(r"longest stop ([\d.]+) us", r.stderr)
        if s:
            stops[k].append(float(s[1]))
med = lambda k, i: statistics.median(x[i] for x in res[k])
box, go = med("Box", 0), med("Go", 0)
print(f"depth {depth}, {runs} alternating runs, medians\n")
print("| | wall | CPU | peak RSS | longest stop | wall / Box | wall / Go |")
print("|---|---|---|---|---|---|---|")
for k in cmds:
    st = f"{max(stops[k]):.1f} µs" if stops[k] else "–"
    print(f"| {k} | {med(k, 0):.2f} s | {med(k, 1):.2f} s | {med(k, 2):.0f} MiB | {st} | "
          f"{med(k, 0) / box:.2f} | {med(k, 0) / go:.2f} |")
