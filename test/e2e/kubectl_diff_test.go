package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/test/harness"
)

// TestPlanAgreesWithKubectlDiff runs tmc plan and kubectl diff --server-side on
// the same objects and drift, and checks they name the same changed objects
// on every cluster.
func TestPlanAgreesWithKubectlDiff(t *testing.T) {
	assets, err := harness.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(assets, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("kubectl not built: %v (run make envtest)", err)
	}
	f := newFixture(t)
	f.apply(0)
	ctx := context.Background()
	// Drift: a hand edit in prod-east, a deletion in edge-1, and a new object in git.
	cm := &corev1.ConfigMap{}
	exists(t, f.cs.Get("prod-east"), cm, "web", "web-config-prod-east")
	cm.Data["LOG_LEVEL"] = "debug"
	if err := f.cs.Get("prod-east").Client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := f.cs.Get("edge-1").Client.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "web"}}); err != nil {
		t.Fatal(err)
	}
	f.write("apps/web-app/new.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web-runner\n  namespace: web\n")

	// tmc's view, planned as kubectl diff --force-conflicts would compare.
	p := f.plan("--force-conflicts")
	tmcChanged := map[string][]string{}
	for _, c := range p.Changes {
		if c.Action == "create" || c.Action == "update" {
			tmcChanged[c.Cluster] = append(tmcChanged[c.Cluster], c.Kind+"."+c.Namespace+"."+c.Name)
		}
	}

	// kubectl's view of exactly the objects tmc applies.
	desired := desiredByCluster(t, f)
	diffScript := filepath.Join(t.TempDir(), "difflist")
	if err := os.WriteFile(diffScript, []byte("#!/bin/sh\ndiff -r -q \"$1\" \"$2\"\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"edge-1", "prod-east", "prod-west"} {
		file := filepath.Join(t.TempDir(), name+".yaml")
		if err := os.WriteFile(file, desired[name], 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(kubectl, "diff", "--server-side", "--force-conflicts", "--field-manager=tmc", "--kubeconfig", f.kubeconfig, "--context", name, "-f", file)
		cmd.Env = append(os.Environ(), "KUBECTL_EXTERNAL_DIFF="+diffScript)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl diff on %s: %v\n%s", name, err, out)
		}
		var kubectlChanged []string
		for _, line := range strings.Split(string(out), "\n") {
			// "Files LIVE/apps.v1.Deployment.web.web and MERGED/... differ" or "Only in MERGED: v1.ServiceAccount.web.web-runner"
			var file string
			switch {
			case strings.HasPrefix(line, "Files "):
				file = filepath.Base(strings.Fields(line)[1])
			case strings.HasPrefix(line, "Only in "):
				file = strings.TrimSpace(line[strings.Index(line, ":")+1:])
			default:
				continue
			}
			// group.version.Kind.namespace.name (the core group has no group part)
			parts := strings.SplitN(file, ".", 5)
			if strings.HasPrefix(file, "v1.") {
				parts = append([]string{""}, strings.SplitN(file, ".", 4)...)
			}
			kubectlChanged = append(kubectlChanged, parts[2]+"."+parts[3]+"."+parts[4])
		}
		want, got := tmcChanged[name], kubectlChanged
		sort.Strings(want)
		sort.Strings(got)
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("%s: tmc plan and kubectl diff disagree (-kubectl +tmc):\n%s", name, diff)
		}
		if len(want) == 0 {
			t.Errorf("%s: the drift should show up", name)
		}
	}
}

// desiredByCluster renders the fixture's repo as tmc plans it and returns a YAML stream per cluster.
func desiredByCluster(t *testing.T, f *fixture) map[string][]byte {
	return desiredFor(t, f.dir, f.kubeconfig)
}

// desiredFor renders the repo at dir as tmc plans it and returns a YAML stream per cluster.
func desiredFor(t *testing.T, dir, kubeconfig string) map[string][]byte {
	ctx := context.Background()
	pol, err := policy.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	o := cluster.DefaultOptions()
	o.Kubeconfig = kubeconfig
	set := cluster.Connect(ctx, pol, o)
	r, err := render.Render(ctx, pol, render.Options{Facts: set, Live: set})
	if err != nil {
		t.Fatal(err)
	}
	d, err := plan.Desired(r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for k, u := range d {
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		out[k.Cluster] = append(append(out[k.Cluster], "---\n"...), b...)
	}
	return out
}
