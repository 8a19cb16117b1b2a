package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/test/harness"
)

// TestApplyCrashSafeInventory kills `tmc apply` of 1,000 ConfigMaps on
// three real API servers with SIGKILL at several points (before, during
// and late in the applies). Because each inventory records the objects
// about to be applied before any is, an apply of the tree without them
// then prunes every one on every cluster — and nothing else: a ConfigMap
// tmc never applied and one git still holds stay.
func TestApplyCrashSafeInventory(t *testing.T) {
	ctx := context.Background()
	names := []string{"k1", "k2", "k3"}
	cs := harness.StartT(t, names...)
	h := "apiVersion: tmc.kcp.io/v1alpha1\n"
	var many strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&many, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%04d, namespace: default}\ndata: {i: \"%d\"}\n", i, i)
	}
	files := map[string]string{
		"config.yaml":   h + "kind: Config\nmetadata: {name: tmc}\nspec: {aggregationEnabled: false}\n",
		"clusters.yaml": h + "kind: Cluster\nmetadata: {name: k1}\n---\n" + h + "kind: Cluster\nmetadata: {name: k2}\n---\n" + h + "kind: Cluster\nmetadata: {name: k3}\n",
		"ws.yaml":       h + "kind: VirtualWorkspace\nmetadata: {name: bulk}\nspec:\n  sources: [{path: app}]\n",
		"app/keep.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keeper, namespace: default}\ndata: {a: b}\n",
		"app/many.yaml": many.String(),
	}
	dir := t.TempDir()
	writeRepo(t, dir, files)
	for _, n := range names {
		by := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "bystander"}, Data: map[string]string{"a": "b"}}
		if err := cs.Get(n).Client.Create(ctx, by); err != nil {
			t.Fatal(err)
		}
	}
	count := func(n string) int {
		var l corev1.ConfigMapList
		if err := cs.Get(n).Client.List(ctx, &l, client.InNamespace("default")); err != nil {
			t.Fatal(err)
		}
		c := 0
		for _, cm := range l.Items {
			if strings.HasPrefix(cm.Name, "cm-") {
				c++
			}
		}
		return c
	}
	for _, after := range []time.Duration{300 * time.Millisecond, 1500 * time.Millisecond, 3500 * time.Millisecond} {
		cmd := exec.Command(tmcBin, "apply", dir, "--kubeconfig", cs.KubeconfigPath)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		_ = cmd.Process.Kill() // SIGKILL: no deferred write, no cleanup
		_ = cmd.Wait()
		var got []string
		for _, n := range names {
			got = append(got, fmt.Sprintf("%s=%d", n, count(n)))
		}
		t.Logf("killed after %v: ConfigMaps applied %s", after, strings.Join(got, " "))
	}
	total := 0
	for _, n := range names {
		total += count(n)
	}
	if total == 0 {
		t.Fatal("no kill landed during the applies: the test proves nothing (the first apply should have created some ConfigMaps)")
	}
	// The tree without the 1,000: one apply prunes exactly them.
	writeRepo(t, dir, map[string]string{"app/many.yaml": "# emptied\n"})
	if out, errOut, code := tmc(t, "apply", dir, "--kubeconfig", cs.KubeconfigPath); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, n := range names {
		if c := count(n); c != 0 {
			t.Errorf("%s: %d ConfigMaps of the killed applies remain: orphans no prune will remove", n, c)
		}
		for _, keep := range []string{"bystander", "keeper"} {
			if !exists(t, cs.Get(n), &corev1.ConfigMap{}, "default", keep) {
				t.Errorf("%s: %s was deleted", n, keep)
			}
		}
	}
}
