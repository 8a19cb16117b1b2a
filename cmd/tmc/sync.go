package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcp-dev/tmc"
)

type syncFlags struct {
	repo, branch, path, listen, workdir string
	interval, healthInterval            time.Duration
	leaderElect                         bool
	leaseDuration, shutdownGrace        time.Duration
	leaseNamespace, leaseName           string
	secretNamespaces                    []string
	auth                                tmc.GitAuth
	noPush, forceConflicts              bool
	webhookSecretFile, notifications    string
	webhookListen                       string
	shard                               bool
	shardGroup, shardID, shardAddress   string
	shardLease                          time.Duration
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
share a Lease and one syncs. SIGTERM finishes the reconcile in flight
(within --shutdown-grace-period), then releases the Lease, then stops the
HTTP server, and exits 0; a second signal cancels the reconcile. A replica
that loses its Lease stops at once and campaigns again. The clone in
--workdir is reused on restart.

With --shard, replicas of one Deployment share the workspaces: each renews a
Lease of its own, the workspaces are assigned by rendezvous hashing with
bounded loads (weighted by target clusters × objects), and each replica
reconciles — and connects to the clusters of — only its share; a replica that
dies loses its workspaces to the others within --shard-lease-duration and one
interval. The status API and page of every replica show the whole fleet.

With --cluster-inventory-namespace NS, the ClusterProfiles of NS on the home
cluster (or --cluster-inventory-kubeconfig's) are target clusters too,
reached through --cluster-access-providers; they are watched, and a profile
added, removed, relabelled or turning unhealthy changes placement within one
health interval. A failed or empty inventory read never prunes (README).

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
	cf.addConnection(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", "", "git URL (https, ssh, file://) or local path of the policy repo")
	fl.StringVar(&f.branch, "branch", "", "branch to sync (default: the remote's default branch)")
	fl.StringVar(&f.path, "path", "", "directory of the policy tree inside the repo")
	fl.DurationVar(&f.interval, "interval", 0, "sync interval (default: the Config's syncInterval)")
	fl.DurationVar(&f.healthInterval, "health-interval", 0, "cluster health check interval (default: the Config's healthCheckInterval)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address of the health, metrics and status endpoints (the status API has no authentication: listen beyond loopback only where a NetworkPolicy or proxy guards it; deploy/ sets :8080)")
	fl.StringVar(&f.workdir, "workdir", "", "directory for the clone (default: a temporary one)")
	fl.BoolVar(&f.leaderElect, "leader-elect", false, "share a Lease with other replicas so that one syncs")
	fl.StringVar(&f.leaseNamespace, "leader-elect-namespace", "", "namespace of the Lease and of the kubeconfig Secrets (default: $POD_NAMESPACE, then tmc-system)")
	fl.StringSliceVar(&f.secretNamespaces, "secret-namespace", nil, "a further namespace whose Secrets a Cluster's kubeconfig.secretRef may name (repeatable; tmc's own namespace is always allowed)")
	fl.StringVar(&f.leaseName, "leader-elect-name", "tmc-sync", "name of the Lease")
	fl.DurationVar(&f.leaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a Lease lasts without renewal; another replica takes over within it")
	fl.DurationVar(&f.shutdownGrace, "shutdown-grace-period", 90*time.Second, "on SIGTERM, how long the reconcile in flight may take before it is cancelled (keep it below the pod's terminationGracePeriodSeconds)")
	fl.StringVar(&f.auth.Username, "git-username", "", "git user for https (or @FILE)")
	fl.StringVar(&f.auth.Password, "git-password", "", "git password or token for https (or @FILE)")
	fl.StringVar(&f.auth.SSHKeyFile, "ssh-key-file", "", "private key for ssh git URLs")
	fl.StringVar(&f.auth.SSHKnownHostsFile, "ssh-known-hosts", "", "known_hosts file for ssh git URLs")
	fl.BoolVar(&f.noPush, "no-push-reports", false, "commit reports in the clone but do not push them")
	fl.BoolVar(&f.forceConflicts, "force-conflicts", true, "take fields other managers own, reverting hand edits")
	fl.StringVar(&f.webhookListen, "webhook-listen", "", "serve the webhook receiver (POST /hooks/…, and /healthz) on this address alone, not on --listen: expose it to the git host and keep --listen internal")
	fl.StringVar(&f.webhookSecretFile, "webhook-secret-file", "", "file holding the secret git hosts sign push webhooks with (or $TMC_WEBHOOK_SECRET): serves POST /hooks/{github,gitlab,gitea,forgejo,bitbucket,generic}")
	fl.StringVar(&f.notifications, "notifications", "", "file of notification providers (webhook, slack, teams, github, gitlab commit statuses); the repo's Config may route events to them by name")
	cf.inv.add(cmd, true)
	fl.BoolVar(&f.shard, "shard", false, "be one replica of several that share the workspaces (a Lease each, an ownership table; see README: sharding)")
	fl.StringVar(&f.shardGroup, "shard-group", "tmc-sync", "name of the sharded replicas' set (Leases <group>-<identity>, ConfigMap <group>-shards)")
	fl.StringVar(&f.shardID, "shard-identity", "", "this replica's name (default $POD_NAME, then the host name)")
	fl.StringVar(&f.shardAddress, "shard-address", "", "host:port where the other replicas reach this one's status API (default $POD_IP and the --listen port)")
	fl.DurationVar(&f.shardLease, "shard-lease-duration", 15*time.Second, "how long a replica's Lease lasts unrenewed: a replica that dies loses its workspaces within it and one interval")
	return cmd
}

func runSync(cmd *cobra.Command, cf *clusterFlags, f *syncFlags) error {
	// tmc's one signal handler (main.go): the first SIGTERM/SIGINT cancels
	// stop, so no new reconcile starts; the reconcile in flight finishes
	// under finish, which the grace period or a second signal cancels.
	hard := cmd.Context()
	stop := stopRequested(hard)
	finish, cancelFinish := context.WithCancel(hard)
	defer cancelFinish()
	go func() {
		select {
		case <-stop.Done():
		case <-finish.Done():
			return
		}
		t := time.NewTimer(f.shutdownGrace)
		defer t.Stop()
		select {
		case <-t.C:
			progress(cmd, "shutdown grace period (%s) over: cancelling the reconcile in flight", f.shutdownGrace)
			cancelFinish()
		case <-finish.Done():
		}
	}()
	auth, err := tmc.GitAuthFromEnv(f.auth)
	if err != nil {
		return err
	}
	opts := tmc.ManagerOptions{
		Repo: f.repo, Branch: f.branch, Path: f.path, Interval: f.interval, HealthInterval: f.healthInterval,
		Auth: auth, WorkDir: f.workdir, Cluster: cf.options(), ForceConflicts: f.forceConflicts, PushReports: !f.noPush,
		HomeKubeconfig: cf.kubeconfig, Namespace: f.leaseNamespace, SecretNamespaces: f.secretNamespaces,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(cmd.ErrOrStderr(), time.Now().UTC().Format(time.RFC3339)+" "+format+"\n", args...)
		},
	}
	if f.webhookSecretFile != "" {
		b, err := os.ReadFile(f.webhookSecretFile)
		if err != nil {
			return fmt.Errorf("--webhook-secret-file: %w", err)
		}
		opts.WebhookSecret = bytes.TrimSpace(b)
	} else if v := os.Getenv("TMC_WEBHOOK_SECRET"); v != "" {
		opts.WebhookSecret = []byte(v)
	}
	if opts.WebhookSecret != nil && len(opts.WebhookSecret) < 16 {
		return fmt.Errorf("the webhook secret must hold at least 16 bytes")
	}
	if f.webhookListen != "" {
		if opts.WebhookSecret == nil {
			return fmt.Errorf("--webhook-listen needs the webhook secret (--webhook-secret-file or $TMC_WEBHOOK_SECRET)")
		}
		if f.webhookListen == f.listen {
			return fmt.Errorf("--webhook-listen %s is --listen's address: give the receiver one of its own", f.webhookListen)
		}
		opts.WebhookApart = true
	}
	if f.notifications != "" {
		if opts.Notifications, err = tmc.LoadNotifications(f.notifications); err != nil {
			return err
		}
	}
	if iv := cf.inv; iv.set() || iv.providers != "" {
		if iv.snapshot != "" {
			return errors.New("--cluster-inventory: tmc sync watches the live inventory; use --cluster-inventory-namespace (a snapshot is for tmc render, validate and plan)")
		}
		if iv.namespace == "" {
			return errors.New("--cluster-access-providers needs --cluster-inventory-namespace (the clusterset whose ClusterProfiles to watch)")
		}
		src := &tmc.InventorySource{Namespace: iv.namespace, Kubeconfig: iv.kubeconfig, Context: iv.context}
		if iv.providers != "" {
			if src.Providers, err = tmc.ReadAccessProviders(iv.providers); err != nil {
				return err
			}
		}
		opts.ClusterInventory = src
	}
	if f.shard {
		if f.leaderElect {
			return errors.New("--shard and --leader-elect exclude each other: sharded replicas all work, each on its share")
		}
		addr := f.shardAddress
		if addr == "" {
			_, port, err := net.SplitHostPort(f.listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", f.listen, err)
			}
			host := os.Getenv("POD_IP")
			if host == "" {
				if h, _, _ := net.SplitHostPort(f.listen); h != "" && h != "0.0.0.0" && h != "::" {
					host = h
				} else {
					host, _ = os.Hostname()
				}
			}
			addr = net.JoinHostPort(host, port)
		}
		opts.Sharding = &tmc.Sharding{Group: f.shardGroup, Identity: f.shardID, Address: addr, LeaseDuration: f.shardLease}
	}
	if f.leaderElect {
		opts.LeaderElection = &tmc.LeaderElection{Name: f.leaseName, LeaseDuration: f.leaseDuration}
	}
	m, err := tmc.NewVirtualWorkspaceManager(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	var hln net.Listener
	if f.webhookListen != "" {
		if hln, err = net.Listen("tcp", f.webhookListen); err != nil {
			_ = ln.Close()
			return fmt.Errorf("--webhook-listen: %w", err)
		}
	}
	stopServing := serveHTTP(ln, m.Handler())
	progress(cmd, "serving /healthz, /readyz, /metrics and /api/v1/workspaces on %s", ln.Addr())
	if hln != nil {
		defer serveHTTP(hln, m.WebhookHandler())()
		progress(cmd, "serving the webhook receiver (POST /hooks/…) on %s alone", hln.Addr())
	}
	runErr := m.Run(stop, finish)
	// Last, stop serving (bounded): the probes and the status API answer until the work is done.
	stopServing()
	progress(cmd, "stopped serving; exiting")
	return runErr
}

// serveHTTP serves h on ln until the returned stop, which shuts the server
// down within five seconds (then closes it).
func serveHTTP(ln net.Listener, h http.Handler) (stop func()) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
	}
}
