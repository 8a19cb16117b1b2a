// Command soak runs the syncer for many intervals on three local API servers
// with a change committed every few intervals, and prints its memory and
// goroutines as it goes, so that a leak shows as a rising column:
//
//	go run ./hack/soak -intervals 250      (make bench runs it)
//
// The syncer runs in this process (the API servers are their own
// processes), so RSS is the syncer's plus this driver's small share.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/syncer"
	"github.com/kcp-dev/tmc/test/harness"
)

func main() {
	ctrllog.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	intervals := flag.Int("intervals", 250, "sync intervals to run")
	interval := flag.Duration("interval", 200*time.Millisecond, "sync and health interval")
	every := flag.Int("change-every", 5, "commit a change every this many intervals")
	objects := flag.Int("objects", 0, "extra ConfigMaps in the web-app workspace (on every target cluster), for steady-state memory per object")
	flag.Parse()
	if err := run(*intervals, *interval, *every, *objects); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func git(dir string, args ...string) error {
	out, err := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=soak", "-c", "user.email=soak@example.com"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("git %v: %v: %s", args, err, out)
	}
	return nil
}

func run(intervals int, interval time.Duration, every, objects int) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "tmc-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	names := []string{"prod-east", "prod-west", "edge-1"}
	cs, err := harness.Start(ctx, tmp, names...)
	if cs != nil {
		defer cs.Stop()
	}
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, err := cs.Get(n).CreateNode(ctx, harness.NodeSpec{Name: n + "-n1", CPU: "8", Memory: "32Gi", Pods: "110"}); err != nil {
			return err
		}
	}
	bare, work := filepath.Join(tmp, "remote.git"), filepath.Join(tmp, "work")
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", bare).CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	if err := git(tmp, "clone", "-q", bare, work); err != nil {
		return err
	}
	if err := os.CopyFS(work, os.DirFS("examples/policies")); err != nil {
		return err
	}
	change := func(i int) error {
		if err := git(work, "pull", "-q", "--rebase", "origin", "main"); err != nil && i > 0 {
			return err
		}
		cm := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: soak, namespace: web}\ndata: {round: %q}\n", fmt.Sprint(i))
		if err := os.WriteFile(filepath.Join(work, "apps/web-app/soak.yaml"), []byte(cm), 0o644); err != nil {
			return err
		}
		if err := git(work, "add", "-A"); err != nil {
			return err
		}
		if err := git(work, "commit", "-qm", fmt.Sprintf("round %d", i)); err != nil {
			return err
		}
		return git(work, "push", "-q", "origin", "main")
	}
	if objects > 0 {
		var b strings.Builder
		for i := range objects {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bulk-%05d, namespace: web}\ndata: {index: %q, payload: %q}\n", i, fmt.Sprint(i), strings.Repeat("x", 256))
		}
		if err := os.WriteFile(filepath.Join(work, "apps/web-app/bulk.yaml"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	if err := change(0); err != nil {
		return err
	}
	var reconciles atomic.Int64
	opts := cluster.DefaultOptions()
	opts.Kubeconfig = cs.KubeconfigPath
	s := syncer.New(syncer.Options{
		Repo: bare, Branch: "main", Interval: interval, HealthInterval: interval, WorkDir: filepath.Join(tmp, "workdir"),
		Cluster: opts, ForceConflicts: true, PushReports: true,
		Logf: func(format string, args ...any) {
			if strings.HasPrefix(format, "reconcile of revision") {
				reconciles.Add(1)
			}
		},
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, ctx) }()
	fmt.Printf("soak: %d intervals of %s on 3 API servers, a commit every %d intervals, %d extra objects per cluster\n\n", intervals, interval, every, objects)
	fmt.Printf("%9s %11s %10s %10s %11s\n", "interval", "reconciles", "RSS MiB", "heap MiB", "goroutines")
	var first, last sample
	for i := 1; i <= intervals; i++ {
		time.Sleep(interval)
		if i%every == 0 {
			if err := change(i); err != nil {
				fmt.Fprintln(os.Stderr, "soak: change:", err) // a push race with the syncer's reports: next round
			}
		}
		if i == 25 || i%25 == 0 || i == intervals {
			sm := measure()
			if i == 25 {
				first = sm
			}
			last = sm
			fmt.Printf("%9d %11d %10.1f %10.1f %11d\n", i, reconciles.Load(), sm.rss, sm.heap, sm.goroutines)
		}
	}
	stop()
	if err := <-done; err != nil {
		return err
	}
	fmt.Printf("\nfrom interval 25 to %d: RSS %+.1f MiB, heap %+.1f MiB, goroutines %+d\n", intervals, last.rss-first.rss, last.heap-first.heap, last.goroutines-first.goroutines)
	return nil
}

type sample struct {
	rss, heap  float64
	goroutines int
}

func measure() sample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sm := sample{heap: float64(ms.HeapInuse) / (1 << 20), goroutines: runtime.NumGoroutine()}
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				var kb float64
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "%f", &kb)
				sm.rss = kb / 1024
			}
		}
	}
	return sm
}
