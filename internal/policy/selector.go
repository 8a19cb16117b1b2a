package policy

import (
	"fmt"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"

	"github.com/kcp-dev/tmc/internal/fieldpath"
)

// FieldRequirement is one term of a field selector: the field at Path equals
// (or, with NotEqual, differs from) Value.
type FieldRequirement struct {
	// Field is the path as written.
	Field string
	// Path is Field parsed.
	Path fieldpath.Path
	// NotEqual is true for `!=`.
	NotEqual bool
	// Value is compared with the field's value as a string.
	Value string
}

// ParseFieldSelector parses comma-separated `field=value`, `field==value` and
// `field!=value` terms, e.g. `metadata.namespace=web,spec.type!=NodePort`.
func ParseFieldSelector(s string) ([]FieldRequirement, error) {
	var out []FieldRequirement
	for _, term := range strings.Split(s, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			return nil, fmt.Errorf("empty term")
		}
		var r FieldRequirement
		var ok bool
		if r.Field, r.Value, ok = strings.Cut(term, "!="); ok {
			r.NotEqual = true
		} else if r.Field, r.Value, ok = strings.Cut(term, "=="); !ok {
			if r.Field, r.Value, ok = strings.Cut(term, "="); !ok {
				return nil, fmt.Errorf("term %q has no =, == or !=", term)
			}
		}
		r.Field = strings.TrimSpace(r.Field)
		r.Value = strings.TrimSpace(r.Value)
		p, err := fieldpath.Parse(r.Field)
		if err != nil {
			return nil, fmt.Errorf("term %q: %s", term, err.(*fieldpath.Error).Message)
		}
		r.Path = p
		out = append(out, r)
	}
	return out, nil
}

// MatchFields reports whether every requirement holds on the object node n;
// a missing field reads as "". Render's resource selectors and
// aggregation's field selectors both match through it.
func MatchFields(reqs []FieldRequirement, n *yaml3.Node) bool {
	for _, r := range reqs {
		v, _ := fieldpath.Scalar(n, r.Path)
		if (v == r.Value) == r.NotEqual {
			return false
		}
	}
	return true
}

// Equal returns X of the first field=X requirement on field (such as
// metadata.namespace), or "".
func Equal(reqs []FieldRequirement, field string) string {
	for _, r := range reqs {
		if r.Field == field && !r.NotEqual {
			return r.Value
		}
	}
	return ""
}
