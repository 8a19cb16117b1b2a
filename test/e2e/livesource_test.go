package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kcp-dev/tmc/test/harness"
)

// TestLiveClusterSource projects ConfigMaps that live on a hub cluster (not
// in git) to two target clusters, transformed, with server-owned fields stripped.
func TestLiveClusterSource(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "hub", "t1", "t2")
	hub := cs.Get("hub")
	if err := hub.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shared"}}); err != nil {
		t.Fatal(err)
	}
	for name, labels := range map[string]map[string]string{"settings": {"share": "yes"}, "private": nil} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shared", Name: name, Labels: labels}, Data: map[string]string{"region": "eu"}}
		if err := hub.Client.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	files := map[string]string{
		"clusters.yaml": `apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: hub}
spec: {projectionEnabled: false}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: t1}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: t2}
`,
		"ws.yaml": `apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: shared-config}
spec:
  sources:
    - path: ns
    - cluster: hub
      resourceSelectors:
        - {version: v1, kind: ConfigMap, labelSelector: {matchLabels: {share: "yes"}}}
  projectionPolicies: [rename]
---
apiVersion: tmc.kcp.io/v1alpha1
kind: ProjectionPolicy
metadata: {name: rename}
spec:
  resourceSelectors: [{kind: ConfigMap}]
  transformations:
    - {type: Template, jsonPath: metadata.name, value: "{{.OriginalName}}-{{.TargetCluster}}"}
    - {type: Set, jsonPath: metadata.labels.workload.kcp.io/projected, value: "true"}
`,
		"ns/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shared}\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := tmc(t, "apply", dir, "--kubeconfig", cs.KubeconfigPath)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, n := range []string{"t1", "t2"} {
		cm := &corev1.ConfigMap{}
		if !exists(t, cs.Get(n), cm, "shared", "settings-"+n) {
			t.Fatalf("%s: settings-%s not projected:\n%s", n, n, out)
		}
		if cm.Data["region"] != "eu" || cm.Labels["workload.kcp.io/projected"] != "true" || cm.Labels["share"] != "yes" {
			t.Errorf("%s: projected ConfigMap %+v", n, cm)
		}
		if exists(t, cs.Get(n), &corev1.ConfigMap{}, "shared", "private-"+n) {
			t.Errorf("%s: the unlabeled ConfigMap was projected", n)
		}
	}
	if exists(t, hub, &corev1.ConfigMap{}, "shared", "settings-hub") {
		t.Error("the hub is not a target (projectionEnabled: false)")
	}
	// The render names where each object came from.
	out, _, _ = tmc(t, "plan", dir, "--kubeconfig", cs.KubeconfigPath)
	if !strings.Contains(out, "Plan: 0 to create, 0 to update, 0 to delete, 4 unchanged") {
		t.Errorf("second plan:\n%s", out)
	}
}
