package chart

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
)

// helmTemplate renders a chart as `helm template --include-crds` does: the
// SDK's client-only dry-run install, in process; test hooks left out (as
// --skip-tests does).
func helmTemplate(t *testing.T, dir string, vals map[string]any, kube string) []string {
	t.Helper()
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := action.NewConfiguration()
	cfg.Releases = storage.Init(driver.NewMemory())
	inst := action.NewInstall(cfg)
	inst.DryRunStrategy, inst.Replace, inst.IncludeCRDs = action.DryRunClient, true, true
	inst.ReleaseName, inst.Namespace = "shop", "shop"
	kv, err := common.ParseKubeVersion(kube)
	if err != nil {
		t.Fatal(err)
	}
	inst.KubeVersion = kv
	rel, err := inst.RunWithContext(context.Background(), ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	r := rel.(*release.Release)
	docs := docsOf(r.Manifest)
	for _, h := range r.Hooks {
		if !slices.Contains(h.Events, release.HookTest) {
			docs = append(docs, docsOf(h.Manifest)...)
		}
	}
	slices.Sort(docs)
	return docs
}

// docsOf splits a stream into documents without Helm's "# Source:" lines.
func docsOf(stream string) []string {
	var out []string
	for _, d := range releaseutil.SplitManifests(stream) {
		var lines []string
		for _, l := range strings.Split(d, "\n") {
			if !strings.HasPrefix(l, "# Source: ") {
				lines = append(lines, l)
			}
		}
		if s := strings.TrimSpace(strings.Join(lines, "\n")); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// TestHelmChartMatchesHelmTemplate: tmc's render of the vendored podinfo
// chart (and of the test chart, CRDs and a subchart included) is, document
// for document after sorting, what helm template makes of the same chart
// and values.
func TestHelmChartMatchesHelmTemplate(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		vals map[string]any
	}{
		{"../../examples/policies/charts/podinfo", map[string]any{"replicaCount": 3, "redis": map[string]any{"enabled": true}, "hpa": map[string]any{"enabled": true}, "ingress": map[string]any{"enabled": true}}},
		{"testdata/web", map[string]any{"replicaCount": 2}},
	} {
		files, _, _, err := Read(tc.dir, ".")
		if err != nil {
			t.Fatal(err)
		}
		res, err := Render(context.Background(), &Request{Files: files, Values: tc.vals, Release: "shop", Namespace: "shop", KubeVersion: "v1.37.2", Cluster: "east", Key: testKey, Source: tc.dir})
		if err != nil {
			t.Fatal(err)
		}
		var ours []string
		for _, m := range res.Manifests {
			ours = append(ours, docsOf(m.Content)...)
		}
		slices.Sort(ours)
		if diff := cmp.Diff(helmTemplate(t, tc.dir, tc.vals, "v1.37.2"), ours); diff != "" {
			t.Errorf("%s: tmc's render differs from helm template (-helm +tmc):\n%s", tc.dir, diff)
		}
		if len(ours) < 4 {
			t.Errorf("%s: only %d documents", tc.dir, len(ours))
		}
	}
}
