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
		opts := []client.ListOption{client.Limit(500)}
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
		cont := ""
		for {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			if err := c.Client.List(ctx, list, append(opts, client.Continue(cont))...); err != nil {
				return nil, fmt.Errorf("list %s: %w", gvk.Kind, err)
			}
			for _, item := range list.Items {
				if seen[string(item.GetUID())] {
					continue
				}
				seen[string(item.GetUID())] = true
				item.SetGroupVersionKind(gvk)
				out = append(out, item.Object)
			}
			if cont = list.GetContinue(); cont == "" {
				break
			}
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
