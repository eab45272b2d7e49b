// binary-trees (Benchmarks Game rules, single goroutine), the Go side of tricolor's
// comparison: same depths and output as examples/binary_trees.rs.
//
//	go run binary_trees.go 18
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

type node struct{ left, right *node }

func make_(d int) *node {
	if d == 0 {
		return &node{}
	}
	return &node{make_(d - 1), make_(d - 1)}
}

func (n *node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func main() {
	n := 16
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	start := time.Now()
	min := 4
	max := n
	if max < min+2 {
		max = min + 2
	}
	stretch := make_(max + 1).check()
	total := stretch
	fmt.Printf("stretch tree of depth %d\t check: %d\n", max+1, stretch)
	long := make_(max)
	for d := min; d <= max; d += 2 {
		iters := 1 << uint(max-d+min)
		sum := 0
		for i := 0; i < iters; i++ {
			sum += make_(d).check()
		}
		total += sum
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iters, d, sum)
	}
	longCheck := long.check()
	total += longCheck
	fmt.Printf("long lived tree of depth %d\t check: %d\n", max, longCheck)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var worst uint64
	for _, p := range ms.PauseNs {
		if p > worst {
			worst = p
		}
	}
	fmt.Fprintf(os.Stderr, "go: %.3f s, %d cycles, longest stop %.1f us\n", time.Since(start).Seconds(), ms.NumGC, float64(worst)/1e3)
	report(total, start, worst, ms.NumGC)
}

// report prints the line benches/suite reads: checksum, wall and CPU time, peak RSS, the
// longest stop and the number of cycles.
func report(check int, start time.Time, worstStop uint64, cycles uint32) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("RESULT check=%d wall_ns=%d cpu_ns=%d rss_kib=%d worst_ns=-1 stop_ns=%d cycles=%d\n",
		check, time.Since(start).Nanoseconds(), cpu.Nanoseconds(), ru.Maxrss, worstStop, cycles)
}
