// Command shardbench prints the memory of each tmc sync replica with one
// and with three replicas over the same fleet: real API servers (a home
// cluster and three members), W workspaces of O ConfigMaps each, every
// workspace on two of the three members. Each replica's figures are read
// from its own /metrics once every workspace is reconciled.
//
//	go run ./hack/shardbench -workspaces 30 -objects 100
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kcp-dev/tmc/test/harness"
)

func main() {
	workspaces := flag.Int("workspaces", 30, "workspaces")
	objects := flag.Int("objects", 100, "ConfigMaps per workspace")
	flag.Parse()
	if err := run(*workspaces, *objects); err != nil {
		fmt.Fprintln(os.Stderr, "shardbench:", err)
		os.Exit(1)
	}
}

type replica struct {
	id, addr string
	cmd      *exec.Cmd
	log      *os.File
}

func metric(addr, re string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum float64
	found := false
	for _, m := range regexp.MustCompile(`(?m)^`+re+` (\S+)$`).FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
		found = true
	}
	if !found {
		return 0, fmt.Errorf("%s: no %s", addr, re)
	}
	return sum, nil
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func run(workspaces, objects int) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "tmc-shardbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "tmc")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/kcp-dev/tmc/cmd/tmc").CombinedOutput(); err != nil {
		return fmt.Errorf("build tmc: %v\n%s", err, out)
	}
	fmt.Fprintln(os.Stderr, "starting 4 API servers...")
	cs, err := harness.Start(ctx, work, "home", "m1", "m2", "m3")
	defer cs.Stop()
	if err != nil {
		return err
	}
	repo := filepath.Join(work, "repo")
	write := func(rel, content string) {
		p := filepath.Join(repo, rel)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte(content), 0o644)
	}
	var pol strings.Builder
	for _, m := range []string{"m1", "m2", "m3"} {
		fmt.Fprintf(&pol, "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: %s}\n", m)
	}
	for i := range workspaces {
		fmt.Fprintf(&pol, "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: ws-%d}\nspec:\n  placement: {clusters: [m%d, m%d]}\n  sources: [{path: apps/ws-%d}]\n", i, i%3+1, (i+1)%3+1, i)
		var b strings.Builder
		for j := range objects {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ws-%d-%d, namespace: default}\ndata: {payload: %q}\n", i, j, strings.Repeat("x", 256))
		}
		write(fmt.Sprintf("apps/ws-%d/cms.yaml", i), b.String())
	}
	write("policies.yaml", pol.String())
	for _, a := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "fleet"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, a...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("git %v: %v\n%s", a, err, out)
		}
	}
	start := func(id string, sharded bool) (*replica, error) {
		r := &replica{id: id, addr: freePort()}
		args := []string{"sync", "--repo", repo, "--branch", "main", "--kubeconfig", cs.KubeconfigPath, "--workdir", filepath.Join(work, "wd-"+id),
			"--listen", r.addr, "--interval", "5s", "--health-interval", "5s", "--no-push-reports", "--leader-elect-namespace", "default"}
		if sharded {
			args = append(args, "--shard", "--shard-identity", id, "--shard-lease-duration", "6s")
		}
		r.log, _ = os.Create(filepath.Join(work, id+".log"))
		r.cmd = exec.Command(bin, args...)
		r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
		return r, r.cmd.Start()
	}
	stop := func(rs []*replica) {
		for _, r := range rs {
			_ = r.cmd.Process.Signal(os.Interrupt)
			_, _ = r.cmd.Process.Wait()
			r.log.Close()
		}
	}
	measure := func(n int) error {
		var rs []*replica
		for i := range n {
			r, err := start(fmt.Sprintf("r%d", i+1), n > 1)
			if err != nil {
				return err
			}
			rs = append(rs, r)
		}
		defer stop(rs)
		deadline := time.Now().Add(5 * time.Minute)
		for {
			if time.Now().After(deadline) {
				return errors.New("the replicas did not reconcile every workspace within 5 minutes")
			}
			time.Sleep(2 * time.Second)
			done := 0.0
			for _, r := range rs {
				if n == 1 {
					if v, err := metric(r.addr, `tmc_virtual_workspaces_total\{status="active"\}`); err == nil {
						done += v
					}
					continue
				}
				if v, err := metric(r.addr, `tmc_shard_owned\{[^}]*\}`); err == nil {
					if rec, err := metric(r.addr, `tmc_shard_workspace_reconciles_total\{[^}]*\}`); err == nil && rec >= v {
						done += v
					}
				}
			}
			if int(done) >= workspaces {
				break
			}
		}
		time.Sleep(6 * time.Second) // a further interval: steady state
		var total float64
		for _, r := range rs {
			rss, err1 := metric(r.addr, "process_resident_memory_bytes")
			heap, err2 := metric(r.addr, "go_memstats_heap_inuse_bytes")
			owned := float64(workspaces)
			if n > 1 {
				owned, _ = metric(r.addr, `tmc_shard_owned\{[^}]*\}`)
			}
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			total += rss
			fmt.Printf("%d replica(s)  %-3s  %3.0f workspaces  %5.0f objects  RSS %6.1f MiB  heap in use %6.1f MiB\n", n, r.id, owned, owned*float64(objects)*2, rss/(1<<20), heap/(1<<20))
		}
		fmt.Printf("%d replica(s)  all  RSS %6.1f MiB in all, %6.1f MiB per replica\n", n, total/(1<<20), total/float64(n)/(1<<20))
		return nil
	}
	fmt.Printf("tmc sync memory per replica: %d workspaces × %d ConfigMaps (256 B of data each) on 2 of 3 API servers each (%d objects applied)\n", workspaces, objects, workspaces*objects*2)
	if err := measure(1); err != nil {
		return err
	}
	return measure(3)
}
