package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/status"
)

const (
	imageField  = "spec.template.spec.containers[name=web].image"
	memoryField = "spec.template.spec.containers[name=web].resources.limits.memory"
)

// TestIntendedVariationApartFromDivergence: on three real API servers with
// examples/policies, right after apply the web Deployment's image and
// memory on edge-1 vary as edge-tuning meant, and nothing is a conflict; a
// hand edit of the image on prod-west makes exactly one divergent conflict
// that names prod-west and the edit's field manager — in `tmc aggregate`,
// the report README (Conflicts, apart from "Varies by policy"), the status
// API and tmc_divergent_fields, which goes back to 0 after the next apply.
func TestIntendedVariationApartFromDivergence(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	// Report leaves the hand edit in place until the test applies again.
	ws, err := os.ReadFile(filepath.Join(f.dir, "workspaces/web-app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f.write("workspaces/web-app.yaml", string(ws)+"  drift: Report\n")
	gitInit(t, f.dir)
	addr := freePort(t)
	startTMC(t, "tmc sync", "sync", "--repo", f.dir, "--branch", "main", "--kubeconfig", f.kubeconfig, "--workdir", t.TempDir(),
		"--interval", "1s", "--health-interval", "1s", "--listen", addr, "--request-timeout", "5s", "--no-push-reports")
	waitReady(t, addr)
	api := syncAPI{base: "http://" + addr}

	deployments := func() aggregate.Resource {
		t.Helper()
		out, errOut, code := f.tmc("aggregate", "-o", "json", f.dir)
		if code != 0 {
			t.Fatalf("aggregate: exit %d\n%s\n%s", code, out, errOut)
		}
		var res struct {
			Workspaces []aggregate.WorkspaceView `json:"workspaces"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		for _, w := range res.Workspaces {
			for _, k := range w.AggregatedResources {
				for _, r := range k.Resources {
					if w.Workspace == "web-app" && k.Kind == "Deployment" && r.Name == "web" {
						return r
					}
				}
			}
		}
		t.Fatalf("no web Deployment in the view:\n%s", out)
		return aggregate.Resource{}
	}
	divergentMetric := func() string {
		_, metrics := api.get("/metrics", nil)
		m := regexp.MustCompile(`(?m)^tmc_divergent_fields\{logical_cluster="root:production",workspace="web-app"\} (\S+)$`).FindStringSubmatch(metrics)
		if m == nil {
			return "absent"
		}
		return m[1]
	}
	apiKind := func() status.AggregatedKind {
		var w status.Workspace
		api.get("/api/v1/workspaces/root:production/web-app", &w)
		for _, k := range w.AggregatedKinds {
			if k.Kind == "Deployment" {
				return k
			}
		}
		return status.AggregatedKind{}
	}

	// After apply: the edge-1 differences are git's, none is a conflict.
	r := deployments()
	if len(r.Conflicts) != 0 {
		t.Fatalf("after a clean apply, conflicts: %+v", r.Conflicts)
	}
	var varied []string
	for _, v := range r.Variations {
		varied = append(varied, v.Field)
		if len(v.By) != 1 || v.By[0].Policy != "edge-tuning" || !slices.Equal(v.By[0].Clusters, []string{"edge-1"}) {
			t.Errorf("%s varies by %+v, want edge-tuning on edge-1", v.Field, v.By)
		}
	}
	if diff := cmp.Diff([]string{imageField, memoryField}, varied); diff != "" {
		t.Errorf("variations (-want +got):\n%s", diff)
	}
	// The merged spec holds git's image, not whichever cluster won.
	if got := fmt.Sprint(r.Spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]); got != "nginx:1.27" {
		t.Errorf("merged image %q, want git's nginx:1.27", got)
	}
	eventually(t, "the syncer's view: 0 divergent, 2 varied", 30*time.Second, func() (bool, string) {
		k := apiKind()
		return divergentMetric() == "0" && k.DivergentFields == 0 && k.VariedFields == 2, fmt.Sprintf("metric %s, kind %+v", divergentMetric(), k)
	})

	// A hand edit of the image on prod-west.
	d := &appsv1.Deployment{}
	if err := f.cs.Get("prod-west").Client.Get(ctx, client.ObjectKey{Namespace: "web", Name: "web"}, d); err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.27-hand-edit"
	if err := f.cs.Get("prod-west").Client.Update(ctx, d, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	r = deployments()
	if len(r.Conflicts) != 1 {
		t.Fatalf("after the hand edit, want one conflict, got %+v", r.Conflicts)
	}
	c := r.Conflicts[0]
	if c.Field != imageField || c.Class != aggregate.Divergent || len(c.Divergent) != 1 || c.Divergent[0].Cluster != "prod-west" ||
		c.Divergent[0].Manager != "kubectl-edit" || c.Divergent[0].Desired != "nginx:1.27" || c.Divergent[0].WrittenAt == "" {
		t.Errorf("the conflict must be the image, divergent on prod-west by kubectl-edit: %+v", c)
	}
	if len(r.Variations) != 1 || r.Variations[0].Field != memoryField {
		t.Errorf("the memory still varies by policy: %+v", r.Variations)
	}
	eventually(t, "tmc_divergent_fields 1 and the API naming prod-west", 30*time.Second, func() (bool, string) {
		k := apiKind()
		ok := divergentMetric() == "1" && len(k.Divergent) == 1 && k.Divergent[0].Cluster == "prod-west" && k.Divergent[0].Manager == "kubectl-edit"
		return ok, fmt.Sprintf("metric %s, kind %+v", divergentMetric(), k)
	})

	// The README: the divergence under Conflicts, the memory under "Varies by policy".
	if out, errOut, code := f.tmc("aggregate", "--write-reports", f.dir); code != 0 {
		t.Fatalf("aggregate --write-reports: exit %d\n%s\n%s", code, out, errOut)
	}
	readme, err := os.ReadFile(filepath.Join(f.dir, "reports/root:production/web-app/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	ci, vi := strings.Index(s, "### Conflicts"), strings.Index(s, "### Varies by policy")
	if ci < 0 || vi < ci {
		t.Fatalf("README lacks Conflicts before Varies by policy:\n%s", s)
	}
	conflicts, variations := s[ci:vi], s[vi:]
	if !strings.Contains(conflicts, "`"+imageField+"` | **divergent** | **prod-west** holds `nginx:1.27-hand-edit`, git means `nginx:1.27` (written by kubectl-edit") ||
		strings.Count(conflicts, "| web/web |") != 1 {
		t.Errorf("Conflicts must hold the one divergent image:\n%s", conflicts)
	}
	if !strings.Contains(variations, "`"+memoryField+"` | `256Mi` | edge-1=`128Mi`, prod-east=`256Mi`, prod-west=`256Mi` | edge-tuning transformations[1] (Set) on edge-1 |") {
		t.Errorf("Varies by policy must hold the memory:\n%s", variations)
	}

	// The next apply (the syncer's, once git says to correct drift) takes
	// the image back: nothing diverges any more.
	f.write("workspaces/web-app.yaml", string(ws))
	gitCommit(t, f.dir, "correct drift")
	eventually(t, "tmc_divergent_fields back to 0", 60*time.Second, func() (bool, string) {
		return divergentMetric() == "0", divergentMetric()
	})
	if r = deployments(); len(r.Conflicts) != 0 || len(r.Variations) != 2 {
		t.Errorf("after the apply: conflicts %+v, variations %+v", r.Conflicts, r.Variations)
	}
}
