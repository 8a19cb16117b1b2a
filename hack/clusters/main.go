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
	"net/url"
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
	cuttable := flag.String("cuttable", "", "a cluster reached through a proxy that SIGUSR1 cuts (unreachable) and SIGUSR2 restores")
	flag.Parse()
	if err := run(*kubeconfig, *ready, *workloads, *cuttable, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "clusters:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, ready string, workloads bool, cuttable string, args []string) error {
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
		if err := os.MkdirAll(filepath.Dir(kubeconfig), 0o755); err != nil {
			return err
		}
		servers := map[string]string{}
		if c := cs.Get(cuttable); c != nil {
			u, err := url.Parse(c.Config.Host)
			if err != nil {
				return err
			}
			proxy, err := harness.NewProxy(u.Host)
			if err != nil {
				return err
			}
			defer proxy.Close()
			servers[cuttable] = "https://" + proxy.Addr
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
			go func() {
				for s := range sig {
					if s == syscall.SIGUSR1 {
						proxy.Cut()
						fmt.Fprintf(os.Stderr, "%s cut: unreachable\n", cuttable)
					} else if err := proxy.Restore(); err == nil {
						fmt.Fprintf(os.Stderr, "%s restored\n", cuttable)
					}
				}
			}()
		}
		if err := cs.WriteKubeconfig(kubeconfig, servers); err != nil {
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
