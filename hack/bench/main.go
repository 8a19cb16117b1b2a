// Command bench measures tmc against kubectl and a bare server-side-apply loop
// on three local API servers with N objects per cluster, and prints a table:
//
//	go run ./hack/bench -n 1000      (make bench runs it)
//
// Each tool works in its own namespace, on the same objects, in the same run.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fluxcd/pkg/ssa"
	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc"
	"github.com/kcp-dev/tmc/internal/aggregate"
	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/render"
	"github.com/kcp-dev/tmc/test/harness"
)

var names = []string{"c1", "c2", "c3"}

func main() {
	// controller-runtime warns on stderr unless its logger is set; tmc reports errors itself.
	ctrllog.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	n := flag.Int("n", 1000, "objects per cluster")
	perCluster := flag.Int("per-cluster", 16, "requests in flight per cluster (tmc and the bare loop)")
	fleetSizes := flag.String("fleet", "", "comma-separated cluster counts (e.g. 1,3,10,20): print the many-clusters table with -n objects per cluster instead")
	aggOnly := flag.Bool("aggregate", false, "print only the aggregation figures (10,000 objects, with and without classification)")
	hooks := flag.Int("webhook", 0, "print only the time from a push webhook to converged clusters, over this many pushes")
	flag.Parse()
	run := run
	if *hooks > 0 {
		run = func(_, _ int) error { return webhookBench(*hooks) }
	}
	if *aggOnly {
		run = func(_, perCluster int) error { return aggregateOnly(perCluster) }
	}
	if *fleetSizes != "" {
		run = func(n, perCluster int) error { return fleet(*fleetSizes, n, perCluster) }
	}
	if err := run(*n, *perCluster); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type row struct {
	what    string
	took    time.Duration
	reqs    int64
	objects int
}

func run(n, perCluster int) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "tmc-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(os.Stderr, "starting %d API servers...\n", len(names))
	cs, err := harness.Start(ctx, work, names...)
	defer cs.Stop()
	if err != nil {
		return err
	}
	assets, err := harness.AssetsDir()
	if err != nil {
		return err
	}
	kubectl := filepath.Join(assets, "kubectl")
	repo := filepath.Join(work, "repo")
	if err := writeRepo(repo, names, n, false); err != nil {
		return err
	}
	for _, ns := range []string{"bench-kubectl", "bench-bare", "bench-ssa"} {
		for _, c := range cs.Clusters {
			if err := c.Client.Create(ctx, obj("v1", "Namespace", "", ns, nil)); err != nil {
				return err
			}
		}
	}
	var rows []row
	total := n * len(names)

	// tmc: fresh apply, no-op plan (local decision, then a dry-run of every
	// object as tmc planned before), plan with 10% changed.
	r, err := tmcRun(ctx, repo, cs.KubeconfigPath, perCluster, true, false)
	if err != nil {
		return err
	}
	rows = append(rows, row{"tmc apply (fresh, 3 clusters at once)", r.took, r.reqs, total})
	fresh := r.took
	noop, err := tmcRun(ctx, repo, cs.KubeconfigPath, perCluster, false, false)
	if err != nil {
		return err
	}
	rows = append(rows, row{"tmc plan (no changes)", noop.took, noop.reqs, total})
	dryAll, err := tmcRun(ctx, repo, cs.KubeconfigPath, perCluster, false, true)
	if err != nil {
		return err
	}
	rows = append(rows, row{"tmc plan (no changes, a dry-run per object as before)", dryAll.took, dryAll.reqs, total})
	if err := writeRepo(repo, names, n, true); err != nil {
		return err
	}
	changed, err := tmcRun(ctx, repo, cs.KubeconfigPath, perCluster, false, false)
	if err != nil {
		return err
	}
	rows = append(rows, row{"tmc plan (10% changed)", changed.took, changed.reqs, total})
	listTook, listReqs, err := bareList(ctx, cs)
	if err != nil {
		return err
	}
	rows = append(rows, row{"bare paged LIST of the same objects (3 clusters at once)", listTook, listReqs, total})

	// kubectl, one cluster after the other.
	file := filepath.Join(work, "kubectl.yaml")
	if err := writeStream(file, n, "bench-kubectl", false); err != nil {
		return err
	}
	took, err := kubectlEach(kubectl, cs.KubeconfigPath, "apply", "--server-side", "--field-manager=bench", "-f", file)
	if err != nil {
		return err
	}
	rows = append(rows, row{"kubectl apply --server-side (fresh, each cluster in turn)", took, 0, total})
	kubectlFresh := took
	took, err = kubectlEach(kubectl, cs.KubeconfigPath, "diff", "--server-side", "--field-manager=bench", "-f", file)
	if err != nil {
		return err
	}
	rows = append(rows, row{"kubectl diff --server-side (no changes, each in turn)", took, 0, total})
	kubectlDiff := took
	if err := writeStream(file, n, "bench-kubectl", true); err != nil {
		return err
	}
	took, err = kubectlEach(kubectl, cs.KubeconfigPath, "diff", "--server-side", "--field-manager=bench", "-f", file)
	if err != nil {
		return err
	}
	rows = append(rows, row{"kubectl diff --server-side (10% changed, each in turn)", took, 0, total})

	// A bare loop: one server-side apply request per object, same concurrency as tmc.
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range cs.Clusters {
		g.Go(func() error {
			cg, cctx := errgroup.WithContext(gctx)
			cg.SetLimit(perCluster)
			for i := 0; i < n; i++ {
				cg.Go(func() error {
					u := obj("v1", "ConfigMap", "bench-bare", fmt.Sprintf("cm-%04d", i), map[string]any{"data": map[string]any{"index": fmt.Sprint(i), "payload": payload}})
					return c.Client.Apply(cctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("bench"), client.ForceOwnership)
				})
			}
			return cg.Wait()
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	bare := time.Since(start)
	rows = append(rows, row{"bare loop: 1 SSA request per object (3 clusters at once)", bare, int64(total), total})

	// fluxcd/pkg/ssa's ResourceManager.ApplyAllStaged, same objects and concurrency:
	// what tmc's own apply loop is measured against (docs/architecture.md).
	start = time.Now()
	var ssaReqs atomic.Int64
	g, gctx = errgroup.WithContext(ctx)
	for _, c := range cs.Clusters {
		g.Go(func() error {
			cfg := rest.CopyConfig(c.Config)
			cfg.QPS, cfg.Burst = 200, 400
			cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
				return roundTripFunc(func(r *http.Request) (*http.Response, error) {
					ssaReqs.Add(1)
					return rt.RoundTrip(r)
				})
			}
			cl, err := client.New(cfg, client.Options{})
			if err != nil {
				return err
			}
			rm := ssa.NewResourceManager(cl, nil, ssa.Owner{Field: "bench", Group: "bench.example.com"})
			rm.SetConcurrency(perCluster)
			objs := make([]*unstructured.Unstructured, n)
			for i := range objs {
				objs[i] = obj("v1", "ConfigMap", "bench-ssa", fmt.Sprintf("cm-%04d", i), map[string]any{"data": map[string]any{"index": fmt.Sprint(i), "payload": payload}})
			}
			_, err = rm.ApplyAllStaged(gctx, objs, ssa.DefaultApplyOptions())
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	staged := time.Since(start)
	rows = append(rows, row{"fluxcd/pkg/ssa ApplyAllStaged (fresh, 3 clusters at once)", staged, ssaReqs.Load(), total})

	agg, err := aggregateBench(ctx, cs, work, perCluster)
	if err != nil {
		return err
	}

	fmt.Printf("\n%d objects per cluster, %d clusters, %d requests in flight per cluster\n\n", n, len(names), perCluster)
	fmt.Println("| what | time | objects/s | requests/object |")
	fmt.Println("|---|---:|---:|---:|")
	for _, r := range rows {
		rpo := "—"
		if r.reqs > 0 {
			rpo = fmt.Sprintf("%.2f", float64(r.reqs)/float64(r.objects))
		}
		fmt.Printf("| %s | %s | %.0f | %s |\n", r.what, r.took.Round(time.Millisecond), float64(r.objects)/r.took.Seconds(), rpo)
	}
	fmt.Printf("\ntmc fresh apply vs kubectl apply --server-side in turn: %.1fx faster (target ≥ 10x)\n", kubectlFresh.Seconds()/fresh.Seconds())
	fmt.Printf("tmc fresh apply vs the bare loop: %.2fx its time (target ≤ 2x)\n", fresh.Seconds()/bare.Seconds())
	fmt.Printf("tmc fresh apply vs ssa.ResourceManager.ApplyAllStaged: %.2fx its time\n", fresh.Seconds()/staged.Seconds())
	fmt.Printf("\nno-op plan: %.3f requests/object (target ≤ 0.05); %.1fx faster than kubectl diff --server-side in turn (target ≥ 10x); %.1fx faster than a dry-run per object\n",
		float64(noop.reqs)/float64(total), kubectlDiff.Seconds()/noop.took.Seconds(), dryAll.took.Seconds()/noop.took.Seconds())
	fmt.Printf("no-op plan: %d decided locally, dry-runs %v\n", noop.summary.Local, noop.summary.DryRuns)
	fmt.Printf("10%% changed: %d updates, %d decided locally, dry-runs %v (%.3f requests/object)\n",
		changed.summary.Update, changed.summary.Local, changed.summary.DryRuns, float64(changed.reqs)/float64(total))
	fmt.Printf("\naggregation of %d objects across %d clusters (%d resources): %s, %d requests (%s), peak heap %.0f MiB\n",
		agg.objects, len(names), agg.resources, agg.took.Round(time.Millisecond), agg.requests, agg.verbs, float64(agg.peakHeap)/(1<<20))
	printClassification(agg)
	return nil
}

func printClassification(agg aggResult) {
	fmt.Printf("classification (%d fields varying by policy): %s with, %s without (fastest of 3 each): %.2fx (target < 1.2x)\n",
		agg.varied, agg.classified.Round(time.Millisecond), agg.unclassified.Round(time.Millisecond), agg.classified.Seconds()/agg.unclassified.Seconds())
}

// aggregateOnly runs the aggregation figures alone.
func aggregateOnly(perCluster int) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "tmc-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(os.Stderr, "starting %d API servers...\n", len(names))
	cs, err := harness.Start(ctx, work, names...)
	defer cs.Stop()
	if err != nil {
		return err
	}
	agg, err := aggregateBench(ctx, cs, work, perCluster)
	if err != nil {
		return err
	}
	fmt.Printf("aggregation of %d objects across %d clusters (%d resources): %s, %d requests (%s), peak heap %.0f MiB\n",
		agg.objects, len(names), agg.resources, agg.took.Round(time.Millisecond), agg.requests, agg.verbs, float64(agg.peakHeap)/(1<<20))
	printClassification(agg)
	return nil
}

type aggResult struct {
	objects, resources int
	took               time.Duration
	requests           int64
	verbs              string
	peakHeap           uint64
	// classified and unclassified are the fastest of 3 aggregations with
	// and without classifying differences; varied the variations found.
	classified, unclassified time.Duration
	varied                   int
}

// aggregateBench creates 10,000 ConfigMaps spread over the clusters (the same
// names on each, so they merge) and aggregates them with one policy.
func aggregateBench(ctx context.Context, cs *harness.Clusters, work string, perCluster int) (aggResult, error) {
	const total = 10000
	per := total / len(names)
	for _, c := range cs.Clusters {
		if err := c.Client.Create(ctx, obj("v1", "Namespace", "", "bench-agg", nil)); err != nil {
			return aggResult{}, err
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(perCluster)
		for i := 0; i < per; i++ {
			g.Go(func() error {
				u := obj("v1", "ConfigMap", "bench-agg", fmt.Sprintf("agg-%05d", i), map[string]any{"data": map[string]any{"index": fmt.Sprint(i), "cluster": c.Name}})
				u.SetLabels(map[string]string{"tmc.kcp.io/workspace": "agg"})
				return c.Client.Apply(gctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("bench"), client.ForceOwnership)
			})
		}
		if err := g.Wait(); err != nil {
			return aggResult{}, err
		}
	}
	repo := filepath.Join(work, "agg")
	if err := os.MkdirAll(filepath.Join(repo, "objs"), 0o755); err != nil {
		return aggResult{}, err
	}
	var pol strings.Builder
	for _, c := range names {
		fmt.Fprintf(&pol, "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: %s}\n", c)
	}
	// The same ConfigMaps in git, each cluster's data.cluster set by a
	// template: every resource varies by policy, the worst case for
	// classifying differences against the render.
	pol.WriteString("---\napiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: agg}\nspec:\n  sources: [{path: objs}]\n  projectionPolicies: [per-cluster]\n  aggregationPolicies: [cms]\n")
	pol.WriteString("---\napiVersion: tmc.kcp.io/v1alpha1\nkind: ProjectionPolicy\nmetadata: {name: per-cluster}\nspec:\n  resourceSelectors: [{version: v1, kind: ConfigMap}]\n  transformations: [{type: Template, jsonPath: data.cluster, value: \"{{.TargetCluster}}\"}]\n")
	pol.WriteString("---\napiVersion: tmc.kcp.io/v1alpha1\nkind: AggregationPolicy\nmetadata: {name: cms}\nspec:\n  gvk: {version: v1, kind: ConfigMap}\n  healthExpression: \"true\"\n")
	var objs strings.Builder
	for i := 0; i < per; i++ {
		fmt.Fprintf(&objs, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: agg-%05d, namespace: bench-agg}\ndata: {index: \"%d\", cluster: git}\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(repo, "objs", "cms.yaml"), []byte(objs.String()), 0o644); err != nil {
		return aggResult{}, err
	}
	if err := os.WriteFile(filepath.Join(repo, "policies.yaml"), []byte(pol.String()), 0o644); err != nil {
		return aggResult{}, err
	}
	p, err := policy.Load(ctx, repo)
	if err != nil {
		return aggResult{}, err
	}
	o := cluster.DefaultOptions()
	o.Kubeconfig = cs.KubeconfigPath
	set := cluster.Connect(ctx, p, o)
	r, err := render.Render(ctx, p, render.Options{Facts: set})
	if err != nil {
		return aggResult{}, err
	}
	before := map[string]int64{}
	for _, n := range set.Names() {
		c, _ := set.Get(n)
		for v, k := range c.Requests.Snapshot() {
			before[v] += k
		}
	}
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	views, err := aggregate.Build(ctx, p, r, set, aggregate.DefaultOptions())
	took := time.Since(start)
	close(stop)
	if err != nil {
		return aggResult{}, err
	}
	res := aggResult{took: took, peakHeap: peak.Load(), varied: views[0].AggregatedResources[0].VariedFields}
	after := map[string]int64{}
	for _, n := range set.Names() {
		c, _ := set.Get(n)
		for v, k := range c.Requests.Snapshot() {
			after[v] += k
		}
	}
	var verbs []string
	for _, v := range []string{"list", "get", "dry-run", "patch"} {
		if d := after[v] - before[v]; d > 0 {
			verbs = append(verbs, fmt.Sprintf("%s %d", v, d))
			res.requests += d
		}
	}
	// With and without classification, alternately, 3 times each: the
	// fastest run of each (the same LISTs: only classification differs).
	for i := 0; i < 3; i++ {
		for _, unclassified := range []bool{true, false} {
			o := aggregate.DefaultOptions()
			o.Unclassified = unclassified
			start := time.Now()
			if _, err := aggregate.Build(ctx, p, r, set, o); err != nil {
				return aggResult{}, err
			}
			d := time.Since(start)
			if unclassified && (res.unclassified == 0 || d < res.unclassified) {
				res.unclassified = d
			}
			if !unclassified && (res.classified == 0 || d < res.classified) {
				res.classified = d
			}
		}
	}
	res.verbs = strings.Join(verbs, ", ")
	k := views[0].AggregatedResources[0]
	res.objects, res.resources = k.InstanceCount, len(k.Resources)
	return res, nil
}

type result struct {
	took    time.Duration
	reqs    int64
	summary tmc.PlanSummary
}

// tmcRun loads, renders, plans and (when doApply) applies the repo, as tmc apply / tmc plan do.
func tmcRun(ctx context.Context, repo, kubeconfig string, perCluster int, doApply, dryRunAll bool) (result, error) {
	start := time.Now()
	r, err := tmc.Open(ctx, repo)
	if err != nil {
		return result{}, err
	}
	o := tmc.DefaultClusterOptions()
	o.Kubeconfig, o.MaxInFlight = kubeconfig, perCluster
	s, err := r.Connect(ctx, tmc.ConnectOptions{Cluster: o})
	if err != nil {
		return result{}, err
	}
	po := tmc.DefaultPlanOptions()
	po.PerCluster = perCluster
	po.ValidateCreates, po.DryRunAll = !doApply, dryRunAll
	pl, err := s.Plan(ctx, po)
	if err != nil {
		return result{}, err
	}
	if doApply {
		ao := tmc.DefaultApplyOptions()
		ao.PerCluster = perCluster
		res, err := s.Apply(ctx, pl, ao)
		if err != nil {
			return result{}, err
		}
		if res.Failed() {
			return result{}, fmt.Errorf("apply failed: %+v", res.Clusters)
		}
	} else if pl.Summary.Errors > 0 {
		return result{}, fmt.Errorf("plan errors: %+v", pl.Summary)
	}
	took := time.Since(start)
	var reqs int64
	for _, byVerb := range s.Requests() {
		for _, n := range byVerb {
			reqs += n
		}
	}
	return result{took, reqs, pl.Summary}, nil
}

func kubectlEach(kubectl, kubeconfig string, args ...string) (time.Duration, error) {
	start := time.Now()
	for _, n := range names {
		cmd := exec.Command(kubectl, append(args, "--kubeconfig", kubeconfig, "--context", n)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok && args[0] == "diff" && ee.ExitCode() == 1 {
			err = nil // diff found differences
		}
		if err != nil {
			return 0, fmt.Errorf("kubectl %s on %s: %v\n%s", args[0], n, err, tail(out))
		}
	}
	return time.Since(start), nil
}

func tail(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

var payload = strings.Repeat("x", 512)

func obj(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}}}
	if ns != "" {
		u.SetNamespace(ns)
	}
	for k, v := range fields {
		u.Object[k] = v
	}
	return u
}

// writeStream writes n ConfigMaps (every tenth changed when changed) in ns as one YAML stream.
func writeStream(path string, n int, ns string, changed bool) error {
	var b strings.Builder
	for i := 0; i < n; i++ {
		v := fmt.Sprint(i)
		if changed && i%10 == 0 {
			v += "-changed"
		}
		data, err := yaml.Marshal(obj("v1", "ConfigMap", ns, fmt.Sprintf("cm-%04d", i), map[string]any{"data": map[string]any{"index": v, "payload": payload}}).Object)
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeRepo writes a policy repo: the clusters, one workspace on all of them, n objects.
func writeRepo(dir string, clusters []string, n int, changed bool) error {
	if err := os.MkdirAll(filepath.Join(dir, "objs"), 0o755); err != nil {
		return err
	}
	var pol strings.Builder
	for _, c := range clusters {
		fmt.Fprintf(&pol, "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: %s, labels: {bench: \"true\"}}\n", c)
	}
	pol.WriteString("---\napiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: bench}\nspec:\n  placement: {clusterSelector: {matchLabels: {bench: \"true\"}}}\n  sources: [{path: objs}]\n")
	if err := os.WriteFile(filepath.Join(dir, "policies.yaml"), []byte(pol.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "objs", "ns.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n"), 0o644); err != nil {
		return err
	}
	return writeStream(filepath.Join(dir, "objs", "configmaps.yaml"), n-1, "bench", changed)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// bareList reads the bench namespace's ConfigMaps on every cluster with paged LISTs.
func bareList(ctx context.Context, cs *harness.Clusters) (time.Duration, int64, error) {
	start := time.Now()
	var reqs atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range cs.Clusters {
		g.Go(func() error {
			cont := ""
			for {
				l := &unstructured.UnstructuredList{}
				l.SetAPIVersion("v1")
				l.SetKind("ConfigMapList")
				reqs.Add(1)
				if err := c.Client.List(gctx, l, client.InNamespace("bench"), client.Limit(500), client.Continue(cont)); err != nil {
					return err
				}
				if cont = l.GetContinue(); cont == "" {
					return nil
				}
			}
		})
	}
	err := g.Wait()
	return time.Since(start), reqs.Load(), err
}

// fleet plans and applies n objects per cluster on growing numbers of API
// servers and prints wall time, requests per object and tmc's peak RSS.
func fleet(sizes string, n, perCluster int) error {
	ctx := context.Background()
	fmt.Printf("\n%d objects per cluster, %d requests in flight per cluster; peak RSS is this process's (tmc in-process; the API servers are other processes)\n\n", n, perCluster)
	fmt.Println("| clusters | objects | fresh plan | req/obj | fresh apply | req/obj | no-op plan | req/obj | peak RSS |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, f := range strings.Split(sizes, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 {
			return fmt.Errorf("-fleet: %q is not a cluster count", f)
		}
		if err := fleetRow(ctx, k, n, perCluster); err != nil {
			return err
		}
	}
	return nil
}

func fleetRow(ctx context.Context, k, n, perCluster int) error {
	work, err := os.MkdirTemp("", "tmc-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var cnames []string
	for i := range k {
		cnames = append(cnames, fmt.Sprintf("f%02d", i+1))
	}
	fmt.Fprintf(os.Stderr, "starting %d API servers...\n", k)
	cs, err := harness.Start(ctx, work, cnames...)
	defer cs.Stop()
	if err != nil {
		return err
	}
	repo := filepath.Join(work, "repo")
	if err := writeRepo(repo, cnames, n, false); err != nil {
		return err
	}
	runtime.GC()
	resetPeakRSS()
	total := n * k
	var cells []string
	for _, step := range []struct{ apply bool }{{false}, {true}, {false}} {
		r, err := tmcRun(ctx, repo, cs.KubeconfigPath, perCluster, step.apply, false)
		if err != nil {
			return err
		}
		cells = append(cells, r.took.Round(time.Millisecond).String(), fmt.Sprintf("%.2f", float64(r.reqs)/float64(total)))
	}
	fmt.Printf("| %d | %d | %s | %.0f MiB |\n", k, total, strings.Join(cells, " | "), float64(peakRSS())/(1<<20))
	return nil
}

// resetPeakRSS resets the kernel's high-water mark of this process's RSS.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM of this process, in bytes.
func peakRSS() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
