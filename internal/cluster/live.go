package cluster

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/policy"
)

// Objects lists, on a source cluster, the objects of each selector's kind,
// narrowed on the server by its label selector and a metadata.namespace
// field term; the caller applies the full selectors. It implements render.Live.
func (s *Set) Objects(ctx context.Context, name string, sels []policy.ResourceSelector) ([]map[string]any, error) {
	c, err := s.Get(name)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []map[string]any
	for _, sel := range sels {
		group := sel.Group
		if group == "core" {
			group = ""
		}
		gvk := schema.GroupVersionKind{Group: group, Version: sel.Version, Kind: sel.Kind}
		var opts []client.ListOption
		if sel.LabelSelector != nil {
			ls, err := sel.LabelSelector.Selector()
			if err != nil {
				return nil, err
			}
			opts = append(opts, client.MatchingLabelsSelector{Selector: ls})
		}
		if ns := namespaceTerm(sel.FieldSelector); ns != "" {
			opts = append(opts, client.InNamespace(ns))
		}
		err := c.ListPages(ctx, gvk, 0, opts, func(item *unstructured.Unstructured) {
			if !seen[string(item.GetUID())] {
				seen[string(item.GetUID())] = true
				out = append(out, item.Object)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
	}
	return out, nil
}

// namespaceTerm returns X of a metadata.namespace=X term, for a server-side narrowing.
func namespaceTerm(fs string) string {
	reqs, _ := policy.ParseFieldSelector(fs) // checked while decoding
	for _, r := range reqs {
		if r.Field == "metadata.namespace" && !r.NotEqual {
			return r.Value
		}
	}
	return ""
}
