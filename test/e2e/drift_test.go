package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/plan"
	"github.com/kcp-dev/tmc/test/harness"
)

// TestDriftReportOnly: a workspace with spec.drift: Report keeps a hand
// edit, and its plan names who made it; with the default (Correct) the same
// edit is reverted and named as drift.
func TestDriftReportOnly(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "solo")
	dir := t.TempDir()
	write := func(mode string) {
		pol := "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: solo}\n---\n" +
			"apiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: settings}\nspec:\n  sources: [{path: app}]\n  drift: " + mode + "\n"
		if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"policies.yaml": pol, "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {level: info}\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	level := func() string {
		cm := &corev1.ConfigMap{}
		if err := cs.Get("solo").Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "settings"}, cm); err != nil {
			t.Fatal(err)
		}
		return cm.Data["level"]
	}
	edit := func() {
		cm := &corev1.ConfigMap{}
		if err := cs.Get("solo").Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "settings"}, cm); err != nil {
			t.Fatal(err)
		}
		cm.Data["level"] = "debug"
		if err := cs.Get("solo").Client.Update(ctx, cm, client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatal(err)
		}
	}
	planJSON := func() *plan.Plan {
		out, errOut, _ := tmc(t, "plan", "-o", "json", dir, "--kubeconfig", cs.KubeconfigPath)
		var p plan.Plan
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("plan: %v\n%s\n%s", err, out, errOut)
		}
		return &p
	}
	write("Report")
	if out, errOut, code := tmc(t, "apply", dir, "--kubeconfig", cs.KubeconfigPath); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	edit()
	p := planJSON()
	var cm *plan.Change
	for _, ch := range p.Changes {
		if ch.Kind == "ConfigMap" {
			cm = ch
		}
	}
	if cm == nil || !cm.DriftReported || cm.Drift == nil || cm.Drift.Manager != "kubectl-edit" || cm.Action != plan.Skip || p.Summary.DriftReported != 1 || p.Summary.Skip != 0 {
		t.Fatalf("Report mode: change %+v, summary %+v", cm, p.Summary)
	}
	if out, errOut, code := tmc(t, "apply", dir, "--kubeconfig", cs.KubeconfigPath); code != 0 || level() != "debug" {
		t.Fatalf("Report mode must leave the edit: exit %d, level %q\n%s\n%s", code, level(), out, errOut)
	}

	write("Correct")
	p = planJSON()
	if p.Summary.Update != 1 || p.Summary.Drifted != 1 {
		t.Fatalf("Correct mode: summary %+v", p.Summary)
	}
	text, _, _ := tmc(t, "plan", dir, "--kubeconfig", cs.KubeconfigPath)
	if !strings.Contains(text, "drift: ConfigMap/default/settings on solo: the update reverts an edit by kubectl-edit at ") {
		t.Errorf("plan text does not name the drift:\n%s", text)
	}
	// The edit made kubectl-edit the field's owner: taking it back needs --force-conflicts (tmc sync uses it).
	if out, errOut, code := tmc(t, "apply", dir, "--kubeconfig", cs.KubeconfigPath, "--force-conflicts"); code != 0 || level() != "info" {
		t.Fatalf("Correct mode must revert: exit %d, level %q\n%s\n%s", code, level(), out, errOut)
	}
}
