// The latency ring, the Go side of benches/suite/ring.rs: the same window, pushes, message
// layouts (1,008 bytes, or 8 pointers to 112-byte parts) and checksum; every push is timed.
//
//	go run ring.go report.go bytes 200000 1000000
package main

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"time"
)

const bytesLen = 1008
const parts = 8
const partLen = 112

type msg struct{ bytes [bytesLen]byte }
type part struct{ bytes [partLen]byte }
type msgParts struct{ parts [parts]*part }

func fill(i, k int) byte { return byte((i + k) % 251) }

func main() {
	variant := os.Args[1]
	window, _ := strconv.Atoi(os.Args[2])
	pushes, _ := strconv.Atoi(os.Args[3])
	ns := make([]uint32, 0, pushes)
	start := time.Now()
	var check uint64
	if variant == "pointers" {
		ring := make([]*msgParts, window)
		for i := 0; i < pushes; i++ {
			t := time.Now()
			m := &msgParts{}
			for k := 0; k < parts; k++ {
				q := &part{}
				q.bytes[0], q.bytes[partLen-1] = fill(i, k), fill(i, k)
				m.parts[k] = q
			}
			ring[i%window] = m
			ns = append(ns, uint32(time.Since(t).Nanoseconds()))
		}
		for _, m := range ring {
			if m != nil {
				for _, q := range m.parts {
					check += uint64(q.bytes[0]) + uint64(q.bytes[partLen-1])
				}
			}
		}
	} else {
		ring := make([]*msg, window)
		for i := 0; i < pushes; i++ {
			t := time.Now()
			m := &msg{}
			m.bytes[0], m.bytes[bytesLen-1] = fill(i, 0), fill(i, 0)
			ring[i%window] = m
			ns = append(ns, uint32(time.Since(t).Nanoseconds()))
		}
		for _, m := range ring {
			if m != nil {
				check += uint64(m.bytes[0]) + uint64(m.bytes[bytesLen-1])
			}
		}
	}
	sort.Slice(ns, func(a, b int) bool { return ns[a] < ns[b] })
	n := len(ns)
	at := func(q float64) uint32 { return ns[int(math.Round(float64(n-1)*q))] }
	series := "SERIES push_us_ccdf"
	for j := 0; j <= 64; j++ {
		f := math.Pow(10, -float64(j)/8)
		if f*float64(n) < 1 {
			break
		}
		i := int(math.Floor((1 - f) * float64(n)))
		if i > n-1 {
			i = n - 1
		}
		series += fmt.Sprintf(" %g,%g", float64(ns[i])/1e3, f)
	}
	series += fmt.Sprintf(" %g,%g", float64(ns[n-1])/1e3, 1/float64(n))
	fmt.Println(series)
	report(check, start, fmt.Sprintf(" x.p50_ns=%d x.p99_ns=%d x.p999_ns=%d x.p9999_ns=%d x.worst_push_ns=%d",
		at(0.5), at(0.99), at(0.999), at(0.9999), ns[n-1]))
}
