package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kcp-dev/tmc/test/harness"
)

// TestDeployManifests builds deploy/ and its sharded form deploy/sharded
// with kustomize and applies every object to a real API server with a
// server-side dry-run: all must be accepted.
func TestDeployManifests(t *testing.T) {
	cs := harness.StartT(t, "home")
	c := cs.Get("home").Client
	deployManifests(t, c, "../../deploy")
	// The sharded Component, used as its comment says: from a kustomization of one's own.
	own := t.TempDir()
	abs, _ := filepath.Abs("../../deploy")
	rel, err := filepath.Rel(own, abs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(own, "kustomization.yaml"), []byte("resources: ["+rel+"]\ncomponents: ["+rel+"/sharded]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	objs := deployManifests(t, c, own)
	var args []any
	var replicas int64
	for _, u := range objs {
		if u.GetKind() == "Deployment" {
			args, _, _ = unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			replicas, _, _ = unstructured.NestedInt64(u.Object, "spec", "replicas")
		}
	}
	if s := fmt.Sprint(args); replicas < 2 || !strings.Contains(s, "--shard") || strings.Contains(s, "--leader-elect") || !strings.Contains(s, "POD_IP") {
		t.Errorf("deploy/sharded: %d replicas, containers %s", replicas, s)
	}
}

func deployManifests(t *testing.T, c client.Client, dir string) []*unstructured.Unstructured {
	ctx := context.Background()
	var out []*unstructured.Unstructured
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatal(err)
	}
	objs := m.ToRNodeSlice()
	if len(objs) < 8 {
		t.Fatalf("deploy/ builds %d objects, want at least 8", len(objs))
	}
	kinds := map[string]bool{}
	for i, rn := range objs {
		raw, err := rn.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal(raw, &u.Object); err != nil {
			t.Fatal(err)
		}
		kinds[u.GetKind()] = true
		out = append(out, u)
		opts := []client.ApplyOption{client.FieldOwner("tmc-test"), client.ForceOwnership}
		if i > 0 || u.GetKind() != "Namespace" {
			opts = append(opts, client.DryRunAll)
		}
		// The Namespace is created for real so that the namespaced objects can be dry-run in it.
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), opts...); err != nil {
			t.Errorf("%s/%s rejected: %v", u.GetKind(), u.GetName(), err)
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "Role", "RoleBinding", "Secret", "Deployment", "Service"} {
		if !kinds[k] {
			t.Errorf("%s has no %s", dir, k)
		}
	}
	return out
}
