package render

import (
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"

	yaml3 "go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"

	"github.com/kcp-dev/tmc/internal/chart"
	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/limits"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/policy"
)

// ChartRender is one chart source rendered for one target cluster: what
// `render --explain` shows of it.
type ChartRender struct {
	// Source is the chart's path in the repo; Digest the SHA-256 of its files.
	Source string `json:"source"`
	Digest string `json:"digest"`
	// Cluster is the target cluster; KubeVersion its .Capabilities.KubeVersion.
	Cluster     string `json:"cluster"`
	KubeVersion string `json:"kubeVersion,omitempty"`
	// Release and Namespace are .Release.Name and .Release.Namespace.
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	// Values are the user values the cluster got (over the chart's
	// values.yaml): values files, inline values, then the cluster values.
	Values map[string]any `json:"values"`
	// ClusterValues lists the cluster values that acted (or were skipped).
	ClusterValues []Applied `json:"clusterValues,omitempty"`
	// Objects is how many objects the chart made there; Dropped names the
	// test hooks left out.
	Objects int      `json:"objects"`
	Dropped []string `json:"dropped,omitempty"`
}

// clusterScoped are the built-in kinds without a namespace: a chart object
// of any other kind that sets none goes to the release namespace, as helm
// install puts it (CRDs of the chart with scope Cluster are added).
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "StorageClass": true, "PriorityClass": true, "IngressClass": true, "RuntimeClass": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "ValidatingAdmissionPolicy": true,
	"ValidatingAdmissionPolicyBinding": true, "MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	"APIService": true, "CSIDriver": true, "CSINode": true, "VolumeAttachment": true, "FlowSchema": true,
	"PriorityLevelConfiguration": true, "CertificateSigningRequest": true, "ClusterTrustBundle": true,
	"DeviceClass": true, "VolumeAttributesClass": true, "IPAddress": true, "ServiceCIDR": true,
}

// readCharts renders every chart source of the workspace once per target
// cluster. The objects it returns are each for one cluster (forCluster).
func (r *renderer) readCharts(w *policy.VirtualWorkspace, targets []Decision) ([]*Source, []ChartRender, policy.ErrorList) {
	var out []*Source
	var renders []ChartRender
	var errs policy.ErrorList
	key, kerr := chart.OperatorKey()
	for i := range w.Spec.Sources {
		cs := w.Spec.Sources[i].Chart
		if cs == nil {
			continue
		}
		field := fmt.Sprintf("spec.sources[%d].chart", i)
		if kerr != nil {
			errs = append(errs, w.Origin.Errorf(field, "%v", kerr))
			return nil, nil, errs
		}
		files, archive, digest, err := chart.Read(r.root, cs.Path)
		if err != nil {
			errs = append(errs, w.Origin.Errorf(field+".path", "%v", err))
			continue
		}
		base, err := r.chartValues(cs)
		if err != nil {
			errs = append(errs, w.Origin.Errorf(field, "%v", err))
			continue
		}
		release, ns := cs.ReleaseName, cs.Namespace
		if release == "" {
			release = w.Metadata.Name
		}
		if ns == "" {
			ns = "default"
		}
		// The cluster values run here, in order (they share the render's
		// caches); the charts render in parallel after.
		type job struct {
			req *chart.Request
			cr  ChartRender
		}
		var jobs []*job
		for _, d := range targets {
			if !(d.Selected || d.Unhealthy) || (r.opts.Cluster != "" && d.Cluster != r.opts.Cluster) {
				continue
			}
			facts := r.facts[d.Cluster].facts
			vals, applied, err := r.clusterValues(cs, base, d.Cluster, facts, release)
			if err != nil {
				errs = append(errs, w.Origin.Errorf(field+".clusterValues", "on cluster %s: %v", d.Cluster, err))
				continue
			}
			req := &chart.Request{Files: files, Archive: archive, Values: vals, Release: release, Namespace: ns, KubeVersion: facts.KubernetesVersion,
				Cluster: d.Cluster, Key: key, SkipCRDs: cs.SkipCRDs, Source: cs.Path}
			jobs = append(jobs, &job{req: req, cr: ChartRender{Source: cs.Path, Digest: digest, Cluster: d.Cluster, KubeVersion: facts.KubernetesVersion,
				Release: release, Namespace: ns, Values: vals, ClusterValues: applied}})
		}
		// The renders share what is left of the render's input budget: a
		// chart that makes its full output for every cluster would otherwise
		// hold clusters × chart.MaxOutput in memory before any is counted.
		results := make([]*chart.Result, len(jobs))
		rerrs := make([]error, len(jobs))
		var budget atomic.Int64
		budget.Store(int64(limits.MaxRenderInput - r.inputBytes))
		g := errgroup.Group{}
		g.SetLimit(max(runtime.GOMAXPROCS(0), 1))
		for j, jb := range jobs {
			g.Go(func() error {
				left := budget.Load()
				if left <= 0 {
					rerrs[j] = fmt.Errorf("chart %s: the workspaces' sources hold more than %d MiB of manifests in all", cs.Path, limits.MaxRenderInput>>20)
					return nil
				}
				jb.req.MaxOutput = int(min(left, int64(chart.MaxOutput)))
				results[j], rerrs[j] = chart.Render(r.ctx, jb.req)
				if results[j] != nil {
					n := 0
					for _, m := range results[j].Manifests {
						n += len(m.Content)
					}
					budget.Add(-int64(n))
				}
				return nil
			})
		}
		_ = g.Wait()
		for j, jb := range jobs {
			if rerrs[j] != nil {
				errs = append(errs, w.Origin.Errorf(field, "on cluster %s: %v", jb.cr.Cluster, rerrs[j]))
				continue
			}
			srcs, serrs := r.chartObjects(cs, results[j], ns, jb.cr.Cluster)
			errs = append(errs, serrs...)
			jb.cr.Objects, jb.cr.Dropped = len(srcs), results[j].Dropped
			out = append(out, srcs...)
			renders = append(renders, jb.cr)
		}
	}
	return out, renders, errs
}

// chartValues merges the values files and the inline values.
func (r *renderer) chartValues(cs *policy.ChartSource) (map[string]any, error) {
	out := map[string]any{}
	total := 0 // every cluster's request carries the values: bound them all together
	for _, vf := range cs.ValuesFiles {
		full, err := r.inRepo(vf)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %v", vf, err)
		}
		f, err := os.Open(full)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %v", vf, policy.UnwrapPathError(err))
		}
		data, err := io.ReadAll(io.LimitReader(f, limits.MaxFileSize+1))
		f.Close()
		if err != nil {
			return nil, err
		}
		if total += len(data); len(data) > limits.MaxFileSize || total > limits.MaxFileSize {
			return nil, fmt.Errorf("values file %s: the values files hold more than %d MiB in all", vf, limits.MaxFileSize>>20)
		}
		docs, err := limits.Documents(data)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %v", vf, err)
		}
		for _, d := range docs {
			if d.Kind == yaml3.ScalarNode && d.Tag == "!!null" {
				continue
			}
			v, err := fieldpath.FromNode(d)
			if err != nil {
				return nil, fmt.Errorf("values file %s: %v", vf, err)
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("values file %s: values must be a mapping", vf)
			}
			out = mergeValues(out, m)
		}
	}
	if cs.Values != nil && cs.Values.Node != nil {
		n, err := cs.Values.Expanded()
		if err != nil {
			return nil, err
		}
		v, err := fieldpath.FromNode(n)
		if err != nil {
			return nil, err
		}
		if m, ok := v.(map[string]any); ok {
			out = mergeValues(out, m)
		}
	}
	return out, nil
}

// mergeValues merges b over a, maps key by key, as Helm merges values files.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// clusterValues runs the cluster values on a copy of the values for one
// cluster: transformations, with `resource` the values and the template's
// OriginalName the release name.
func (r *renderer) clusterValues(cs *policy.ChartSource, base map[string]any, cluster string, facts policy.ClusterFacts, release string) (map[string]any, []Applied, error) {
	if len(cs.ClusterValues) == 0 {
		return base, nil, nil
	}
	n := fieldpath.ToNode(base)
	src := &Source{ID: object.ID{Kind: "HelmValues", Name: release}, Node: nil, asMap: base}
	var applied []Applied
	for i := range cs.ClusterValues {
		t := &cs.ClusterValues[i]
		a, err := r.transform(n, cluster, facts, src, t)
		if err != nil {
			return nil, nil, fmt.Errorf("clusterValues[%d]: %v", i, err)
		}
		a.Index = i
		applied = append(applied, a)
		v, err := fieldpath.FromNode(n)
		if err != nil {
			return nil, nil, err
		}
		src.asMap, _ = v.(map[string]any)
	}
	return src.asMap, applied, nil
}

// chartObjects turns a chart's manifests into sources for one cluster,
// each placed at the chart file it came from.
func (r *renderer) chartObjects(cs *policy.ChartSource, res *chart.Result, ns, cluster string) ([]*Source, policy.ErrorList) {
	scoped := map[string]bool{}
	for _, m := range res.Manifests {
		// CRDs of the chart with scope Cluster: their objects keep no namespace.
		if strings.Contains(m.Content, "CustomResourceDefinition") {
			docs, _ := limits.Documents([]byte(m.Content))
			for _, d := range docs {
				if lookupScalar(d, "kind") == "CustomResourceDefinition" {
					if spec := child(d, "spec"); spec != nil && lookupScalar(spec, "scope") == "Cluster" {
						if names := child(spec, "names"); names != nil {
							scoped[lookupScalar(names, "kind")] = true
						}
					}
				}
			}
		}
	}
	var out []*Source
	var errs policy.ErrorList
	for _, m := range res.Manifests {
		rel := chartFile(cs.Path, m.Template)
		srcs, es := r.readDataWith(rel, []byte(m.Content), func(n *yaml3.Node) {
			kind := lookupScalar(n, "kind")
			if clusterScoped[kind] || scoped[kind] {
				return
			}
			md := child(n, "metadata")
			if md == nil || lookupScalar(md, "namespace") != "" {
				return
			}
			md.Content = append(md.Content, &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: "namespace"}, &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: ns})
		})
		for _, e := range es {
			e.Message = fmt.Sprintf("chart %s on cluster %s: %s", cs.Path, cluster, e.Message)
		}
		errs = append(errs, es...)
		for _, s := range srcs {
			s.forCluster = cluster
		}
		out = append(out, srcs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return object.Less(out[i].ID, out[j].ID) })
	return out, errs
}

// chartFile is the repo path of a rendered template: "web/templates/x.yaml"
// of the chart at charts/web is charts/web/templates/x.yaml.
func chartFile(chartPath, template string) string {
	if i := strings.IndexByte(template, '/'); i >= 0 {
		template = template[i+1:]
	}
	if strings.HasSuffix(chartPath, ".tgz") || strings.HasSuffix(chartPath, ".tar.gz") {
		return chartPath + "!" + template
	}
	return path.Join(chartPath, template)
}

func child(n *yaml3.Node, key string) *yaml3.Node {
	if n == nil || n.Kind != yaml3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
