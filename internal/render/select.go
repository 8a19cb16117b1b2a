package render

import (
	"path"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kcp-dev/tmc/internal/policy"
)

// Matches reports whether an object matches a resource selector. An empty
// group, version or kind matches any; group "core" matches the core group only.
func Matches(s *policy.ResourceSelector, src *Source) bool {
	id := src.ID
	switch s.Group {
	case "", "*":
	case "core":
		if id.Group != "" {
			return false
		}
	default:
		if s.Group != id.Group {
			return false
		}
	}
	if s.Version != "" && s.Version != id.Version {
		return false
	}
	if s.Kind != "" && s.Kind != id.Kind {
		return false
	}
	if s.NamePattern != "" {
		if ok, _ := path.Match(s.NamePattern, id.Name); !ok {
			return false
		}
	}
	// Labels and Fields are the selectors as validation parsed them.
	if s.Labels != nil && !s.Labels.Matches(labels.Set(src.Node.GetLabels())) {
		return false
	}
	return policy.MatchFields(s.Fields, src.Node.YNode())
}

// matchesAny reports whether an object matches any selector; no selectors match every object.
func matchesAny(sels []policy.ResourceSelector, src *Source) bool {
	if len(sels) == 0 {
		return true
	}
	for i := range sels {
		if Matches(&sels[i], src) {
			return true
		}
	}
	return false
}
