package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestSavedPlanIsAProposal edits a saved plan the way someone holding the CI
// artifact could — an added delete of a Namespace tmc never applied, an
// unchanged entry turned into a delete, an entry moved to another workspace,
// cluster or name, an unknown action — and shows apply refuses each, names
// the entry, and changes nothing on any cluster.
func TestSavedPlanIsAProposal(t *testing.T) {
	f := newFixture(t)
	f.apply(0)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if out, errOut, code := f.tmc("plan", "--out", planFile, f.dir); code != 0 {
		t.Fatalf("plan: exit %d: %s\n%s", code, out, errOut)
	}
	raw, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	type entry = map[string]any
	load := func() (map[string]any, []entry) {
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		var changes []entry
		for _, c := range doc["changes"].([]any) {
			changes = append(changes, c.(entry))
		}
		return doc, changes
	}
	find := func(changes []entry, kind, name string) entry {
		for _, c := range changes {
			if c["kind"] == kind && c["name"] == name && c["cluster"] == "prod-east" {
				return c
			}
		}
		t.Fatalf("no %s/%s on prod-east in the saved plan", kind, name)
		return nil
	}
	cases := []struct {
		name string
		edit func(doc map[string]any, changes []entry) []entry
		want string
	}{
		{"added delete of a Namespace", func(_ map[string]any, changes []entry) []entry {
			return append(changes, entry{"workspace": "web-app", "logicalCluster": "root", "cluster": "prod-east", "action": "delete", "apiVersion": "v1", "kind": "Namespace", "name": "bystander"})
		}, "prod-east/Namespace/bystander: delete of an object the inventory of workspace root/web-app does not record"},
		{"unchanged turned into delete", func(_ map[string]any, changes []entry) []entry {
			find(changes, "Deployment", "web")["action"] = "delete"
			return changes
		}, "delete of an object git renders there"},
		{"unknown action", func(_ map[string]any, changes []entry) []entry {
			find(changes, "Deployment", "web")["action"] = "recreate"
			return changes
		}, `unknown action "recreate"`},
		{"entry moved to another cluster", func(_ map[string]any, changes []entry) []entry {
			find(changes, "Deployment", "web")["cluster"] = "elsewhere"
			return changes
		}, "on a cluster the plan did not reach"},
		{"entry moved to another workspace", func(_ map[string]any, changes []entry) []entry {
			find(changes, "Deployment", "web")["workspace"] = "other"
			return changes
		}, "no longer rendered"},
		{"digest edited", func(_ map[string]any, changes []entry) []entry {
			find(changes, "Deployment", "web")["digest"] = "0000"
			return changes
		}, "rendered differently"},
		{"name edited", func(_ map[string]any, changes []entry) []entry {
			find(changes, "Deployment", "web")["name"] = "web2"
			return changes
		}, "prod-east/Deployment/web/web2: no longer rendered"},
	}
	ns := &corev1.Namespace{}
	ns.Name = "bystander"
	if err := f.cs.Get("prod-east").Client.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, changes := load()
			changes = tc.edit(doc, changes)
			doc["changes"] = changes
			edited, _ := json.Marshal(doc)
			p := filepath.Join(t.TempDir(), "plan.json")
			if err := os.WriteFile(p, edited, 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := f.tmc("apply", "--plan", p, f.dir)
			if code != 1 || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("apply of an edited plan: exit %d, want 1 naming %q\n%s\n%s", code, tc.want, out, errOut)
			}
			if !exists(t, f.cs.Get("prod-east"), &corev1.Namespace{}, "", "bystander") {
				t.Fatal("the bystander Namespace was deleted")
			}
			if !exists(t, f.cs.Get("prod-east"), &appsv1.Deployment{}, "web", "web") {
				t.Fatal("the Deployment was deleted")
			}
		})
	}
	// The plan as saved still applies.
	if out, errOut, code := f.tmc("apply", "--plan", planFile, f.dir); code != 0 {
		t.Fatalf("apply of the unedited plan: exit %d\n%s\n%s", code, out, errOut)
	}
}
