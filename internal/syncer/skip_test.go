package syncer

import (
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kcp-dev/tmc/internal/plan"
)

// TestCanSkip: an interval skips only a converged, event-free, known
// revision, and never more than FullResyncEvery times in a row.
func TestCanSkip(t *testing.T) {
	cases := []struct {
		name                    string
		known, converged, dirty bool
		skipped                 int
		want                    bool
	}{
		{"steady", true, true, false, 0, true},
		{"steady, last skip before a full resync", true, true, false, FullResyncEvery - 1, true},
		{"full resync due", true, true, false, FullResyncEvery, false},
		{"new revision", false, true, false, 0, false},
		{"last reconcile failed", true, false, false, 0, false},
		{"an event since", true, true, true, 0, false},
	}
	for _, tc := range cases {
		if got := canSkip(tc.known, tc.converged, tc.dirty, tc.skipped); got != tc.want {
			t.Errorf("%s: canSkip = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Simulate intervals: skips run up to the limit, then one full reconcile resets the count.
	s := &Syncer{lastOK: true}
	reconciles := 0
	for range 3 * (FullResyncEvery + 1) {
		if canSkip(true, s.lastOK, false, s.skipped) {
			s.skipped++
			continue
		}
		s.skipped = 0
		reconciles++
	}
	if reconciles != 3 {
		t.Errorf("%d full reconciles in %d idle intervals, want 3", reconciles, 3*(FullResyncEvery+1))
	}
}

// TestIsImmutable: only a real immutable-field refusal counts (not every Invalid).
func TestIsImmutable(t *testing.T) {
	gk := schema.GroupKind{Group: "apps", Kind: "Deployment"}
	immutable := apierrors.NewInvalid(gk, "web", field.ErrorList{field.Invalid(field.NewPath("spec", "selector"), "x", "field is immutable")})
	invalid := apierrors.NewInvalid(gk, "web", field.ErrorList{field.Required(field.NewPath("spec", "template"), "")})
	if !plan.IsImmutable(immutable) || plan.IsImmutable(invalid) || plan.IsImmutable(errors.New("is immutable")) || plan.IsImmutable(nil) {
		t.Error("IsImmutable misjudges")
	}
}
