package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kcp-dev/tmc/test/harness"
)

// shardReplica is one `tmc sync --shard` process.
type shardReplica struct {
	id   string
	api  syncAPI
	cmd  *exec.Cmd
	logs *safeBuffer
}

var ownedRE = regexp.MustCompile(`(?m)^tmc_shard_owned\{logical_cluster="root",workspace="([^"]+)"\} 1$`)
var reconcilesRE = regexp.MustCompile(`(?m)^tmc_shard_workspace_reconciles_total\{logical_cluster="root",workspace="([^"]+)"\} (\S+)$`)

// owned is what the replica says it owns, from its metrics.
func (r *shardReplica) owned() []string {
	_, body := r.api.get("/metrics", nil)
	var out []string
	for _, m := range ownedRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

func (r *shardReplica) reconciles() map[string]float64 {
	_, body := r.api.get("/metrics", nil)
	out := map[string]float64{}
	for _, m := range reconcilesRE.FindAllStringSubmatch(body, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		out[m[1]] = v
	}
	return out
}

// TestShardedSync: three `tmc sync --shard` replicas share nine workspaces
// over three real API servers — all converge, each workspace is reconciled
// by exactly one replica (the replicas' metrics); a replica killed with
// SIGKILL loses its workspaces to the others within the lease duration and
// an interval, and tmc_unowned_workspaces returns to 0; a fourth replica
// takes about a quarter, and at no sample do two replicas own one
// workspace; every replica's status API shows the whole fleet; the reports
// of all nine reach the remote though three replicas push them.
func TestShardedSync(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "home", "m1", "m2", "m3")
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	files := map[string]string{"clusters.yaml": ""}
	for _, m := range []string{"m1", "m2", "m3"} {
		files["clusters.yaml"] += "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: " + m + "}\n"
	}
	workspace := func(i int, greeting string) {
		a, b := fmt.Sprintf("m%d", i%3+1), fmt.Sprintf("m%d", (i+1)%3+1)
		files[fmt.Sprintf("ws-%d.yaml", i)] = fmt.Sprintf("apiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: ws-%d}\nspec:\n  placement: {clusters: [%s, %s]}\n  sources: [{path: apps/ws-%d}]\n", i, a, b, i)
		files[fmt.Sprintf("apps/ws-%d/cm.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ws-%d, namespace: default}\ndata: {greeting: %s}\n", i, greeting)
	}
	for i := 1; i <= 9; i++ {
		workspace(i, "hello")
	}
	writeAll := func() {
		for rel, content := range files {
			p := filepath.Join(repo, rel)
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeAll()
	gitInit(t, repo)
	remote := filepath.Join(dir, "remote.git")
	gitCLI(t, dir, "clone", "-q", "--bare", repo, remote)
	gitCLI(t, repo, "remote", "add", "origin", remote)

	var mu sync.Mutex
	var reps []*shardReplica
	start := func(id string) *shardReplica {
		addr := freePort(t)
		cmd, logs := startTMC(t, "tmc sync "+id, "sync", "--repo", remote, "--branch", "main", "--kubeconfig", cs.KubeconfigPath, "--workdir", t.TempDir(),
			"--listen", addr, "--interval", "2s", "--health-interval", "2s", "--request-timeout", "5s", "--leader-elect-namespace", "default",
			"--shard", "--shard-identity", id, "--shard-lease-duration", "4s")
		r := &shardReplica{id: id, api: syncAPI{base: "http://" + addr}, cmd: cmd, logs: logs}
		mu.Lock()
		reps = append(reps, r)
		mu.Unlock()
		return r
	}
	live := func() []*shardReplica {
		mu.Lock()
		defer mu.Unlock()
		var out []*shardReplica
		for _, r := range reps {
			if r.cmd.ProcessState == nil {
				out = append(out, r)
			}
		}
		return out
	}
	ownership := func() (map[string][]string, int) {
		by := map[string][]string{}
		n := 0
		for _, r := range live() {
			for _, w := range r.owned() {
				by[w] = append(by[w], r.id)
				n++
			}
		}
		return by, n
	}
	greetings := func(want string) (bool, string) {
		var bad []string
		for i := 1; i <= 9; i++ {
			for _, m := range []string{fmt.Sprintf("m%d", i%3+1), fmt.Sprintf("m%d", (i+1)%3+1)} {
				cm := &corev1.ConfigMap{}
				if err := cs.Get(m).Client.Get(ctx, objectKey("default", fmt.Sprintf("ws-%d", i)), cm); err != nil || cm.Data["greeting"] != want {
					bad = append(bad, fmt.Sprintf("%s/ws-%d", m, i))
				}
			}
		}
		return len(bad) == 0, strings.Join(bad, " ")
	}
	commit := func(greeting string) {
		gitCLI(t, repo, "pull", "-q", "--rebase", "origin", "main") // the replicas' report commits
		for i := 1; i <= 9; i++ {
			workspace(i, greeting)
		}
		writeAll()
		gitCommit(t, repo, "greeting "+greeting)
		for attempt := 0; ; attempt++ { // the replicas push reports meanwhile
			if _, err := execGit(repo, "push", "-q", "origin", "HEAD:main"); err == nil {
				return
			} else if attempt == 10 {
				t.Fatalf("push: %v", err)
			}
			gitCLI(t, repo, "pull", "-q", "--rebase", "origin", "main")
		}
	}

	// Never two owners: sampled from the replicas' own metrics throughout.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			by, _ := ownership()
			for w, owners := range by {
				if len(owners) > 1 {
					t.Errorf("%s is owned by %v at once", w, owners)
				}
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	r1, r2, r3 := start("r1"), start("r2"), start("r3")
	for _, r := range []*shardReplica{r1, r2, r3} {
		waitReady(t, strings.TrimPrefix(r.api.base, "http://"))
	}
	eventually(t, "nine workspaces shared by three replicas", 60*time.Second, func() (bool, string) {
		by, n := ownership()
		return n == 9 && len(by) == 9 && len(r1.owned()) > 0 && len(r2.owned()) > 0 && len(r3.owned()) > 0, fmt.Sprint(by)
	})
	eventually(t, "all nine converge", 60*time.Second, func() (bool, string) { return greetings("hello") })

	// Each workspace is reconciled by exactly one replica: once the
	// assignment has settled (the table holds what the live replicas
	// converge on), over a new revision its reconcile count grows on its
	// owner alone.
	reconciledByOwnersAlone := func(greeting string) map[string][]string {
		eventually(t, "the assignment settles", 60*time.Second, func() (bool, string) {
			var v struct {
				Owners, Desired map[string]string
				Unowned         []string
			}
			live()[0].api.get("/api/v1/shards", &v)
			return len(v.Owners) == 10 && len(v.Unowned) == 0 && maps.Equal(v.Owners, v.Desired), fmt.Sprintf("%+v", v)
		})
		before := map[string]map[string]float64{}
		for _, r := range live() {
			before[r.id] = r.reconciles()
		}
		commit(greeting)
		eventually(t, greeting+" everywhere", 60*time.Second, func() (bool, string) { return greetings(greeting) })
		// A reconcile is counted when it ends, after its apply: wait until
		// every workspace's count grew somewhere, then see where.
		grew := map[string][]string{}
		eventually(t, greeting+" reconciles counted", 30*time.Second, func() (bool, string) {
			grew = map[string][]string{}
			for _, r := range live() {
				counts := r.reconciles()
				for i := 1; i <= 9; i++ {
					if w := fmt.Sprintf("ws-%d", i); counts[w] > before[r.id][w] {
						grew[w] = append(grew[w], r.id)
					}
				}
			}
			return len(grew) == 9, fmt.Sprint(grew)
		})
		time.Sleep(time.Second) // a second replica's count, were there one, would show by now
		by, _ := ownership()
		for i := 1; i <= 9; i++ {
			w := fmt.Sprintf("ws-%d", i)
			var grewNow []string
			for _, r := range live() {
				if r.reconciles()[w] > before[r.id][w] {
					grewNow = append(grewNow, r.id)
				}
			}
			if len(grewNow) != 1 || len(by[w]) != 1 || grewNow[0] != by[w][0] {
				t.Errorf("%s: %s reconciled by %v, owned by %v", w, greeting, grewNow, by[w])
			}
		}
		return by
	}
	by := reconciledByOwnersAlone("bonjour")

	// Every replica's status API shows the whole fleet, with owners.
	var owners struct {
		Workspaces []struct{ Name, Owner, Status string } `json:"workspaces"`
	}
	r2.api.get("/api/v1/workspaces", &owners)
	if len(owners.Workspaces) != 9 {
		t.Errorf("r2's status API lists %d workspaces, want the fleet's nine", len(owners.Workspaces))
	}
	for _, w := range owners.Workspaces {
		if len(by[w.Name]) != 1 || w.Owner != by[w.Name][0] || w.Status != "Active" {
			t.Errorf("r2 shows %s owned by %q (%s), the owner says %v", w.Name, w.Owner, w.Status, by[w.Name])
		}
	}

	_, page := r1.api.get("/", nil)
	if !strings.Contains(page, "This is replica r1 of 3 sharing the workspaces") || strings.Count(page, "<td>root/ws-") != 9 || strings.Contains(page, "owned by no replica") {
		t.Errorf("r1's page does not show the whole fleet:\n%s", page)
	}

	// kill -9 r3: its workspaces go to r1 and r2.
	lost := r3.owned()
	if err := r3.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = r3.cmd.Process.Wait()
	killed := time.Now()
	eventually(t, "r3's workspaces taken over", 30*time.Second, func() (bool, string) {
		by, n := ownership()
		return n == 9 && len(by) == 9, fmt.Sprint(by)
	})
	t.Logf("r3's %d workspaces owned again %s after SIGKILL (lease 4s, interval 2s)", len(lost), time.Since(killed).Round(100*time.Millisecond))
	eventually(t, "tmc_unowned_workspaces back to 0", 30*time.Second, func() (bool, string) {
		return metricValue(t, r1.api, "tmc_unowned_workspaces") == 0 && metricValue(t, r2.api, "tmc_unowned_workspaces") == 0, ""
	})
	commit("hola")
	eventually(t, "hola everywhere, r3's workspaces too", 60*time.Second, func() (bool, string) { return greetings("hola") })

	// A third and a fourth replica: the fourth takes about a quarter.
	start("r3b")
	r4 := start("r4")
	eventually(t, "four replicas share the nine", 60*time.Second, func() (bool, string) {
		by, n := ownership()
		return n == 9 && len(by) == 9 && len(r4.owned()) > 0 && metricValue(t, r1.api, "tmc_shard_replicas") == 4, fmt.Sprint(by)
	})
	if n := len(r4.owned()); n < 1 || n > 4 {
		t.Errorf("the fourth replica owns %d of 9 workspaces", n)
	}
	reconciledByOwnersAlone("ciao") // four replicas: still one each

	// The reports of all nine reached the remote, written by their owners.
	eventually(t, "nine reports on the remote", 60*time.Second, func() (bool, string) {
		out := gitCLI(t, dir, "--git-dir", remote, "ls-tree", "-r", "--name-only", "main")
		n := strings.Count(out, "/status.yaml")
		return n == 9, out
	})
	// Once converged the replicas do not answer each other's report commits
	// with commits of their own for ever.
	time.Sleep(4 * time.Second)
	count := func() int {
		n, _ := strconv.Atoi(gitCLI(t, dir, "--git-dir", remote, "rev-list", "--count", "main"))
		return n
	}
	c0 := count()
	time.Sleep(10 * time.Second) // five intervals
	if c1 := count(); c1-c0 > 2 {
		t.Errorf("%d commits in five quiet intervals: the replicas' report commits feed each other", c1-c0)
	}
}
