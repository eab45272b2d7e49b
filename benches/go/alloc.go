// The allocation fast path, the Go side of benches/suite/alloc.rs: the same object sizes,
// counts, live sets and checksum. A package-level sink keeps every object on the heap.
//
//	go run alloc.go report.go 16 none 10000000
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

const bigLen = 1008

type small struct{ v [2]uint64 }
type big struct{ v [bigLen]byte }

var sinkSmall *small
var sinkBig *big

func main() {
	size, _ := strconv.Atoi(os.Args[1])
	live, _ := strconv.Atoi(os.Args[2])
	count, _ := strconv.Atoi(os.Args[3])
	start := time.Now()
	var check uint64
	var loop time.Duration
	if size > 16 {
		keep := make([]*big, live)
		for i := range keep {
			o := &big{}
			o.v[0], o.v[bigLen-1] = byte(i), byte(i)
			keep[i] = o
		}
		t := time.Now()
		for i := 0; i < count; i++ {
			o := &big{}
			o.v[0], o.v[bigLen-1] = byte(i), byte(i)
			sinkBig = o
			check += uint64(o.v[bigLen-1])
		}
		loop = time.Since(t)
		for _, o := range keep {
			check += uint64(o.v[0])
		}
	} else {
		keep := make([]*small, live)
		for i := range keep {
			keep[i] = &small{[2]uint64{uint64(i), uint64(i)}}
		}
		t := time.Now()
		for i := 0; i < count; i++ {
			o := &small{[2]uint64{uint64(i), 1}}
			sinkSmall = o
			check += o.v[1]
		}
		loop = time.Since(t)
		for _, o := range keep {
			check += o.v[0] & 1
		}
	}
	report(check, start, fmt.Sprintf(" x.ns_per_alloc_x100=%d", loop.Nanoseconds()*100/int64(count)))
}
