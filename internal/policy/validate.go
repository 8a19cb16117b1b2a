package policy

import (
	yaml3 "go.yaml.in/yaml/v3"

	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/limits"
)

// validator checks what needs more than one field: names, duplicates,
// references, mode-specific fields, selectors, paths, expressions and
// templates. It also applies defaults and compiles programs.
type validator struct {
	p        *Policies
	realRoot string // the policy root with its symlinks resolved; "" when loaded from memory
	errs     *ErrorList
}

func (v *validator) add(e *Error) { *v.errs = append(*v.errs, e) }

func (v *validator) validate() {
	seen := map[string]Origin{}
	v.p.Config = DefaultConfig()
	if n := len(v.p.Clusters); n > limits.MaxClusters {
		v.add(v.p.Clusters[limits.MaxClusters].Origin.Errorf("", "the tree holds %d Clusters: at most %d (each costs a client, its connections and its facts on every run)", n, limits.MaxClusters))
		return
	}
	if n := len(v.p.Workspaces); n > limits.MaxWorkspaces {
		v.add(v.p.Workspaces[limits.MaxWorkspaces].Origin.Errorf("", "the tree holds %d VirtualWorkspaces: at most %d", n, limits.MaxWorkspaces))
		return
	}
	for _, c := range v.p.Clusters {
		v.meta(c.Origin, c.Metadata, seen, KindCluster)
		c.setDefaults()
		v.cluster(c)
	}
	for _, x := range v.p.ProjectionPolicies {
		v.meta(x.Origin, x.Metadata, seen, KindProjectionPolicy)
		x.setDefaults()
		v.projection(x)
	}
	for _, x := range v.p.AggregationPolicies {
		v.meta(x.Origin, x.Metadata, seen, KindAggregationPolicy)
		x.setDefaults()
		v.aggregation(x)
	}
	for _, w := range v.p.Workspaces {
		v.meta(w.Origin, w.Metadata, seen, KindVirtualWorkspace)
		w.setDefaults()
		v.workspace(w)
	}
	for i, c := range v.p.Configs {
		v.meta(c.Origin, c.Metadata, seen, KindConfig)
		if i > 0 {
			v.add(c.Origin.Errorf("", "a policy tree holds at most one Config; another is at %s", v.p.Configs[0].Origin.Pos))
		}
	}
	if len(v.p.Configs) > 0 {
		v.p.Config = v.p.Configs[0].Spec
		v.p.Config.setDefaults()
		v.relPath(v.p.Configs[0].Origin, "spec.reports.path", v.p.Config.Reports.Path, false)
		if c, err := CleanRepoPath(v.p.Config.Reports.Path); err == nil && slices.ContainsFunc(strings.Split(c, "/"), func(s string) bool { return strings.EqualFold(s, ".git") }) {
			v.add(v.p.Configs[0].Origin.Errorf("spec.reports.path", "%q is or enters .git: reports are files of the work tree", v.p.Config.Reports.Path))
		}
	}
}

func (v *validator) meta(o Origin, m ObjectMeta, seen map[string]Origin, kind string) {
	if m.Name != "" {
		for _, msg := range validation.IsDNS1123Subdomain(m.Name) {
			v.add(o.Errorf("metadata.name", "invalid name %q: %s", m.Name, msg))
		}
		key := kind + "/" + m.Name
		if first, dup := seen[key]; dup {
			v.add(o.Errorf("metadata.name", "duplicate %s %q: already defined at %s", kind, m.Name, first.Pos))
		} else {
			seen[key] = o
		}
	}
	for k, val := range m.Labels {
		f := "metadata.labels['" + k + "']"
		for _, msg := range validation.IsQualifiedName(k) {
			v.add(o.Errorf(f, "invalid label key %q: %s", k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(val) {
			v.add(o.Errorf(f, "invalid label value %q: %s", val, msg))
		}
	}
}

func (v *validator) cluster(c *Cluster) {
	if r := c.Spec.Kubeconfig.SecretRef; r != nil && c.Spec.Kubeconfig.Path != "" {
		v.add(c.Origin.Errorf("spec.kubeconfig", "set either path or secretRef, not both"))
	}
	if p := c.Spec.Kubeconfig.Path; p != "" {
		// A kubeconfig named by the repo is part of the repo: it may not
		// leave it (absolute paths, .., symlinks), like every other path.
		v.relPath(c.Origin, "spec.kubeconfig.path", p, true)
	}
	if lc := c.Spec.LogicalCluster; lc != "" {
		v.logicalCluster(c.Origin, "spec.logicalCluster", lc)
	}
}

func (v *validator) logicalCluster(o Origin, field, lc string) {
	for _, part := range strings.Split(lc, ":") {
		if len(validation.IsDNS1123Label(part)) > 0 {
			v.add(o.Errorf(field, "invalid logical cluster %q: use lowercase names joined by ':', such as root:production", lc))
			return
		}
	}
}

func (v *validator) clusterRef(o Origin, field, name string) {
	if v.p.Cluster(name) == nil {
		v.add(o.Errorf(field, "Cluster %q does not exist%s", name, suggest(name, v.clusterNames())))
	}
}

func (v *validator) clusterNames() map[string]int {
	m := map[string]int{}
	for i, c := range v.p.Clusters {
		m[c.Metadata.Name] = i
	}
	return m
}

func (v *validator) workspace(w *VirtualWorkspace) {
	o, s := w.Origin, &w.Spec
	v.logicalCluster(o, "spec.logicalCluster", s.LogicalCluster)
	for i, c := range s.Placement.Clusters {
		v.clusterRef(o, fmt.Sprintf("spec.placement.clusters[%d]", i), c)
	}
	v.labelSelector(o, "spec.placement.clusterSelector", s.Placement.ClusterSelector)
	s.Placement.Program = v.expr(o, "spec.placement.conditional", s.Placement.Conditional, scopeCluster)
	if len(s.Sources) == 0 {
		v.add(o.Errorf("spec.sources", "a workspace needs at least one source"))
	}
	for i := range s.Sources {
		src := &s.Sources[i]
		f := fmt.Sprintf("spec.sources[%d]", i)
		switch {
		case src.Chart != nil && (src.Path != "" || src.Cluster != "" || len(src.ResourceSelectors) > 0):
			v.add(o.Errorf(f, "set chart alone: a chart source is neither a path nor a cluster"))
		case src.Chart != nil:
			v.chart(w, f+".chart", src.Chart)
		case src.Path != "" && src.Cluster != "":
			v.add(o.Errorf(f, "set either path or cluster, not both"))
		case src.Path == "" && src.Cluster == "":
			v.add(o.Errorf(f, "set path (a directory in the repo), cluster (a source cluster) or chart (a Helm chart in the repo)"))
		case src.Path != "":
			v.relPath(o, f+".path", src.Path, true)
			if len(src.ResourceSelectors) > 0 {
				v.add(o.Errorf(f+".resourceSelectors", "resourceSelectors choose live objects of a source cluster; with path every object in it is used"))
			}
		default:
			v.clusterRef(o, f+".cluster", src.Cluster)
			if len(src.ResourceSelectors) == 0 {
				v.add(o.Errorf(f+".resourceSelectors", "a cluster source needs at least one resource selector"))
			}
			for j, rs := range src.ResourceSelectors {
				if rs.Version == "" || rs.Kind == "" || rs.Group == "*" {
					v.add(o.Errorf(fmt.Sprintf("%s.resourceSelectors[%d]", f, j), "a cluster source's selectors name one kind to read: set version and kind (and group, unless core)"))
				}
			}
		}
		v.resourceSelectors(o, f+".resourceSelectors", src.ResourceSelectors)
	}
	if s.Rollout != nil {
		v.rollout(o, s.Rollout)
	}
	for i, n := range s.ProjectionPolicies {
		if v.p.ProjectionPolicy(n) == nil {
			v.add(o.Errorf(fmt.Sprintf("spec.projectionPolicies[%d]", i), "ProjectionPolicy %q does not exist%s", n, suggest(n, names(v.p.ProjectionPolicies, func(x *ProjectionPolicy) string { return x.Metadata.Name }))))
		}
	}
	for i, n := range s.AggregationPolicies {
		if v.p.AggregationPolicy(n) == nil {
			v.add(o.Errorf(fmt.Sprintf("spec.aggregationPolicies[%d]", i), "AggregationPolicy %q does not exist%s", n, suggest(n, names(v.p.AggregationPolicies, func(x *AggregationPolicy) string { return x.Metadata.Name }))))
		}
	}
}

// chart checks a chart source: paths in the repo, a release name Helm
// accepts, a namespace, and values transformations as for projections.
func (v *validator) chart(w *VirtualWorkspace, f string, c *ChartSource) {
	o := w.Origin
	v.relPath(o, f+".path", c.Path, true)
	name := c.ReleaseName
	if name == "" {
		name = w.Metadata.Name
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 || len(name) > 53 {
		v.add(o.Errorf(f+".releaseName", "%q is not a valid Helm release name (a DNS-1123 name of at most 53 characters)", name))
	}
	if c.Namespace != "" {
		if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
			v.add(o.Errorf(f+".namespace", "%q is not a valid namespace: %s", c.Namespace, strings.Join(errs, "; ")))
		}
	}
	for i, vf := range c.ValuesFiles {
		v.relPath(o, fmt.Sprintf("%s.valuesFiles[%d]", f, i), vf, true)
	}
	if c.Values != nil && c.Values.Node != nil && c.Values.Node.Kind != yaml3.MappingNode {
		v.add(o.Errorf(f+".values", "values must be a mapping"))
	}
	v.transformations(o, f+".clusterValues", c.ClusterValues)
}

func names[T any](s []T, name func(T) string) map[string]int {
	m := map[string]int{}
	for i, x := range s {
		m[name(x)] = i
	}
	return m
}

// relPath checks that a repo path stays inside the repo and, when mustExist, exists.
func (v *validator) relPath(o Origin, field, p string, mustExist bool) {
	var err error
	if mustExist && v.realRoot != "" {
		_, err = ResolveInRepo(v.realRoot, p)
	} else {
		_, err = CleanRepoPath(p)
	}
	if err != nil {
		v.add(o.Errorf(field, "%v", err))
	}
}

func (v *validator) labelSelector(o Origin, field string, s *LabelSelector) {
	if s == nil {
		return
	}
	if _, err := s.Selector(); err != nil {
		v.add(o.Errorf(field, "invalid label selector: %v", err))
	}
}

// Selector converts the selector for matching. Validation has checked it.
func (s *LabelSelector) Selector() (labels.Selector, error) {
	ls := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
	for _, r := range s.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values})
	}
	return metav1.LabelSelectorAsSelector(ls)
}

// resourceSelectors checks the selectors and keeps them parsed for matching.
func (v *validator) resourceSelectors(o Origin, field string, sels []ResourceSelector) {
	for i := range sels {
		s := &sels[i]
		v.labelSelector(o, fmt.Sprintf("%s[%d].labelSelector", field, i), s.LabelSelector)
		if s.LabelSelector != nil {
			s.Labels, _ = s.LabelSelector.Selector()
		}
		if s.FieldSelector != "" {
			s.Fields, _ = ParseFieldSelector(s.FieldSelector) // checked while decoding
		}
	}
}

func (v *validator) projection(x *ProjectionPolicy) {
	o, s := x.Origin, &x.Spec
	switch s.Mode {
	case ModeSelective:
		if len(s.TargetClusters) == 0 {
			v.add(o.Errorf("spec.targetClusters", "mode Selective needs targetClusters"))
		}
	case ModeConditional:
		// As the seed writes it: without a policy conditional the policy
		// acts on every cluster and each transformation's conditional decides.
		guarded := slices.ContainsFunc(s.Transformations, func(t Transformation) bool { return t.Conditional != "" })
		if s.Conditional == "" && !guarded {
			v.add(o.Errorf("spec.conditional", "mode Conditional needs a conditional expression, here or on its transformations"))
		}
	}
	if s.Mode != ModeSelective && len(s.TargetClusters) > 0 {
		v.add(o.Errorf("spec.targetClusters", "targetClusters is only used with mode Selective (mode is %s)", s.Mode))
	}
	if s.Mode != ModeConditional && s.Conditional != "" {
		v.add(o.Errorf("spec.conditional", "conditional is only used with mode Conditional (mode is %s); guard a transformation with its own conditional", s.Mode))
	}
	for i, c := range s.TargetClusters {
		v.clusterRef(o, fmt.Sprintf("spec.targetClusters[%d]", i), c)
	}
	s.Program = v.expr(o, "spec.conditional", s.Conditional, scopeCluster)
	v.resourceSelectors(o, "spec.resourceSelectors", s.ResourceSelectors)
	v.transformations(o, "spec.transformations", s.Transformations)
}

func (v *validator) transformations(o Origin, field string, ts []Transformation) {
	if len(ts) > limits.MaxTransformations {
		v.add(o.Errorf(field, "%d transformations: at most %d in one policy", len(ts), limits.MaxTransformations))
		return
	}
	for i := range ts {
		t := &ts[i]
		f := fmt.Sprintf("%s[%d]", field, i)
		t.Path, _ = fieldpath.Parse(t.JSONPath) // checked while decoding
		if len(t.Path.Segments) > 0 && t.Path.Segments[0].Kind == fieldpath.Field {
			if k := t.Path.Segments[0].Key; k == "apiVersion" || k == "kind" {
				v.add(o.Errorf(f+".jsonPath", "a transformation may not change %s: an object keeps the type it was written or read as (a Secret stays a Secret, and its values stay masked)", k))
			}
		}
		switch t.Type {
		case TransformSet, TransformReplace:
			if t.Value == nil {
				v.add(o.Errorf(f+".value", "transformation %s needs a value", t.Type))
			}
		case TransformDelete:
			if t.Value != nil {
				v.add(o.Errorf(f+".value", "transformation Delete takes no value"))
			}
		case TransformTemplate:
			if t.Value == nil || t.Value.Node.Tag != "!!str" {
				v.add(o.Errorf(f+".value", "transformation Template needs a string value holding the template, such as '{{.OriginalName}}-{{.TargetCluster}}'"))
				break
			}
			tmpl, err := parseTemplate("template", t.Value.Node.Value)
			if err != nil {
				v.add(o.Errorf(f+".value", "invalid template: %s", strings.TrimPrefix(err.Error(), "template: ")))
			}
			t.Template = tmpl
		}
		t.Program = v.expr(o, f+".conditional", t.Conditional, scopeResource)
	}
}

func (v *validator) aggregation(x *AggregationPolicy) {
	o, s := x.Origin, &x.Spec
	for i := range s.LabelSelectors {
		v.labelSelector(o, fmt.Sprintf("spec.labelSelectors[%d]", i), &s.LabelSelectors[i])
	}
	if s.Scope == ScopeSelected && len(s.LabelSelectors) == 0 && len(s.Namespaces) == 0 {
		v.add(o.Errorf("spec.scope", "scope Selected reads objects tmc did not apply: narrow it with labelSelectors or namespaces"))
	}
	if len(s.Namespaces) > limits.MaxPolicyNamespaces {
		v.add(o.Errorf("spec.namespaces", "%d namespaces: at most %d (each is one LIST per cluster on every aggregation; select by labels instead)", len(s.Namespaces), limits.MaxPolicyNamespaces))
	}
	for i, ns := range s.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			v.add(o.Errorf(fmt.Sprintf("spec.namespaces[%d]", i), "%q is not a valid namespace: %s", ns, strings.Join(errs, "; ")))
		}
	}
	v.transformations(o, "spec.transformations", s.Transformations)
	for i, t := range s.Transformations {
		if t.Type == TransformTemplate {
			v.add(o.Errorf(fmt.Sprintf("spec.transformations[%d].type", i), "Template transformations rename objects and are not used in aggregation"))
		}
	}
	s.HealthProgram = v.expr(o, "spec.healthExpression", s.HealthExpression, scopeResource)
}

// expr compiles an expression field; a compile error names the field and shows expr's caret snippet.
func (v *validator) expr(o Origin, field, src string, scope exprScope) *Program {
	if src == "" {
		return nil
	}
	prog, err := compileExpr(src, scope)
	if err != nil {
		v.add(o.Errorf(field, "invalid expression: %v", err))
		return nil
	}
	prog.Pos, prog.Object, prog.Field = o.At(field), o.Object, field
	return prog
}

// rollout checks a workspace's waves: named uniquely, choosing clusters as
// placement does, with windows that parse.
func (v *validator) rollout(o Origin, r *Rollout) {
	if len(r.Waves) == 0 {
		v.add(o.Errorf("spec.rollout.waves", "a rollout needs at least one wave"))
	}
	if len(r.Waves) > limits.MaxWaves {
		v.add(o.Errorf("spec.rollout.waves", "%d waves: a rollout has at most %d", len(r.Waves), limits.MaxWaves))
		return
	}
	seen := map[string]bool{}
	for i := range r.Waves {
		w := &r.Waves[i]
		f := fmt.Sprintf("spec.rollout.waves[%d]", i)
		switch {
		case w.Name == RestWave:
			v.add(o.Errorf(f+".name", "%q is the wave of the clusters no wave chooses; name this wave otherwise", RestWave))
		case seen[w.Name]:
			v.add(o.Errorf(f+".name", "wave %q is named twice", w.Name))
		case len(validation.IsDNS1123Label(w.Name)) > 0:
			v.add(o.Errorf(f+".name", "invalid wave name %q: %s", w.Name, strings.Join(validation.IsDNS1123Label(w.Name), "; ")))
		}
		seen[w.Name] = true
		if len(w.Clusters) == 0 && w.ClusterSelector == nil && w.Conditional == "" {
			v.add(o.Errorf(f, "a wave chooses its clusters: set clusters, clusterSelector or conditional"))
		}
		for j, c := range w.Clusters {
			v.clusterRef(o, fmt.Sprintf("%s.clusters[%d]", f, j), c)
		}
		v.labelSelector(o, f+".clusterSelector", w.ClusterSelector)
		if w.ClusterSelector != nil {
			w.Selector, _ = w.ClusterSelector.Selector()
		}
		w.Program = v.expr(o, f+".conditional", w.Conditional, scopeCluster)
		if w.Window != nil {
			if _, err := w.Window.Parse(); err != nil {
				v.add(o.Errorf(f+".window", "%v", err))
			}
		}
	}
}
