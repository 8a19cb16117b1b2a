// Command clusters starts local Kubernetes API servers (kube-apiserver and
// etcd, see test/harness) for the demo, writes a kubeconfig with one context
// per cluster, gives each cluster a Node with the capacity its name asks for,
// and keeps them running until interrupted.
//
//	go run ./hack/clusters -out /tmp/tmc-demo/kubeconfig prod-east=16 prod-west=8 edge-1=2
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kcp-dev/tmc/test/harness"
)

func main() {
	// controller-runtime warns on stderr unless its logger is set; tmc reports errors itself.
	ctrllog.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	kubeconfig := flag.String("out", "", "where to write the kubeconfig (default: a temp dir)")
	ready := flag.String("ready-file", "", "file to create once every cluster is up")
	workloads := flag.Bool("workloads", true, "run kube-controller-manager, kube-scheduler and kwok so that Deployments roll out on simulated Nodes")
	flag.Parse()
	if err := run(*kubeconfig, *ready, *workloads, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "clusters:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, ready string, workloads bool, args []string) error {
	if len(args) == 0 {
		args = []string{"prod-east=16", "prod-west=8", "edge-1=2"}
	}
	var names []string
	cpus := map[string]string{}
	for _, a := range args {
		name, cpu, ok := strings.Cut(a, "=")
		if !ok {
			cpu = "4"
		}
		names = append(names, name)
		cpus[name] = cpu
	}
	dir, err := os.MkdirTemp("", "tmc-clusters-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "starting %d API servers: %s\n", len(names), strings.Join(names, ", "))
	cs, err := harness.Start(ctx, dir, names...)
	defer func() {
		fmt.Fprintln(os.Stderr, "stopping API servers")
		_ = cs.Stop()
	}()
	if err != nil {
		return err
	}
	for _, n := range names {
		spec := harness.NodeSpec{Name: n + "-node", CPU: cpus[n], Memory: "32Gi", Pods: "110"}
		if !workloads {
			spec.Name += "-1"
			if _, err := cs.Get(n).CreateNode(ctx, spec); err != nil {
				return err
			}
			continue
		}
		w, err := cs.Get(n).StartWorkloads(ctx, filepath.Join(dir, "logs"))
		if err != nil {
			return err
		}
		defer w.Stop()
		if err := cs.Get(n).CreateWorkerNodes(ctx, spec, 1); err != nil {
			return err
		}
	}
	path := cs.KubeconfigPath
	if kubeconfig != "" {
		data, err := os.ReadFile(cs.KubeconfigPath)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(kubeconfig), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
			return err
		}
		path = kubeconfig
	}
	fmt.Fprintf(os.Stderr, "clusters are up; kubeconfig: %s (Ctrl-C stops them)\n", path)
	if ready != "" {
		if err := os.WriteFile(ready, []byte(path+"\n"), 0o644); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}
