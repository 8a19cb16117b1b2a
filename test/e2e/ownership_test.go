package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestOwnershipAcrossWorkspaces: two workspaces may not render one object to
// one cluster (validate and plan refuse, naming both), and an object recorded
// in one workspace's inventory is never updated or pruned by another: a
// hand-over goes through one apply in which the old owner releases it
// without deleting it, then the new owner takes it.
func TestOwnershipAcrossWorkspaces(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.apply(0)

	intruder := "apiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata:\n  name: intruder\nspec:\n  logicalCluster: root:production\n  sources:\n    - path: apps/intruder\n"
	if err := os.MkdirAll(filepath.Join(f.dir, "apps/intruder"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.write("workspaces/intruder.yaml", intruder)
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-credentials\n  namespace: web\n  labels: {owner: intruder}\nstringData:\n  password: " + canary + "\n"
	f.write("apps/intruder/secret.yaml", secret)

	t.Run("two workspaces render one object", func(t *testing.T) {
		out, errOut, code := tmc(t, "validate", f.dir)
		want := "Secret/web/web-credentials is rendered to cluster edge-1, prod-east, prod-west by workspace web-app and by workspace intruder"
		if code != 1 || !strings.Contains(out+errOut, want) {
			t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
		}
		_, errOut, code = f.tmc("plan", f.dir)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Fatalf("plan: exit %d\n%s", code, errOut)
		}
	})

	// web-app lets go of the Secret in git; intruder renders it.
	if err := os.Remove(filepath.Join(f.dir, "apps/web-app/secret.yaml")); err != nil {
		t.Fatal(err)
	}
	t.Run("recorded in another inventory: neither updated nor pruned", func(t *testing.T) {
		p := f.plan()
		var owned, released int
		for _, c := range p.Changes {
			if c.Kind != "Secret" {
				continue
			}
			switch {
			case c.Workspace == "intruder" && c.Action == "skip" && strings.Contains(c.Reason, "workspace root:production/web-app owns this object"):
				owned++
			case c.Workspace == "web-app" && c.Action == "skip" && strings.Contains(c.Reason, "workspace root:production/intruder owns it on this cluster: not deleted, released"):
				released++
			default:
				t.Errorf("unexpected change %+v", c)
			}
		}
		if owned != 3 || released != 3 || p.Summary["owned"] != 3 || p.Summary["delete"] != 0 {
			t.Fatalf("owned %d released %d summary %v", owned, released, p.Summary)
		}
		f.apply(0)
		for _, name := range []string{"edge-1", "prod-east", "prod-west"} {
			s := &corev1.Secret{}
			if !exists(t, f.cs.Get(name), s, "web", "web-credentials") {
				t.Fatalf("%s: the Secret was deleted by a workspace that did not own it alone", name)
			}
			if s.Labels["owner"] == "intruder" {
				t.Errorf("%s: updated by a workspace that did not own it", name)
			}
		}
	})

	t.Run("after the release the new owner takes it", func(t *testing.T) {
		p := f.plan()
		if p.Summary["owned"] != 0 || p.Summary["update"] != 3 {
			t.Fatalf("plan after release: %v %v", p.Summary, p.changed())
		}
		f.apply(0)
		s := &corev1.Secret{}
		if err := f.cs.Get("prod-east").Client.Get(ctx, objectKey("web", "web-credentials"), s); err != nil || s.Labels["owner"] != "intruder" {
			t.Fatalf("prod-east Secret labels %v, err %v", s.Labels, err)
		}
		if p := f.plan(); len(p.changed()) != 0 {
			t.Errorf("plan after hand-over: %v", p.changed())
		}
	})
}

func objectKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }
