package e2e

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kcp-dev/tmc/test/harness"
)

// TestThreeDistinctClusters starts three real API servers and checks that the
// harness kubeconfig reaches each through its own context, that they are
// distinct (an object in one is absent from the others), and that Nodes carry
// the capacity the test gave them.
func TestThreeDistinctClusters(t *testing.T) {
	ctx := context.Background()
	names := []string{"prod-east", "prod-west", "edge-1"}
	cs := harness.StartT(t, names...)

	cpus := map[string]string{"prod-east": "16", "prod-west": "8", "edge-1": "2"}
	hosts := map[string]bool{}
	for _, name := range names {
		// Reach the cluster through the written kubeconfig, as tmc will.
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: cs.KubeconfigPath},
			&clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
		if err != nil {
			t.Fatalf("%s: kubeconfig: %v", name, err)
		}
		hosts[cfg.Host] = true
		kc := kubernetes.NewForConfigOrDie(cfg)
		v, err := kc.Discovery().ServerVersion()
		if err != nil {
			t.Fatalf("%s: server version: %v", name, err)
		}
		if v.GitVersion != "v1.37.2" {
			t.Errorf("%s: server version %q, want v1.37.2", name, v.GitVersion)
		}
		if _, err := cs.Get(name).CreateNode(ctx, harness.NodeSpec{Name: name + "-node-1", CPU: cpus[name], Memory: "16Gi", Pods: "110"}); err != nil {
			t.Fatal(err)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-" + name}}
		if _, err := kc.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if len(hosts) != 3 {
		t.Fatalf("want 3 distinct API servers, got %v", hosts)
	}
	for _, name := range names {
		kc := cs.Get(name).Clientset
		nodes, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range nodes.Items {
			q := n.Status.Allocatable[corev1.ResourceCPU]
			got = append(got, n.Name+"="+q.String())
		}
		if diff := cmp.Diff([]string{name + "-node-1=" + cpus[name]}, got); diff != "" {
			t.Errorf("%s nodes (-want +got):\n%s", name, diff)
		}
		for _, other := range names {
			_, err := kc.CoreV1().Namespaces().Get(ctx, "only-in-"+other, metav1.GetOptions{})
			switch {
			case other == name && err != nil:
				t.Errorf("%s: own namespace: %v", name, err)
			case other != name && !apierrors.IsNotFound(err):
				t.Errorf("%s: namespace of %s should not exist here, got err=%v", name, other, err)
			}
		}
	}
}
