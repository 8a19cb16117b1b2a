package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	tmcsync "github.com/kcp-dev/tmc/internal/sync"
)

type syncFlags struct {
	repo, branch, path, listen, workdir string
	interval, healthInterval            time.Duration
	leaderElect                         bool
	leaseNamespace, leaseName           string
	auth                                tmcsync.GitAuth
	noPush, forceConflicts              bool
}

func newSyncCommand() *cobra.Command {
	var cf clusterFlags
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync --repo URL|DIR",
		Short: "Keep every target cluster converged with a git repo, continuously",
		Long: `sync clones the repo and, every syncInterval (the Config's, or --interval)
and on every new revision, runs render → plan → apply → aggregate → report for
every workspace, at most maxWorkers at once. A revision that fails validation
is not applied: the last good one keeps running and the error is reported.
Cluster health is probed every healthCheckInterval; a cluster that returns is
reconciled at once. Hand edits of fields tmc manages are reverted (as Flux
does; --force-conflicts=false reports them instead).

HTTP on --listen: /healthz, /readyz, /metrics, /api/v1/workspaces and
/api/v1/workspaces/{logicalCluster}/{name}. With --leader-elect, replicas
share a Lease and one syncs. SIGTERM finishes the reconcile in flight,
releases the Lease and exits; a second signal cancels it.

Git credentials: --git-username/--git-password (a value @FILE is read from
FILE; TMC_GIT_USERNAME, TMC_GIT_PASSWORD or TMC_GIT_TOKEN in the environment),
or --ssh-key-file with --ssh-known-hosts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.repo == "" {
				return errors.New("--repo is required")
			}
			return runSync(cmd, &cf, &f)
		},
	}
	cf.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", "", "git URL (https, ssh, file://) or local path of the policy repo")
	fl.StringVar(&f.branch, "branch", "", "branch to sync (default: the remote's default branch)")
	fl.StringVar(&f.path, "path", "", "directory of the policy tree inside the repo")
	fl.DurationVar(&f.interval, "interval", 0, "sync interval (default: the Config's syncInterval)")
	fl.DurationVar(&f.healthInterval, "health-interval", 0, "cluster health check interval (default: the Config's healthCheckInterval)")
	fl.StringVar(&f.listen, "listen", ":8080", "address of the health, metrics and status endpoints")
	fl.StringVar(&f.workdir, "workdir", "", "directory for the clone (default: a temporary one)")
	fl.BoolVar(&f.leaderElect, "leader-elect", false, "share a Lease with other replicas so that one syncs")
	fl.StringVar(&f.leaseNamespace, "leader-elect-namespace", "", "namespace of the Lease (default: $POD_NAMESPACE, then tmc-system)")
	fl.StringVar(&f.leaseName, "leader-elect-name", "tmc-sync", "name of the Lease")
	fl.StringVar(&f.auth.Username, "git-username", "", "git user for https (or @FILE)")
	fl.StringVar(&f.auth.Password, "git-password", "", "git password or token for https (or @FILE)")
	fl.StringVar(&f.auth.SSHKeyFile, "ssh-key-file", "", "private key for ssh git URLs")
	fl.StringVar(&f.auth.SSHKnownHostsFile, "ssh-known-hosts", "", "known_hosts file for ssh git URLs")
	fl.BoolVar(&f.noPush, "no-push-reports", false, "commit reports in the clone but do not push them")
	fl.BoolVar(&f.forceConflicts, "force-conflicts", true, "take fields other managers own, reverting hand edits")
	return cmd
}

func podNamespace(flag string) string {
	if flag != "" {
		return flag
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "tmc-system"
}

// homeConfig reaches the cluster tmc runs in: in-cluster, else the kubeconfig's current context.
func homeConfig(cf *clusterFlags) (*rest.Config, error) {
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cf.kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
}

func runSync(cmd *cobra.Command, cf *clusterFlags, f *syncFlags) error {
	// First signal: stop after the reconcile in flight; second: cancel it too.
	loopCtx, stopLoop := context.WithCancel(cmd.Context())
	finishCtx, cancelAll := context.WithCancel(context.Background())
	defer stopLoop()
	defer cancelAll()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		progress(cmd, "signal received: finishing the reconcile in flight (again to cancel it)")
		stopLoop()
		<-sigs
		cancelAll()
	}()
	auth, err := tmcsync.AuthFromEnvAndFiles(f.auth)
	if err != nil {
		return err
	}
	copts := cf.options()
	ns := podNamespace(f.leaseNamespace)
	var home kubernetes.Interface
	if cfg, err := homeConfig(cf); err == nil {
		home, _ = kubernetes.NewForConfig(cfg)
	}
	if home != nil {
		copts.SecretKubeconfig = func(ctx context.Context, namespace, name, key string) ([]byte, error) {
			if namespace == "" {
				namespace = ns
			}
			sec, err := home.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			data, ok := sec.Data[key]
			if !ok {
				return nil, fmt.Errorf("no key %q in Secret %s/%s", key, namespace, name)
			}
			return data, nil
		}
	}
	s := tmcsync.New(tmcsync.Options{
		Repo: f.repo, Branch: f.branch, Path: f.path, Interval: f.interval, HealthInterval: f.healthInterval,
		Auth: auth, WorkDir: f.workdir, Cluster: copts, ForceConflicts: f.forceConflicts, PushReports: !f.noPush,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(cmd.ErrOrStderr(), time.Now().UTC().Format(time.RFC3339)+" "+format+"\n", args...)
		},
	})
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())
	progress(cmd, "serving /healthz, /readyz, /metrics and /api/v1/workspaces on %s", ln.Addr())
	if !f.leaderElect {
		return s.Run(loopCtx, finishCtx)
	}
	if home == nil {
		return errors.New("--leader-elect needs the cluster tmc runs in (in-cluster config or --kubeconfig)")
	}
	host, _ := os.Hostname()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: f.leaseName, Namespace: ns},
		Client:     home.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: host + "_" + rand.String(8)},
	}
	var runErr error
	leaderelection.RunOrDie(loopCtx, leaderelection.LeaderElectionConfig{
		Lock: lock, ReleaseOnCancel: true, Name: f.leaseName,
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				progress(cmd, "leading (Lease %s/%s)", ns, f.leaseName)
				runErr = s.Run(ctx, finishCtx)
				stopLoop()
			},
			OnStoppedLeading: func() { progress(cmd, "stopped leading") },
		},
	})
	return runErr
}
