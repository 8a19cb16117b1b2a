package policy

import (
	"fmt"

	yaml3 "go.yaml.in/yaml/v3"

	"github.com/kcp-dev/tmc/internal/fieldpath"
)

// Apply carries out the transformation on the object node n: Set (and
// Template, whose value is the text it rendered) sets the path to a copy of
// value, Replace does so only where the field exists (no-op otherwise),
// Delete removes it. It is the one interpreter of transformations: render
// (projection) and aggregation both call it, after their own conditional
// and value handling.
func (t *Transformation) Apply(n, value *yaml3.Node) (fieldpath.Effect, error) {
	switch t.Type {
	case TransformReplace:
		if fieldpath.Get(n, t.Path) == nil {
			return fieldpath.EffectNoop, nil
		}
		return fieldpath.Set(n, t.Path, fieldpath.CopyValue(value))
	case TransformSet, TransformTemplate:
		return fieldpath.Set(n, t.Path, fieldpath.CopyValue(value))
	case TransformDelete:
		return fieldpath.Delete(n, t.Path), nil
	}
	return fieldpath.EffectNoop, fmt.Errorf("unknown transformation type %q", t.Type)
}
