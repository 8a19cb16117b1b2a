package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/kcp-dev/tmc/test/harness"
)

// TestWaitAndImmutableFields: --wait reports objects that do not become
// ready in time; an immutable-field change is reported, and --force recreates.
func TestWaitAndImmutableFields(t *testing.T) {
	cs := harness.StartT(t, "one")
	repo := t.TempDir()
	deploy := func(selector string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: default}\nspec:\n  selector: {matchLabels: {app: " + selector + "}}\n  template:\n    metadata: {labels: {app: " + selector + "}}\n    spec: {containers: [{name: api, image: registry.local/api:v1}]}\n"
	}
	write := func(name, content string) {
		p := filepath.Join(repo, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("policies.yaml", "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: one}\n---\napiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: ws}\nspec:\n  sources: [{path: app}]\n")
	write("app/deploy.yaml", deploy("api"))
	// envtest runs no controllers: the Deployment never becomes ready, and --wait says so.
	out, errOut, code := tmc(t, "apply", repo, "--kubeconfig", cs.KubeconfigPath, "--wait", "--timeout", "3s")
	if code != 1 || !strings.Contains(out, "wait:") || !strings.Contains(out, "Deployment/default/api") {
		t.Fatalf("apply --wait: exit %d\n%s\n%s", code, out, errOut)
	}
	write("app/deploy.yaml", deploy("api-v2"))
	out, _, code = tmc(t, "apply", repo, "--kubeconfig", cs.KubeconfigPath)
	if code != 1 || !strings.Contains(out, "Deployment/default/api: apply failed:") || !strings.Contains(out, "field is immutable") || !strings.Contains(out, "--force") {
		t.Fatalf("immutable change: exit %d\n%s", code, out)
	}
	out, _, code = tmc(t, "apply", repo, "--kubeconfig", cs.KubeconfigPath, "--force")
	if code != 0 {
		t.Fatalf("apply --force: exit %d\n%s", code, out)
	}
	d := &appsv1.Deployment{}
	if !exists(t, cs.Get("one"), d, "default", "api") || d.Spec.Selector.MatchLabels["app"] != "api-v2" {
		t.Errorf("the Deployment was not recreated with the new selector: %+v", d.Spec.Selector)
	}
}
