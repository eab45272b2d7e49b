// Containers, the Go side of benches/suite/containers.rs: a slice of pointers and a map of
// pointers, with a fresh heap object in every element; the same operations, random choices
// (splitmix64, seeded alike) and checksum.
//
//	go run containers.go report.go push 1000000
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

const seed = 0xC0FFEE00D15EA5E5

func main() {
	variant := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	start := time.Now()
	r := rng{seed}
	var check uint64
	var ops int
	var took time.Duration
	switch variant {
	case "push", "set":
		var l []*uint64
		if variant == "set" {
			for i := 0; i < n; i++ {
				v := uint64(i)
				l = append(l, &v)
			}
		}
		t := time.Now()
		for k := 0; k < n; k++ {
			if variant == "push" {
				v := uint64(k)
				l = append(l, &v)
			} else {
				v := uint64(n + k)
				l[r.below(n)] = &v
			}
		}
		took = time.Since(t)
		ops = n
		for _, p := range l {
			check += *p
		}
	default:
		m := make(map[uint64]*uint64)
		t := time.Now()
		for i := 0; i < n; i++ {
			v := uint64(i)
			m[uint64(i)] = &v
		}
		for k := 0; k < n; k++ {
			v := uint64(n + k)
			m[uint64(r.below(n))] = &v
		}
		took = time.Since(t)
		ops = 2 * n
		for _, p := range m {
			check += *p
		}
	}
	report(check, start, fmt.Sprintf(" x.ns_per_op_x100=%d", took.Nanoseconds()*100/int64(ops)))
}
