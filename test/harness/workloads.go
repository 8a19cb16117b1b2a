package harness

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
)

//go:embed kwok-stages.yaml
var kwokStages []byte

// Controllers are the kube-controller-manager controllers a workload
// cluster runs: enough for Deployments, StatefulSets, DaemonSets and Jobs to
// create their Pods and report status, for garbage collection and for
// namespaces to be deleted. The node-lifecycle controller stays off: kwok's
// Nodes send no heartbeats.
var Controllers = []string{
	"deployment-controller", "replicaset-controller", "statefulset-controller", "daemonset-controller",
	"job-controller", "cronjob-controller", "garbage-collector-controller", "serviceaccount-controller",
	"namespace-controller", "endpointslice-controller", "pod-garbage-collector-controller",
	"ttl-after-finished-controller", "disruption-controller",
}

// KwokNodeAnnotation marks the Nodes kwok simulates.
const KwokNodeAnnotation = "kwok.x-k8s.io/node"

// Workloads are the processes that make a cluster run workloads:
// kube-controller-manager, kube-scheduler and kwok.
type Workloads struct {
	procs []*exec.Cmd
	dir   string
}

// StartWorkloads starts kube-controller-manager, kube-scheduler and kwok
// against the cluster, built by `make envtest` beside kube-apiserver. Their
// logs go to dir. kwok simulates the kubelets of the Nodes that carry the
// KwokNodeAnnotation (CreateWorkerNodes): Pods are scheduled there and
// become Ready at once. Stop them with Stop; they also die with this process.
func (c *Cluster) StartWorkloads(ctx context.Context, dir string) (*Workloads, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	for _, b := range []string{"kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make envtest`", b, assets)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	kc := filepath.Join(dir, c.Name+".kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig([]*Cluster{c}), kc); err != nil {
		return nil, err
	}
	stages := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o644); err != nil {
		return nil, err
	}
	w := &Workloads{dir: dir}
	cmds := [][]string{
		{"kube-controller-manager", "--kubeconfig=" + kc, "--secure-port=0", "--leader-elect=false",
			"--controllers=" + strings.Join(Controllers, ","), "--use-service-account-credentials=false",
			"--kube-api-qps=100", "--kube-api-burst=200", "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10", "-v=1"},
		{"kube-scheduler", "--kubeconfig=" + kc, "--secure-port=0", "--leader-elect=false", "--kube-api-qps=100", "--kube-api-burst=200", "-v=1"},
		{"kwok", "--kubeconfig=" + kc, "--config=" + stages, "--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=fake", "--node-lease-duration-seconds=0", "--node-ip=10.0.0.1", "--cidr=10.244.0.0/16"},
	}
	for _, args := range cmds {
		log, err := os.Create(filepath.Join(dir, c.Name+"-"+args[0]+".log"))
		if err != nil {
			w.Stop()
			return nil, err
		}
		cmd := exec.Command(filepath.Join(assets, args[0]), args[1:]...)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			log.Close()
			w.Stop()
			return nil, fmt.Errorf("cluster %s: start %s: %w", c.Name, args[0], err)
		}
		log.Close()
		w.procs = append(w.procs, cmd)
	}
	return w, nil
}

// Stop stops the processes: SIGTERM, then SIGKILL after 10 seconds.
func (w *Workloads) Stop() {
	if w == nil {
		return
	}
	for _, p := range w.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range w.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	w.procs = nil
}

// PIDs are the processes' ids (kube-controller-manager, kube-scheduler, kwok), for measuring them.
func (w *Workloads) PIDs() []int {
	var out []int
	for _, p := range w.procs {
		out = append(out, p.Process.Pid)
	}
	return out
}

// StartWorkloadsT starts the workload processes of every cluster for a test
// and stops them when it ends; their logs are printed when the test fails.
func (cs *Clusters) StartWorkloadsT(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	for _, c := range cs.Clusters {
		w, err := c.StartWorkloads(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			w.Stop()
			if t.Failed() {
				logs, _ := filepath.Glob(filepath.Join(dir, c.Name+"-*.log"))
				for _, l := range logs {
					b, _ := os.ReadFile(l)
					if len(b) > 4000 {
						b = b[len(b)-4000:]
					}
					t.Logf("%s (tail):\n%s", filepath.Base(l), b)
				}
			}
		})
	}
}

// CreateWorkerNodes creates Nodes that kwok simulates, with the capacity of
// spec (names spec.Name-1 … spec.Name-n). The API server taints a new Node
// not-ready until a kubelet reports; the node-lifecycle controller that
// would lift it is off, so the taint is removed here.
func (c *Cluster) CreateWorkerNodes(ctx context.Context, spec NodeSpec, n int) error {
	for i := 1; i <= n; i++ {
		s := spec
		s.Name = fmt.Sprintf("%s-%d", spec.Name, i)
		s.Labels = map[string]string{"type": "kwok", "kubernetes.io/hostname": s.Name}
		for k, v := range spec.Labels {
			s.Labels[k] = v
		}
		// kwok takes the Node once it is Ready with its capacity and
		// untainted: otherwise kwok's node-initialize stage would race to
		// write its own (unbounded) capacity.
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Labels: s.Labels}}
		if _, err := c.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("cluster %s: create Node %s: %w", c.Name, s.Name, err)
		}
		if err := c.setNodeStatus(ctx, s); err != nil {
			return err
		}
		if err := c.untaint(ctx, s.Name); err != nil {
			return err
		}
		patch := []byte(`{"metadata":{"annotations":{"` + KwokNodeAnnotation + `":"fake"}}}`)
		if _, err := c.Clientset.CoreV1().Nodes().Patch(ctx, s.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("cluster %s: hand Node %s to kwok: %w", c.Name, s.Name, err)
		}
	}
	return nil
}

func (c *Cluster) untaint(ctx context.Context, name string) error {
	for range 50 {
		node, err := c.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var keep []corev1.Taint
		for _, t := range node.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady && t.Key != corev1.TaintNodeUnreachable {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(node.Spec.Taints) {
			return nil
		}
		node.Spec.Taints = keep
		_, err = c.Clientset.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("cluster " + c.Name + ": could not untaint Node " + name)
}
