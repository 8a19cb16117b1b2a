package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/mask"
	"github.com/kcp-dev/tmc/internal/object"
)

// Masks that replace Secret values, as fluxcd/pkg/ssa writes them.
const (
	Mask       = mask.Value
	MaskBefore = "*** (before)"
	MaskAfter  = "*** (after)"
)

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// clean returns a copy without the fields the server owns, for diffs.
func clean(u *unstructured.Unstructured) *unstructured.Unstructured {
	if u == nil {
		return nil
	}
	c := u.DeepCopy()
	object.DropServerMetadata(c.Object)
	unstructured.RemoveNestedField(c.Object, "status")
	if len(c.GetAnnotations()) == 0 {
		unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
	}
	return c
}

// maskSecrets replaces Secret data/stringData values and the last-applied annotation
// in both objects (either may be nil): equal values become ***, differing
// ones *** (before) / *** (after).
func maskSecrets(before, after *unstructured.Unstructured) {
	secret := func(u *unstructured.Unstructured) bool {
		return u != nil && mask.IsSecret(u.GetAPIVersion(), u.GetKind())
	}
	if secret(before) || secret(after) {
		for _, field := range []string{"data", "stringData"} {
			maskMap(before, after, field)
		}
	}
	for _, u := range []*unstructured.Unstructured{before, after} {
		if u == nil {
			continue
		}
		if a := u.GetAnnotations(); a != nil {
			if _, ok := a[lastApplied]; ok {
				a[lastApplied] = Mask
				u.SetAnnotations(a)
			}
		}
	}
}

func maskMap(before, after *unstructured.Unstructured, field string) {
	get := func(u *unstructured.Unstructured) map[string]any {
		if u == nil {
			return nil
		}
		m, _, _ := unstructured.NestedMap(u.Object, field)
		return m
	}
	b, a := get(before), get(after)
	for k, bv := range b {
		av, ok := a[k]
		switch {
		case !ok:
			b[k] = Mask
		case av != bv:
			b[k], a[k] = MaskBefore, MaskAfter
		default:
			b[k], a[k] = Mask, Mask
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			a[k] = Mask
		}
	}
	if before != nil && b != nil {
		_ = unstructured.SetNestedMap(before.Object, b, field)
	}
	if after != nil && a != nil {
		_ = unstructured.SetNestedMap(after.Object, a, field)
	}
}

// unifiedDiff diffs two objects as YAML, masked; nil stands for "absent".
func unifiedDiff(name string, before, after *unstructured.Unstructured) string {
	before, after = clean(before), clean(after)
	maskSecrets(before, after)
	text := func(u *unstructured.Unstructured) string {
		if u == nil {
			return ""
		}
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			return "<" + err.Error() + ">\n"
		}
		return string(b)
	}
	lines := func(s string) []string {
		if s == "" {
			return nil
		}
		return difflib.SplitLines(strings.TrimSuffix(s, "\n"))
	}
	d := difflib.UnifiedDiff{
		A:        lines(text(before)),
		B:        lines(text(after)),
		FromFile: "live/" + name,
		ToFile:   "desired/" + name,
		Context:  3,
	}
	s, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return s
}

// Digest hashes a desired object (canonical JSON: map keys are sorted); apply
// checks a saved plan's digests against a fresh render.
func Digest(u *unstructured.Unstructured) string {
	b, _ := json.Marshal(u.Object)
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}
