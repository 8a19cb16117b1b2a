package e2e

import (
	"context"
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kcp-dev/tmc/test/harness"
)

// TestDeployManifests builds deploy/ with kustomize and applies every object
// to a real API server with a server-side dry-run: all must be accepted.
func TestDeployManifests(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "home")
	c := cs.Get("home").Client
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "../../deploy")
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
			t.Errorf("deploy/ has no %s", k)
		}
	}
}
