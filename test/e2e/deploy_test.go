package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

	// The webhook Component, alone and with the sharded one (either
	// order): the receiver on its own port and Service, the secret mounted.
	for _, components := range [][]string{{"webhook"}, {"sharded", "webhook"}, {"webhook", "sharded"}} {
		own := t.TempDir()
		rel, _ := filepath.Rel(own, abs)
		var list []string
		for _, c := range components {
			list = append(list, rel+"/"+c)
		}
		if err := os.WriteFile(filepath.Join(own, "kustomization.yaml"), []byte("resources: ["+rel+"]\ncomponents: ["+strings.Join(list, ", ")+"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var containers []any
		services := map[string]string{}
		for _, u := range deployManifests(t, c, own) {
			switch u.GetKind() {
			case "Deployment":
				containers, _, _ = unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			case "Service":
				ports, _, _ := unstructured.NestedSlice(u.Object, "spec", "ports")
				services[u.GetName()] = fmt.Sprint(ports)
			}
		}
		s := fmt.Sprint(containers)
		for _, want := range []string{"--webhook-listen=:8081", "--webhook-secret-file=/etc/tmc/webhook/secret", "containerPort:8081", "mountPath:/etc/tmc/webhook"} {
			if !strings.Contains(s, want) {
				t.Errorf("deploy/%s: the container lacks %s: %s", strings.Join(components, "+"), want, s)
			}
		}
		if slices.Contains(components, "sharded") && !strings.Contains(s, "--shard") {
			t.Errorf("deploy/%s: not sharded: %s", strings.Join(components, "+"), s)
		}
		if !strings.Contains(services["tmc-sync-hooks"], "targetPort:hooks") || strings.Contains(services["tmc-sync"], "8081") {
			t.Errorf("deploy/%s: services %v", strings.Join(components, "+"), services)
		}
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
