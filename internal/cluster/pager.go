package cluster

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultPageSize is the page size of paged LISTs.
const DefaultPageSize = 500

// ListPages lists a kind in pages of page objects (DefaultPageSize when 0),
// following continue tokens, and calls fn with each item, its apiVersion and
// kind set (a LIST leaves them empty on items). It is the one pager of tmc:
// planning, aggregation and live sources all read through it.
func (c *Client) ListPages(ctx context.Context, gvk schema.GroupVersionKind, page int64, opts []client.ListOption, fn func(*unstructured.Unstructured)) error {
	if page <= 0 {
		page = DefaultPageSize
	}
	cont := ""
	for {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		o := append(append([]client.ListOption(nil), opts...), client.Limit(page), client.Continue(cont))
		if err := c.Client.List(ctx, list, o...); err != nil {
			return err
		}
		for i := range list.Items {
			item := &list.Items[i]
			item.SetGroupVersionKind(gvk)
			fn(item)
		}
		if cont = list.GetContinue(); cont == "" {
			return nil
		}
	}
}
