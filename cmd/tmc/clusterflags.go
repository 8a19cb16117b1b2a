package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kcp-dev/tmc"
)

// clusterFlags are the flags of every command that talks to clusters.
type clusterFlags struct {
	kubeconfig         string
	qps                float32
	burst              int
	timeout            time.Duration
	allowExec          bool
	insecure           bool
	workspace, cluster string
	perCluster         int
	inv                inventoryFlags
}

func (f *clusterFlags) add(cmd *cobra.Command) {
	f.addConnection(cmd)
	cmd.Flags().StringVar(&f.workspace, "workspace", "", "only this workspace")
	cmd.Flags().StringVar(&f.cluster, "cluster", "", "only this cluster")
	cmd.Flags().IntVar(&f.perCluster, "per-cluster-concurrency", 16, "requests in flight to one cluster")
	f.inv.add(cmd, true)
}

// addConnection registers only the flags that say how clusters are reached
// (tmc sync reads no others).
func (f *clusterFlags) addConnection(cmd *cobra.Command) {
	d := tmc.DefaultClusterOptions()
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config); each Cluster uses the context its kubeconfig names")
	cmd.Flags().Float32Var(&f.qps, "qps", d.QPS, "client-side requests per second per cluster")
	cmd.Flags().IntVar(&f.burst, "burst", d.Burst, "client-side request burst per cluster")
	cmd.Flags().DurationVar(&f.timeout, "request-timeout", d.Timeout, "timeout of one API request")
	cmd.Flags().BoolVar(&f.allowExec, "allow-exec-plugins", false, "allow kubeconfig users that run credential plugins")
	cmd.Flags().BoolVar(&f.insecure, "insecure-skip-tls-verify", false, "allow kubeconfig clusters that skip TLS verification")
}

func (f *clusterFlags) options() tmc.ClusterOptions {
	inFlight := f.perCluster
	if inFlight <= 0 {
		inFlight = tmc.DefaultClusterOptions().MaxInFlight
	}
	return tmc.ClusterOptions{Kubeconfig: f.kubeconfig, QPS: f.qps, Burst: f.burst, Timeout: f.timeout, AllowExecPlugins: f.allowExec, InsecureSkipTLSVerify: f.insecure, MaxInFlight: inFlight}
}

// open loads DIR, connects to its clusters and renders with their live facts.
func (f *clusterFlags) open(ctx context.Context, cmd *cobra.Command, dir string) (*tmc.Session, error) {
	p, inv, err := f.inv.load(cmd, dir, f.kubeconfig, true)
	if err != nil {
		return nil, err
	}
	progress(cmd, "reading facts of %d clusters...", len(p.Clusters))
	o := f.options()
	if inv != nil {
		o.Access = inv.RESTConfig
	}
	s, err := (&tmc.Repo{Policies: p}).Connect(ctx, tmc.ConnectOptions{Cluster: o, Workspace: f.workspace, ClusterName: f.cluster})
	if err != nil {
		if list, ok := err.(tmc.ErrorList); ok {
			printErrors(cmd.ErrOrStderr(), list)
			return nil, &exitCodeError{code: exitError, silent: true}
		}
		return nil, err
	}
	return s, nil
}

// progress writes a progress line to stderr.
func progress(cmd *cobra.Command, format string, args ...any) {
	fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...)
}

// colorful reports whether w is a terminal and NO_COLOR is not set.
func colorful(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	if ts, ok := w.(*termSafe); ok {
		w = ts.Unwrap()
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
