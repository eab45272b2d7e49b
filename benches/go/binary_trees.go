// binary-trees (Benchmarks Game rules, single goroutine), the Go side of tricolor's
// comparison: same depths and output as examples/binary_trees.rs.
//
//	go run binary_trees.go report.go 18
package main

import (
	"fmt"
	"os"
	"strconv"
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
	report(uint64(total), start, "")
}
