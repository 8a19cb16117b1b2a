package policy

import (
	"strings"
	"testing"
)

// TestRolloutValidation: a rollout's waves are checked with file, line and
// field: names, cluster references, selectors, conditionals, counts,
// durations and windows.
func TestRolloutValidation(t *testing.T) {
	ws := func(rollout string) map[string]string {
		return map[string]string{"ws.yaml": header + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  sources: [{path: apps}]\n  rollout:\n" + rollout}
	}
	if _, err := load(t, ws("    waves:\n    - {name: canary, clusters: [east], bakeTime: 1m, maxConcurrency: 1}\n    - {name: prod, clusterSelector: {matchLabels: {env: prod}}, maxConcurrency: 50%, maxFailures: 1, health: Majority, window: {days: [Mon, Tue], start: \"09:00\", end: \"16:00\", timeZone: Europe/Berlin}}\n    - {name: big, conditional: cluster.capacity.cpu > 4, manualGate: true}\n    onFailure: Rollback\n")); err != nil {
		t.Fatalf("a valid rollout: %v", err)
	}
	for _, tc := range []struct {
		name, rollout string
		want          []string
	}{
		{"no waves", "    waves: []\n", []string{"ws.yaml:8:12: VirtualWorkspace/ws: spec.rollout.waves: a rollout needs at least one wave"}},
		{"names", "    waves:\n    - {name: canary, clusters: [east]}\n    - {name: canary, clusters: [west]}\n    - {name: rest, clusters: [west]}\n    - {name: Bad_Name, clusters: [west]}\n",
			[]string{`spec.rollout.waves[1].name: wave "canary" is named twice`, `spec.rollout.waves[2].name: "rest" is the wave of the clusters no wave chooses`, `spec.rollout.waves[3].name: invalid wave name "Bad_Name"`}},
		{"choosing", "    waves:\n    - {name: a}\n    - {name: b, clusters: [esat]}\n    - {name: c, conditional: \"cluster.capacity.cpu >\"}\n",
			[]string{"spec.rollout.waves[0]: a wave chooses its clusters", `spec.rollout.waves[1].clusters[0]: Cluster "esat" does not exist`, "spec.rollout.waves[2].conditional:"}},
		{"counts and times", "    waves:\n    - {name: a, clusters: [east], maxConcurrency: 0, maxUnavailable: 150%, maxFailures: -1, bakeTime: soon, health: Any}\n    onFailure: Panic\n",
			[]string{`spec.rollout.waves[0].maxConcurrency: invalid value "0"`, `spec.rollout.waves[0].maxUnavailable: invalid value "150%": a percent is at most 100%`,
				"spec.rollout.waves[0].maxFailures: must be at least 0", `spec.rollout.waves[0].bakeTime: invalid duration "soon"`,
				`spec.rollout.waves[0].health: invalid value "Any"`, `spec.rollout.onFailure: invalid value "Panic"`}},
		{"windows", "    waves:\n    - {name: a, clusters: [east], window: {start: \"9am\", end: \"16:00\"}}\n    - {name: b, clusters: [west], window: {start: \"09:00\", end: \"16:00\", timeZone: Mars/Olympus}}\n    - {name: c, clusters: [west], window: {days: [Someday], start: \"09:00\", end: \"16:00\"}}\n",
			[]string{`spec.rollout.waves[0].window: start "9am": use HH:MM`, `spec.rollout.waves[1].window: timeZone "Mars/Olympus"`, `spec.rollout.waves[2].window.days[0]: invalid value "Someday"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, ws(tc.rollout))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), "ws.yaml:") {
				t.Errorf("no file:line: %v", err)
			}
		})
	}
}
