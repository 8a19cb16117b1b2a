package shard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// skewed makes n workspaces whose sizes (target clusters × objects) follow
// a heavy tail: most are small, a few are a hundred times larger.
func skewed(n int, seed uint64) []Unit {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make([]Unit, n)
	for i := range out {
		clusters := 1 + int(math.Min(19, r.ExpFloat64()*3))
		objects := 1 + int(math.Min(199, math.Pow(r.Float64(), -1.2)*3)) // Pareto-like
		out[i] = Unit{Key: fmt.Sprintf("root:team-%d/app-%d", i%37, i), Weight: float64(clusters * objects)}
	}
	return out
}

func replicas(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("tmc-sync-%c%d", 'a'+i%26, i)
	}
	return out
}

func loads(a map[string]string, units []Unit) map[string]float64 {
	l := map[string]float64{}
	for _, u := range units {
		l[a[u.Key]] += math.Max(u.Weight, 1)
	}
	return l
}

// TestShardAssignmentBalancesAndMovesLittle: 1,000 workspaces of skewed
// sizes over 1–20 replicas — the heaviest replica carries at most 1.25×
// the mean load, and adding or removing one replica moves at most 1.5×
// the ideal share of workspaces; every replica computes the same
// assignment whatever order it lists the replicas in; the assignment is a
// fixed point (computing it again from itself moves nothing).
func TestShardAssignmentBalancesAndMovesLittle(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		units := skewed(1000, seed)
		total := 0.0
		for _, u := range units {
			total += u.Weight
		}
		check := func(reps []string, a map[string]string, prev map[string]string, what string) {
			n := len(reps)
			t.Helper()
			if len(a) != len(units) {
				t.Fatalf("seed %d, %d replicas: %d of %d workspaces assigned", seed, n, len(a), len(units))
			}
			mean := total / float64(n)
			maxLoad, minLoad := 0.0, math.Inf(1)
			for _, l := range loads(a, units) {
				maxLoad, minLoad = math.Max(maxLoad, l), math.Min(minLoad, l)
			}
			if maxLoad > Slack*mean+1e-9 {
				t.Errorf("seed %d, %d replicas: heaviest replica carries %.0f, %.3f× the mean %.0f", seed, n, maxLoad, maxLoad/mean, mean)
			}
			for k, v := range Assign(units, reps, a) {
				if a[k] != v {
					t.Fatalf("seed %d, %d replicas: the assignment is not a fixed point (%s: %s → %s)", seed, n, k, a[k], v)
				}
			}
			if prev == nil {
				return
			}
			moved := 0
			for k, v := range a {
				if prev[k] != v {
					moved++
				}
			}
			ideal := float64(len(units)) / float64(max(n, len(distinct(prev))))
			if float64(moved) > 1.5*ideal {
				t.Errorf("seed %d, %s: %d workspaces moved, ideal %.0f (%.2f×)", seed, what, moved, ideal, float64(moved)/ideal)
			}
			t.Logf("seed %d, %s: moved %d (%.2f× ideal), load %.3f–%.3f× mean", seed, what, moved, float64(moved)/ideal, minLoad/mean, maxLoad/mean)
		}
		prev := map[string]string(nil)
		for n := 1; n <= 20; n++ { // scale up one by one
			reps := replicas(n)
			a := Assign(units, reps, prev)
			check(reps, a, prev, fmt.Sprintf("%d → %d replicas", n-1, n))
			if len(a) != len(units) {
				t.Fatalf("seed %d, %d replicas: %d of %d workspaces assigned", seed, n, len(a), len(units))
			}
			rev := append([]string(nil), reps...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			for k, v := range Assign(units, rev, prev) {
				if a[k] != v {
					t.Fatalf("seed %d, %d replicas: the assignment depends on the replicas' order", seed, n)
				}
			}
			prev = a
		}
		for n := 19; n >= 1; n-- { // scale down one by one: the last replica goes
			a := Assign(units, replicas(n), prev)
			check(replicas(n), a, prev, fmt.Sprintf("%d → %d replicas", n+1, n))
			prev = a
		}
		// Any one replica of 10 leaves (a crash, not the newest): its share moves, little else.
		ten := Assign(units, replicas(10), nil)
		for gone := range 10 {
			reps := replicas(10)
			left := append(append([]string(nil), reps[:gone]...), reps[gone+1:]...)
			a := Assign(units, left, ten)
			for _, v := range a {
				if v == reps[gone] {
					t.Fatalf("a workspace went to the replica that left")
				}
			}
			check(left, a, ten, fmt.Sprintf("replica %d of 10 left", gone))
		}
	}
}

func distinct(a map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range a {
		out[v] = true
	}
	return out
}
