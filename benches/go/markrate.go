// The mark rate, the Go side of benches/suite/markrate.rs: the same tree of 2^(d+1)-1
// nodes, built depth-first or level by level in the same random order (splitmix64, same seed),
// then five runtime.GC() calls with the tree live; GOMAXPROCS sets how many Ps mark.
//
//	GOMAXPROCS=1 go run markrate.go report.go shuffled 21
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
)

type node struct{ left, right *node }

func ordered(d int) *node {
	if d == 0 {
		return &node{}
	}
	l := ordered(d - 1)
	r := ordered(d - 1)
	return &node{l, r}
}

func permutation(r *rng, n int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = i
	}
	for i := n - 1; i >= 1; i-- {
		j := r.below(i + 1)
		v[i], v[j] = v[j], v[i]
	}
	return v
}

func shuffled(depth int) *node {
	r := &rng{0x72696e67}
	var below []*node
	for level := depth; level >= 0; level-- {
		n := 1 << level
		cur := make([]*node, n)
		for _, j := range permutation(r, n) {
			if below == nil {
				cur[j] = &node{}
			} else {
				cur[j] = &node{below[2*j], below[2*j+1]}
			}
		}
		below = cur
	}
	return below[0]
}

func count(n *node) uint64 {
	if n == nil {
		return 0
	}
	return 1 + count(n.left) + count(n.right)
}

func main() {
	variant := os.Args[1]
	depth, _ := strconv.Atoi(os.Args[2])
	start := time.Now()
	var root *node
	if variant == "shuffled" {
		root = shuffled(depth)
	} else {
		root = ordered(depth)
	}
	var times []time.Duration
	for k := 0; k < 5; k++ {
		t := time.Now()
		runtime.GC()
		times = append(times, time.Since(t))
	}
	sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
	med := times[len(times)/2].Nanoseconds()
	nodes := int64(1)<<(depth+1) - 1
	report(count(root), start, fmt.Sprintf(" x.collect_ns=%d x.ns_per_object_x100=%d", med, med*100/nodes))
}
