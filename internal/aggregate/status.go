package aggregate

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/kcp-dev/tmc/internal/policy"
)

// conditionRank orders condition statuses from worst to best.
var conditionRank = map[string]int{"False": 0, "Unknown": 1, "True": 2}

// mergeConditions merges status.conditions per type: the worst status and the
// clusters that report it.
func mergeConditions(insts []*instance) []Condition {
	byType := map[string]*Condition{}
	for _, inst := range byPriority(insts, false) {
		st, _ := inst.obj["status"].(map[string]any)
		conds, _ := st["conditions"].([]any)
		for _, c := range conds {
			m, _ := c.(map[string]any)
			typ, _ := m["type"].(string)
			status, _ := m["status"].(string)
			if typ == "" {
				continue
			}
			reason, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			cur, ok := byType[typ]
			switch {
			case !ok || rank(status) < rank(cur.Status):
				byType[typ] = &Condition{Type: typ, Status: status, Clusters: []string{inst.cluster}, Reason: reason, Message: msg}
			case status == cur.Status:
				cur.Clusters = append(cur.Clusters, inst.cluster)
			}
		}
	}
	var out []Condition
	for _, k := range slices.Sorted(maps.Keys(byType)) {
		c := byType[k]
		sort.Strings(c.Clusters)
		out = append(out, *c)
	}
	return out
}

func rank(s string) int {
	if r, ok := conditionRank[s]; ok {
		return r
	}
	return 1
}

// counts are the status fields, beyond the patterns of isCount, that count
// things that exist per cluster (Jobs' pods, DaemonSets' nodes): Combined
// sums them across clusters.
var counts = map[string]bool{
	"active": true, "succeeded": true, "failed": true, "ready": true, "terminating": true, // Job
	"currentNumberScheduled": true, "desiredNumberScheduled": true, "updatedNumberScheduled": true, // DaemonSet
}

// isCount reports whether a top-level status field counts things per
// cluster, so that the fleet's value is the sum: replicas and every
// …Replicas field (Deployments, ReplicaSets, StatefulSets, HPAs), number…
// fields (DaemonSets) and the fields in counts. Other integers —
// observedGeneration, collisionCount, percentages, …Generation — are not
// summed: Combined takes them from the highest-priority instance.
func isCount(field string) bool {
	switch {
	case counts[field], field == "replicas", strings.HasSuffix(field, "Replicas"):
		return true
	case strings.HasPrefix(field, "number") && len(field) > len("number") && field[len("number")] >= 'A' && field[len("number")] <= 'Z':
		return true
	}
	return false
}

// mergeStatus merges the instances' status as statusMerging says.
func mergeStatus(rule policy.StatusMerging, insts []*instance) map[string]any {
	if len(insts) == 0 {
		return nil
	}
	switch rule {
	case policy.StatusPerCluster:
		out := map[string]any{}
		for _, inst := range insts {
			if st, ok := inst.obj["status"].(map[string]any); ok {
				out[inst.cluster] = st
			}
		}
		return out
	case policy.StatusPriority:
		st, _ := byPriority(insts, true)[0].obj["status"].(map[string]any)
		return st
	}
	// Combined: counts summed, other fields from the highest-priority instance; conditions are merged separately.
	out := map[string]any{}
	for _, inst := range byPriority(insts, false) {
		st, _ := inst.obj["status"].(map[string]any)
		for k, v := range st {
			if k == "conditions" {
				continue
			}
			if n, ok := number(v); ok && isCount(k) {
				prev, _ := number(out[k])
				out[k] = prev + n
				continue
			}
			if _, set := out[k]; !set {
				out[k] = v
			}
		}
	}
	return out
}

func number(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	}
	return 0, false
}
