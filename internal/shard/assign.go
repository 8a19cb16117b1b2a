// Package shard spreads tmc sync's workspaces over the replicas of one
// Deployment: each replica renews a Lease of its own (membership), every
// replica computes the same assignment from the live replicas it sees and
// the ownership table (Assign), and a workspace is worked on only by the
// replica the table — one ConfigMap, written with optimistic concurrency —
// names, while that replica's Lease is live (fencing).
package shard

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"math"
	"slices"
)

// Unit is one thing to assign: a workspace (logicalCluster/name) and its
// weight, its target clusters × objects (at least 1).
type Unit struct {
	Key    string
	Weight float64
}

// The load bounds, as multiples of the mean load: no replica carries more
// than Slack × the mean (the bound of consistent hashing with bounded
// loads), and a replica below Floor × the mean (a new one) takes units from
// the others until it is not.
const (
	Slack = 1.25
	Floor = 0.9
)

// Assign gives each unit a replica: rendezvous (highest random weight)
// hashing with bounded loads, sticky to the owners of prev (the ownership
// table), so that the result depends only on the units, the set of live
// replicas and prev — every replica computes the same — and a change of one
// replica moves about its share of the units and no more:
//
//  1. a unit stays with its owner in prev while that owner is live;
//  2. a replica above Slack × the mean sheds the units that rank it lowest;
//  3. units without an owner go, heaviest first, to the replica that ranks
//     highest for them among those that stay within Slack × the mean (the
//     least loaded when none can);
//  4. a replica below Floor × the mean takes, one at a time, the unit that
//     ranks it highest among those whose owner stays at or above Floor ×
//     the mean.
//
// The steps run again on their own result until it no longer changes (a
// few rounds at most), so that Assign of its own result changes nothing:
// the assignment is a fixed point, and replicas that read the table at
// different moments still agree once it settles.
func Assign(units []Unit, replicas []string, prev map[string]string) map[string]string {
	cur := prev
	for range 10 {
		next := assignOnce(units, replicas, cur)
		if maps.Equal(next, cur) {
			break
		}
		cur = next
	}
	return cur
}

func assignOnce(units []Unit, replicas []string, prev map[string]string) map[string]string {
	out := make(map[string]string, len(units))
	if len(replicas) == 0 {
		return out
	}
	reps := slices.Clone(replicas)
	slices.Sort(reps)
	reps = slices.Compact(reps)
	live := map[string]bool{}
	for _, r := range reps {
		live[r] = true
	}
	order := slices.Clone(units)
	total := 0.0
	for i := range order {
		order[i].Weight = max(order[i].Weight, 1)
		total += order[i].Weight
	}
	slices.SortFunc(order, func(a, b Unit) int {
		if c := cmp.Compare(b.Weight, a.Weight); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	mean := total / float64(len(reps))
	upper, lower := Slack*mean, Floor*mean
	load := map[string]float64{}
	owned := map[string][]Unit{}
	var pool []Unit
	for _, u := range order { // 1. sticky
		if p := prev[u.Key]; live[p] {
			out[u.Key] = p
			load[p] += u.Weight
			owned[p] = append(owned[p], u)
		} else {
			pool = append(pool, u)
		}
	}
	for _, r := range reps { // 2. shed above the bound
		if load[r] <= upper {
			continue
		}
		us := owned[r]
		slices.SortFunc(us, func(a, b Unit) int { return cmp.Compare(score(a.Key, r), score(b.Key, r)) })
		for _, u := range us {
			if load[r] <= upper {
				break
			}
			delete(out, u.Key)
			load[r] -= u.Weight
			pool = append(pool, u)
		}
	}
	slices.SortFunc(pool, func(a, b Unit) int {
		if c := cmp.Compare(b.Weight, a.Weight); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	ranked := make([]string, len(reps))
	for _, u := range pool { // 3. place the ownerless
		copy(ranked, reps)
		slices.SortFunc(ranked, func(a, b string) int { return cmp.Compare(score(u.Key, b), score(u.Key, a)) })
		best := ""
		for _, r := range ranked {
			if load[r]+u.Weight <= upper {
				best = r
				break
			}
		}
		if best == "" {
			least := math.Inf(1)
			for _, r := range ranked {
				if load[r] < least {
					best, least = r, load[r]
				}
			}
		}
		out[u.Key] = best
		load[best] += u.Weight
	}
	for _, r := range reps { // 4. fill the underloaded
		for load[r] < lower {
			var pick *Unit
			var pickScore uint64
			for i := range order {
				u := &order[i]
				o := out[u.Key]
				if o == r || load[o]-u.Weight < lower || load[r]+u.Weight > upper {
					continue
				}
				// The heaviest unit that fits first (fewer moves for the
				// same load), the one that ranks r highest among equals.
				if s := score(u.Key, r); pick == nil || u.Weight > pick.Weight || (u.Weight == pick.Weight && s > pickScore) {
					pick, pickScore = u, s
				}
			}
			if pick == nil {
				break
			}
			load[out[pick.Key]] -= pick.Weight
			out[pick.Key] = r
			load[r] += pick.Weight
		}
	}
	return out
}

func score(key, replica string) uint64 {
	h := sha256.New()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(replica))
	return binary.BigEndian.Uint64(h.Sum(nil)[:8])
}
