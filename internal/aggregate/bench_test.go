package aggregate

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
)

// benchClassification is 10,000 Deployments (3,334 on each of 3 clusters,
// the same names, so they merge) that vary by policy on every resource —
// the worst case for classification: a template sets a per-cluster env
// value and a conditional transformation the image on one cluster.
func benchClassification(b *testing.B) (*policy.AggregationPolicy, [][]*instance, []string, map[string]TargetCluster) {
	b.Helper()
	const perCluster = 3334
	dir := b.TempDir()
	pol := classifyRepo + "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: AggregationPolicy\nmetadata: {name: deployments}\nspec:\n  gvk: {group: apps, version: v1, kind: Deployment}\n"
	var app strings.Builder
	for i := 0; i < perCluster; i++ {
		fmt.Fprintf(&app, "---\n%s", strings.Replace(classifyApp, "name: web, namespace: web", fmt.Sprintf("name: web-%04d, namespace: web", i), 1))
	}
	for name, content := range map[string]string{"policies.yaml": pol, "app/deploy.yaml": app.String()} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	p, err := policy.Load(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	r, err := render.Render(context.Background(), p, render.Options{SkipLive: true})
	if err != nil {
		b.Fatal(err)
	}
	ws := r.Workspaces[0]
	ap := p.AggregationPolicies[0]
	desired := indexRendered(ws)
	vals, _ := values(ap)
	byKey := map[string][]*instance{}
	targets := map[string]TargetCluster{}
	for _, c := range ws.Clusters {
		tc := TargetCluster{State: cluster.Reached(c.Name, true)}
		targets[c.Name] = tc
		for _, o := range c.Objects {
			v, err := fieldpath.FromNode(o.Node.YNode())
			if err != nil {
				b.Fatal(err)
			}
			obj := v.(map[string]any)
			obj["spec"].(map[string]any)["progressDeadlineSeconds"] = int64(600)
			inst, err := newInstance(ap, ws, tc, policy.ClusterFacts{}, desired, vals, obj)
			if err != nil {
				b.Fatal(err)
			}
			byKey[inst.key()] = append(byKey[inst.key()], inst)
		}
	}
	var groups [][]*instance
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		groups = append(groups, byKey[k])
	}
	return ap, groups, slices.Sorted(maps.Keys(targets)), targets
}

// BenchmarkAggregateClassification merges 10,000 instances into 3,334
// resources with and without classifying their differences against the
// render (the LISTs, the same in both, are left out: this is the part
// classification adds to). Compare the two ns/op; target: classified under
// 1.2× unclassified over a whole aggregation (hack/bench prints that one).
func BenchmarkAggregateClassification(b *testing.B) {
	ap, groups, names, targets := benchClassification(b)
	for _, mode := range []string{"unclassified", "classified"} {
		b.Run(mode, func(b *testing.B) {
			insts := groups
			if mode == "unclassified" {
				insts = nil
				for _, g := range groups {
					var cp []*instance
					for _, in := range g {
						c := *in
						c.rendered = nil
						cp = append(cp, &c)
					}
					insts = append(insts, cp)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			variations := 0
			for i := 0; i < b.N; i++ {
				variations = 0
				for _, g := range insts {
					res := resource(ap, g, names, targets, map[string]error{})
					variations += len(res.Variations)
				}
			}
			b.ReportMetric(float64(variations), "variations")
		})
	}
}
