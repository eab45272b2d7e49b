// Random graph churn, the Go side of benches/suite/churn.rs: the same operations drawn from
// the same generator (splitmix64, same seeds), one goroutine or several (10 root vectors per
// goroutine behind mutexes).
//
//	go run churn.go report.go 1 1000000
package main

import (
	"math/bits"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

type node struct{ edges []*node }

func pick(k uint64, n int) int {
	hi, _ := bits.Mul64(k, uint64(n))
	return int(hi)
}

func swapRemove(v []*node, i int) ([]*node, *node) {
	x := v[i]
	last := len(v) - 1
	v[i] = v[last]
	v[last] = nil
	return v[:last], x
}

func single(ops int) uint64 {
	r := &rng{12345}
	roots := make([]*node, 0, 64)
	for i := 0; i < 50; i++ {
		roots = append(roots, &node{})
	}
	for op := 0; op < ops; op++ {
		if len(roots) == 0 {
			roots = append(roots, &node{})
			continue
		}
		switch r.below(4) {
		case 0:
			roots = append(roots, &node{})
		case 1:
			if len(roots) > 1 {
				from := r.below(len(roots))
				to := r.below(len(roots))
				roots[from].edges = append(roots[from].edges, roots[to])
			}
		case 2:
			roots, _ = swapRemove(roots, r.below(len(roots)))
		default:
			from := r.below(len(roots))
			k := r.next()
			n := roots[from]
			if len(n.edges) > 0 {
				n.edges, _ = swapRemove(n.edges, pick(k, len(n.edges)))
			}
		}
	}
	check := uint64(len(roots))
	for _, n := range roots {
		check += uint64(len(n.edges))
	}
	roots = nil
	runtime.GC()
	return check
}

type rootVec struct {
	mu    sync.Mutex
	nodes []*node
}

func multi(ops, threads int) uint64 {
	vecs := make([]*rootVec, threads*10)
	for i := range vecs {
		vecs[i] = &rootVec{}
		for k := 0; k < 50; k++ {
			vecs[i].nodes = append(vecs[i].nodes, &node{})
		}
	}
	var wg sync.WaitGroup
	done := make([]uint64, threads)
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			r := &rng{12345 + uint64(t)}
			for op := 0; op < ops/threads; op++ {
				done[t]++
				a := r.below(len(vecs))
				switch r.below(4) {
				case 0:
					n := &node{}
					vecs[a].mu.Lock()
					vecs[a].nodes = append(vecs[a].nodes, n)
					vecs[a].mu.Unlock()
				case 1:
					b := r.below(len(vecs))
					i, j := r.next(), r.next()
					if a == b {
						v := vecs[a]
						v.mu.Lock()
						if len(v.nodes) >= 2 {
							to := v.nodes[pick(j, len(v.nodes))]
							from := v.nodes[pick(i, len(v.nodes))]
							from.edges = append(from.edges, to)
						}
						v.mu.Unlock()
					} else {
						lo, hi := a, b
						if lo > hi {
							lo, hi = hi, lo
						}
						vecs[lo].mu.Lock()
						vecs[hi].mu.Lock()
						va, vb := vecs[a], vecs[b]
						if len(va.nodes) > 0 && len(vb.nodes) > 0 {
							to := vb.nodes[pick(j, len(vb.nodes))]
							from := va.nodes[pick(i, len(va.nodes))]
							from.edges = append(from.edges, to)
						}
						vecs[hi].mu.Unlock()
						vecs[lo].mu.Unlock()
					}
				case 2:
					k := r.next()
					v := vecs[a]
					v.mu.Lock()
					if len(v.nodes) > 0 {
						v.nodes, _ = swapRemove(v.nodes, pick(k, len(v.nodes)))
					}
					v.mu.Unlock()
				default:
					i, j := r.next(), r.next()
					v := vecs[a]
					v.mu.Lock()
					if len(v.nodes) > 0 {
						n := v.nodes[pick(i, len(v.nodes))]
						if len(n.edges) > 0 {
							n.edges, _ = swapRemove(n.edges, pick(j, len(n.edges)))
						}
					}
					v.mu.Unlock()
				}
			}
		}(t)
	}
	wg.Wait()
	var total uint64
	for _, d := range done {
		total += d
	}
	vecs = nil
	runtime.GC()
	return total
}

func main() {
	threads, _ := strconv.Atoi(os.Args[1])
	ops, _ := strconv.Atoi(os.Args[2])
	start := time.Now()
	var check uint64
	if threads == 1 {
		check = single(ops)
	} else {
		check = multi(ops, threads)
	}
	report(check, start, "")
}
