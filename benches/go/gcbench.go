// GCBench (Ellis, Kovac, Boehm), the Go side of benches/suite's workload 2: the same phases,
// sizes and checksum as benches/suite/gcbench.rs. The argument shrinks every depth (0: the
// original sizes).
//
//	go run gcbench.go report.go 0
package main

import (
	"os"
	"strconv"
	"time"
)

type node struct {
	left, right *node
	i, j        int32
}

func treeSize(d uint) uint64 { return (1 << (d + 1)) - 1 }

func populate(d uint, n *node) {
	if d == 0 {
		return
	}
	n.left, n.right = &node{}, &node{}
	populate(d-1, n.left)
	populate(d-1, n.right)
}

func makeTree(d uint) *node {
	if d == 0 {
		return &node{}
	}
	return &node{left: makeTree(d - 1), right: makeTree(d - 1)}
}

func count(n *node) uint64 {
	if n == nil {
		return 0
	}
	return 1 + count(n.left) + count(n.right) + uint64(n.i+n.j)
}

func main() {
	scale := 0
	if len(os.Args) > 1 {
		scale, _ = strconv.Atoi(os.Args[1])
	}
	s := uint(scale)
	stretchDepth, longDepth, maxDepth := 18-s, 16-s, 16-s
	arraySize := 500000 >> s
	start := time.Now()
	total := count(makeTree(stretchDepth))
	long := &node{}
	populate(longDepth, long)
	array := make([]float64, arraySize)
	for i := 0; i < arraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}
	for d := uint(4); d <= maxDepth; d += 2 {
		iters := 2 * treeSize(stretchDepth) / treeSize(d)
		for i := uint64(0); i < iters; i++ {
			t := &node{}
			populate(d, t)
			total += count(t)
		}
		for i := uint64(0); i < iters; i++ {
			total += count(makeTree(d))
		}
	}
	if array[1000] != 1.0/1000.0 {
		panic("array")
	}
	total += count(long)
	report(total, start, "")
}
