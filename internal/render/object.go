package render

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/limits"
	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/policy"
)

// object renders one source object for one cluster, applying the
// transformations of the acting policies in order.
func (r *renderer) object(cluster string, src *Source, acting []*policy.ProjectionPolicy) (*Object, *policy.Error) {
	node := yaml.NewRNode(cloneNode(src.Node.YNode()))
	o := &Object{SourceID: src.ID, Source: src.Pos, From: src}
	facts := r.facts[cluster].facts
	grown := 0 // bounds what the transformations added, as JSON bytes
	for _, pp := range acting {
		if r.work += len(pp.Spec.Transformations); r.work > limits.MaxTransformWork {
			return nil, pp.Origin.Errorf("spec.transformations", "the render would run more than %d transformations in all (objects × clusters × transformations): fewer transformations, or narrower resourceSelectors", limits.MaxTransformWork)
		}
		for i := range pp.Spec.Transformations {
			t := &pp.Spec.Transformations[i]
			a, err := r.transform(node.YNode(), cluster, facts, src, t)
			if err != nil {
				return nil, pp.Origin.Errorf(fmt.Sprintf("spec.transformations[%d]", i), "%s on cluster %s: %v", src.ID, cluster, err)
			}
			a.Policy, a.Index = pp.Metadata.Name, i
			grown += a.grown
			o.Transformations = append(o.Transformations, a)
		}
	}
	o.Node = node
	o.ID = object.FromAPIVersion(node.GetApiVersion(), node.GetKind(), node.GetNamespace(), node.GetName())
	if o.ID.Name == "" || o.ID.Kind == "" || o.ID.Version == "" {
		return nil, &policy.Error{Pos: src.Pos, Message: fmt.Sprintf("%s on cluster %s: transformations left the object without apiVersion, kind or metadata.name", src.ID, cluster)}
	}
	if o.ID != src.ID {
		if err := o.ID.Validate(); err != nil {
			return nil, &policy.Error{Pos: src.Pos, Message: fmt.Sprintf("%s on cluster %s: transformations made an invalid object: %v", src.ID, cluster, err)}
		}
	}
	// The size after transformations, bounded from above by the source's
	// plus every value set (measured once per transformation), is measured
	// exactly only when that bound passes the API server's limit.
	size := src.size + grown
	if size > limits.MaxObjectSize {
		sh, err := limits.Measure(node.YNode())
		if err != nil {
			return nil, &policy.Error{Pos: src.Pos, Message: fmt.Sprintf("%s on cluster %s: %v", src.ID, cluster, err)}
		}
		if size = sh.JSONSize(); size > limits.MaxObjectSize {
			return nil, &policy.Error{Pos: src.Pos, Message: fmt.Sprintf("%s on cluster %s: transformations made it larger than %d MiB, more than the API server accepts", src.ID, cluster, limits.MaxObjectSize>>20)}
		}
	}
	if r.outputBytes += size; r.outputBytes > limits.MaxRenderOutput {
		r.overflow = true
		return nil, &policy.Error{Pos: src.Pos, Message: fmt.Sprintf("the render produces more than %d MiB of objects for all clusters (stopped at %s on cluster %s)", limits.MaxRenderOutput>>20, src.ID, cluster)}
	}
	return o, nil
}

// transform applies one transformation to an object node.
func (r *renderer) transform(n *yaml3.Node, cluster string, facts policy.ClusterFacts, src *Source, t *policy.Transformation) (Applied, error) {
	a := Applied{Type: t.Type, Path: t.JSONPath}
	if t.Program != nil {
		env := &policy.Env{Cluster: facts, Workspace: r.ws}
		if t.Program.UsesResource {
			m, err := src.data()
			if err != nil {
				return a, err
			}
			env.Resource = m
		}
		ok, err := t.Program.Bool(env)
		if err != nil {
			var pe *policy.Error
			if errors.As(err, &pe) {
				return a, errors.New(pe.Message)
			}
			return a, err
		}
		a.Conditional, a.Facts = t.Program.Source, t.Program.Facts(env)
		if !ok {
			a.Effect = "skipped"
			return a, nil
		}
	}
	var v *yaml3.Node
	switch t.Type {
	case policy.TransformSet, policy.TransformReplace:
		var err error
		if v, err = r.value(t); err != nil {
			return a, err
		}
		a.Value, a.grown = short(v), r.valueSizes[t]
	case policy.TransformTemplate:
		text, err := r.template(t, cluster, facts, src)
		if err != nil {
			return a, err
		}
		v, a.Value, a.grown = scalarString(text), text, len(text)+4
	}
	eff, err := t.Apply(n, v)
	if eff == fieldpath.EffectNoop && t.Type == policy.TransformReplace {
		a.Value, a.grown = "", 0 // nothing to replace: nothing set
	}
	a.Effect = string(eff)
	return a, err
}

// value returns a transformation's value with aliases expanded, once per
// transformation (policy.Value.Expanded bounds it).
func (r *renderer) value(t *policy.Transformation) (*yaml3.Node, error) {
	if v, ok := r.values[t]; ok {
		return v, nil
	}
	v, err := t.Value.Expanded()
	if err != nil {
		return nil, err
	}
	sh, err := limits.Measure(v)
	if err != nil {
		return nil, err
	}
	r.values[t], r.valueSizes[t] = v, sh.JSONSize()
	return v, nil
}

// short renders a value node as one line of YAML for explanations.
func short(n *yaml3.Node) string {
	if n.Kind == yaml3.ScalarNode {
		if n.Tag == "!!str" {
			return fmt.Sprintf("%q", n.Value)
		}
		return n.Value
	}
	s, err := yaml.NewRNode(n).String()
	if err != nil {
		return "?"
	}
	s = strings.TrimSpace(s)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strings.ReplaceAll(s, "\n", " ")
}

// limitedWriter fails once more than max bytes are written, which stops a template.
type limitedWriter struct {
	b   strings.Builder
	max int
}

var errTooLong = fmt.Errorf("template output is longer than %d KiB", limits.MaxTemplateOutput>>10)

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, errTooLong
	}
	return w.b.Write(p)
}

func (r *renderer) template(t *policy.Transformation, cluster string, facts policy.ClusterFacts, src *Source) (string, error) {
	data := policy.TemplateData{
		OriginalName:  src.ID.Name,
		Namespace:     src.ID.Namespace,
		Kind:          src.ID.Kind,
		TargetCluster: cluster,
		SourceCluster: src.cluster,
		Cluster:       facts,
		Workspace:     r.ws,
	}
	w := &limitedWriter{max: limits.MaxTemplateOutput}
	if err := t.Template.Execute(w, data); err != nil {
		if errors.Is(err, errTooLong) {
			return "", errTooLong
		}
		return "", fmt.Errorf("template: %v", strings.TrimPrefix(err.Error(), "template: "))
	}
	if !utf8.ValidString(w.b.String()) {
		return "", fmt.Errorf("template output is not valid UTF-8")
	}
	return w.b.String(), nil
}

// data returns the source object as plain data for `resource` in expressions.
func (s *Source) data() (map[string]any, error) {
	if s.asMap != nil {
		return s.asMap, nil
	}
	var m map[string]any
	if err := s.Node.YNode().Decode(&m); err != nil {
		return nil, err
	}
	s.asMap = m
	return m, nil
}

func filepathEval(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
