// The line every program in this directory ends with, the one benches/suite reads (see
// benches/suite/probe.rs): checksum, wall and CPU time, peak RSS, the longest stop and the
// number of cycles from runtime.MemStats, then any workload-specific figures (" x.key=value").
package main

import (
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"syscall"
	"time"
)

func report(check uint64, start time.Time, extra string) {
	wall := time.Since(start)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var worst uint64
	for _, p := range ms.PauseNs {
		if p > worst {
			worst = p
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Fprintf(os.Stderr, "go: %.3f s, %d cycles, longest stop %.1f us\n", wall.Seconds(), ms.NumGC, float64(worst)/1e3)
	fmt.Printf("RESULT check=%d wall_ns=%d cpu_ns=%d rss_kib=%d worst_ns=-1 stop_ns=%d cycles=%d%s\n",
		check, wall.Nanoseconds(), cpu.Nanoseconds(), ru.Maxrss, worst, ms.NumGC, extra)
}

// splitmix64: the seeded generator the Rust side uses too (benches/suite/rng.rs), so that both
// make the same random choices.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// below returns a number in [0, n) (n > 0), by multiply-shift as the Rust side does.
func (r *rng) below(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}
