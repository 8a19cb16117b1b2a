package tmc

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/engine"
	"github.com/kcp-dev/tmc/internal/policy"
)

// Policies as Go values, in the seed's shapes: an embedder builds
// ProjectionPolicy and AggregationPolicy literals in code and hands them to
// OpenWithPolicies next to a policy tree. Each becomes the policy document
// it stands for and goes through the very decoding and validation a YAML
// file of the tree goes through, so a policy set built in Go renders,
// plans and aggregates exactly as the same policies written in YAML.

// ProjectionMode chooses the clusters a projection policy acts on.
type ProjectionMode string

// The projection modes.
const (
	// ProjectionModeAll projects to every target cluster of the workspace.
	ProjectionModeAll ProjectionMode = "All"
	// ProjectionModeSelective projects only to TargetClusters.
	ProjectionModeSelective ProjectionMode = "Selective"
	// ProjectionModeConditional acts where Conditional holds (or, without
	// one, where each transformation's own Conditional holds).
	ProjectionModeConditional ProjectionMode = "Conditional"
)

// ProjectionPolicy says which objects of a workspace go to which clusters
// and how they change there.
type ProjectionPolicy struct {
	Mode           ProjectionMode
	TargetClusters []string
	// Conditional is an expr-lang expression over cluster and workspace,
	// for ProjectionModeConditional.
	Conditional       string
	ResourceSelectors []ResourceSelector
	Transformations   []ResourceTransformation
}

// ResourceSelector chooses objects by kind, labels, fields and name. An
// empty GVK.Group with a Kind set means the core group, as in Kubernetes.
type ResourceSelector struct {
	GVK           schema.GroupVersionKind
	LabelSelector labels.Selector
	// FieldSelector is comma-separated field=value / field!=value terms.
	FieldSelector string
	// NamePattern is a glob on the object's name, e.g. web-*.
	NamePattern string
}

// TransformationType is what a transformation does to its field.
type TransformationType string

// The transformation types.
const (
	TransformationTypeSet      TransformationType = "Set"
	TransformationTypeDelete   TransformationType = "Delete"
	TransformationTypeReplace  TransformationType = "Replace"
	TransformationTypeTemplate TransformationType = "Template"
)

// ResourceTransformation changes one field of an object for one target
// cluster, where Conditional (an expr-lang expression over cluster,
// resource and workspace) holds.
type ResourceTransformation struct {
	Type        TransformationType
	JSONPath    string
	Value       interface{}
	Conditional string
}

// ResourceMergeStrategy builds one object from a resource's instances.
type ResourceMergeStrategy string

// The merge strategies.
const (
	MergeStrategyUnion        ResourceMergeStrategy = "Union"
	MergeStrategyIntersection ResourceMergeStrategy = "Intersection"
	MergeStrategyPriority     ResourceMergeStrategy = "Priority"
	MergeStrategyLatest       ResourceMergeStrategy = "Latest"
)

// ConflictResolutionStrategy decides a field the instances disagree on.
type ConflictResolutionStrategy string

// The conflict resolutions.
const (
	ConflictResolutionLastWriter ConflictResolutionStrategy = "LastWriter"
	ConflictResolutionPriority   ConflictResolutionStrategy = "Priority"
	ConflictResolutionReport     ConflictResolutionStrategy = "Report"
)

// HealthAggregationStrategy combines the instances' health.
type HealthAggregationStrategy string

// The health aggregations.
const (
	HealthAggregationMajority HealthAggregationStrategy = "Majority"
	HealthAggregationAll      HealthAggregationStrategy = "All"
	HealthAggregationAny      HealthAggregationStrategy = "Any"
	HealthAggregationWeighted HealthAggregationStrategy = "Weighted"
)

// StatusMergingStrategy combines the instances' status.
type StatusMergingStrategy string

// The status mergings.
const (
	StatusMergingCombined   StatusMergingStrategy = "Combined"
	StatusMergingPerCluster StatusMergingStrategy = "PerCluster"
	StatusMergingPriority   StatusMergingStrategy = "Priority"
)

// AggregationTransformation changes one field of every instance before
// the instances are merged (a Delete of a volatile field, say).
type AggregationTransformation struct {
	Type        TransformationType
	JSONPath    string
	Value       interface{}
	Conditional string
}

// AggregationPolicy says how one kind is read back from every target
// cluster of a workspace and merged into one view.
type AggregationPolicy struct {
	GVK                schema.GroupVersionKind
	MergeStrategy      ResourceMergeStrategy
	ConflictResolution ConflictResolutionStrategy
	HealthAggregation  HealthAggregationStrategy
	StatusMerging      StatusMergingStrategy
	// LabelSelectors narrow the objects read: an object must match all.
	LabelSelectors []labels.Selector
	// FieldSelectors narrow the objects read, e.g. metadata.namespace=web.
	FieldSelectors  []string
	Transformations []AggregationTransformation
}

// PolicySet holds policies built in Go, by name; a VirtualWorkspace of the
// tree names them in spec.projectionPolicies and spec.aggregationPolicies
// as it names the tree's own.
type PolicySet struct {
	ProjectionPolicies  map[string]ProjectionPolicy
	AggregationPolicies map[string]*AggregationPolicy
}

// OpenWithPolicies loads the policy tree in dir (its Clusters, workspaces,
// sources and any policies written in YAML) together with the policies of
// set, validating all of them at once. An error in a Go-built policy names
// it and its Go field path, e.g.
// `ProjectionPolicies["edge"]: ProjectionPolicy/edge: Transformations[1].JSONPath: …`.
func OpenWithPolicies(ctx context.Context, dir string, set PolicySet) (*Repo, error) {
	docs := map[string][]byte{}
	var errs ErrorList
	for name, pp := range set.ProjectionPolicies {
		file := fmt.Sprintf("ProjectionPolicies[%q]", name)
		doc, err := pp.document(name)
		if err != nil {
			errs = append(errs, &Error{Pos: policy.Pos{File: file}, Object: policy.KindProjectionPolicy + "/" + name, Message: err.Error()})
			continue
		}
		docs[file] = doc
	}
	for name, ap := range set.AggregationPolicies {
		file := fmt.Sprintf("AggregationPolicies[%q]", name)
		if ap == nil {
			errs = append(errs, &Error{Pos: policy.Pos{File: file}, Object: policy.KindAggregationPolicy + "/" + name, Message: "nil policy"})
			continue
		}
		doc, err := ap.document(name)
		if err != nil {
			errs = append(errs, &Error{Pos: policy.Pos{File: file}, Object: policy.KindAggregationPolicy + "/" + name, Message: err.Error()})
			continue
		}
		docs[file] = doc
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	p, err := policy.LoadWith(ctx, dir, docs)
	if list, ok := err.(policy.ErrorList); ok {
		for _, e := range list {
			if _, goBuilt := docs[e.File]; goBuilt {
				// No file and no line: the Go field path instead.
				e.Line, e.Column, e.Field = 0, 0, goField(e.Field)
			}
		}
		return nil, list
	}
	if err != nil {
		return nil, err
	}
	return &engine.Repo{Policies: p}, nil
}

// document is the ProjectionPolicy YAML the value stands for.
func (pp ProjectionPolicy) document(name string) ([]byte, error) {
	spec := map[string]any{}
	if pp.Mode != "" {
		spec["mode"] = string(pp.Mode)
	}
	if len(pp.TargetClusters) > 0 {
		spec["targetClusters"] = pp.TargetClusters
	}
	if pp.Conditional != "" {
		spec["conditional"] = pp.Conditional
	}
	var sels []any
	for i, s := range pp.ResourceSelectors {
		m, err := s.document()
		if err != nil {
			return nil, fmt.Errorf("ResourceSelectors[%d].%v", i, err)
		}
		sels = append(sels, m)
	}
	if sels != nil {
		spec["resourceSelectors"] = sels
	}
	var ts []any
	for _, t := range pp.Transformations {
		ts = append(ts, transformation(t.Type, t.JSONPath, t.Value, t.Conditional))
	}
	if ts != nil {
		spec["transformations"] = ts
	}
	return policyDocument(policy.KindProjectionPolicy, name, spec)
}

// document is the AggregationPolicy YAML the value stands for.
func (ap *AggregationPolicy) document(name string) ([]byte, error) {
	spec := map[string]any{"gvk": gvk(ap.GVK, false)}
	for k, v := range map[string]string{"mergeStrategy": string(ap.MergeStrategy), "conflictResolution": string(ap.ConflictResolution),
		"healthAggregation": string(ap.HealthAggregation), "statusMerging": string(ap.StatusMerging)} {
		if v != "" {
			spec[k] = v
		}
	}
	var sels []any
	for i, s := range ap.LabelSelectors {
		m, err := labelSelector(s)
		if err != nil {
			return nil, fmt.Errorf("LabelSelectors[%d]: %v", i, err)
		}
		if m != nil {
			sels = append(sels, m)
		}
	}
	if sels != nil {
		spec["labelSelectors"] = sels
	}
	if len(ap.FieldSelectors) > 0 {
		spec["fieldSelectors"] = ap.FieldSelectors
	}
	var ts []any
	for _, t := range ap.Transformations {
		ts = append(ts, transformation(t.Type, t.JSONPath, t.Value, t.Conditional))
	}
	if ts != nil {
		spec["transformations"] = ts
	}
	return policyDocument(policy.KindAggregationPolicy, name, spec)
}

func policyDocument(kind, name string, spec map[string]any) ([]byte, error) {
	return yaml.Marshal(map[string]any{"apiVersion": policy.APIVersion, "kind": kind, "metadata": map[string]any{"name": name}, "spec": spec})
}

func (s ResourceSelector) document() (map[string]any, error) {
	m := gvk(s.GVK, true)
	if s.LabelSelector != nil {
		ls, err := labelSelector(s.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("LabelSelector: %v", err)
		}
		if ls != nil {
			m["labelSelector"] = ls
		}
	}
	if s.FieldSelector != "" {
		m["fieldSelector"] = s.FieldSelector
	}
	if s.NamePattern != "" {
		m["namePattern"] = s.NamePattern
	}
	return m, nil
}

// gvk writes a GroupVersionKind; for a selector, the empty group of a
// named kind is the core group (Kubernetes' convention), which a policy
// file spells "core" (an empty group there matches every group).
func gvk(g schema.GroupVersionKind, selector bool) map[string]any {
	m := map[string]any{}
	group := g.Group
	if selector && group == "" && g.Kind != "" {
		group = "core"
	}
	for k, v := range map[string]string{"group": group, "version": g.Version, "kind": g.Kind} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

func transformation(typ TransformationType, path string, value any, cond string) map[string]any {
	m := map[string]any{"type": string(typ), "jsonPath": path}
	if value != nil {
		m["value"] = value
	}
	if cond != "" {
		m["conditional"] = cond
	}
	return m
}

// labelSelector writes a labels.Selector as a Kubernetes label selector
// (matchLabels for equality, matchExpressions for the set-based terms); nil
// for a selector that matches everything.
func labelSelector(s labels.Selector) (map[string]any, error) {
	if s == nil || s.Empty() {
		return nil, nil
	}
	reqs, selectable := s.Requirements()
	if !selectable {
		return nil, fmt.Errorf("selector %q selects nothing", s.String())
	}
	matchLabels := map[string]any{}
	var exprs []any
	for _, r := range reqs {
		vals := r.ValuesUnsorted()
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals:
			matchLabels[r.Key()] = vals[0]
		case selection.NotEquals:
			exprs = append(exprs, map[string]any{"key": r.Key(), "operator": "NotIn", "values": vals})
		case selection.In:
			exprs = append(exprs, map[string]any{"key": r.Key(), "operator": "In", "values": vals})
		case selection.NotIn:
			exprs = append(exprs, map[string]any{"key": r.Key(), "operator": "NotIn", "values": vals})
		case selection.Exists:
			exprs = append(exprs, map[string]any{"key": r.Key(), "operator": "Exists"})
		case selection.DoesNotExist:
			exprs = append(exprs, map[string]any{"key": r.Key(), "operator": "DoesNotExist"})
		default:
			return nil, fmt.Errorf("operator %q of %q has no label selector form (use In, NotIn, Exists, DoesNotExist or equality)", r.Operator(), r.String())
		}
	}
	out := map[string]any{}
	if len(matchLabels) > 0 {
		out["matchLabels"] = matchLabels
	}
	if exprs != nil {
		out["matchExpressions"] = exprs
	}
	return out, nil
}

var fieldIndex = regexp.MustCompile(`^([a-zA-Z]+)(\[.*\])?$`)

// goFields maps policy file field names to the Go fields they come from.
var goFields = map[string]string{
	"jsonPath": "JSONPath", "gvk": "GVK", "group": "GVK.Group", "version": "GVK.Version", "kind": "GVK.Kind",
}

// goField turns a policy file's field path (spec.transformations[1].jsonPath)
// into the Go field path of the value it was built from (Transformations[1].JSONPath).
func goField(field string) string {
	parts := strings.Split(field, ".")
	if len(parts) > 0 && parts[0] == "spec" {
		parts = parts[1:]
	}
	inGVK := false
	for i, p := range parts {
		m := fieldIndex.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		name := m[1]
		switch g, ok := goFields[name]; {
		case name == "gvk":
			inGVK = true
			name = g
		case inGVK && ok:
			name = strings.TrimPrefix(g, "GVK.")
		case ok:
			name = g
		default:
			name = strings.ToUpper(name[:1]) + name[1:]
		}
		parts[i] = name + m[2]
	}
	return strings.Join(parts, ".")
}
