package apply

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/internal/plan"
)

// TestObjectResultsSupportErrorsAs: callers tell outcomes apart with
// errors.As, never by matching text.
func TestObjectResultsSupportErrorsAs(t *testing.T) {
	ch := &plan.Change{Workspace: "w", LogicalCluster: "root", Cluster: "c1", Action: plan.Update, APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "web"}
	id := ch.ID()
	conflict := objectResult(ch, &ConflictError{Cluster: "c1", ID: id, Fields: ".spec.replicas owned by kubectl-edit"})
	var ce *ConflictError
	if conflict.Done || !errors.As(conflict.Err, &ce) || ce.ID != id {
		t.Errorf("conflict: %+v", conflict)
	}
	immutable := objectResult(ch, fmt.Errorf("wrapped: %w", &ImmutableError{Cluster: "c1", ID: id, Message: "field is immutable"}))
	var ie *ImmutableError
	if !errors.As(immutable.Err, &ie) {
		t.Errorf("immutable: %+v", immutable)
	}
	other := objectResult(ch, errors.New("Deployment/web/web: apply failed: boom"))
	var oe *ObjectError
	if !errors.As(other.Err, &oe) || oe.ID != (object.ID{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "web"}) || oe.Cluster != "c1" {
		t.Errorf("other: %+v", other)
	}
	if errors.As(other.Err, &ce) {
		t.Error("a plain failure is not a conflict")
	}
	ok := objectResult(ch, nil)
	if !ok.Done || ok.Err != nil {
		t.Errorf("success: %+v", ok)
	}
	var ue *UnreachableError
	if err := error(&UnreachableError{Cluster: "c2", Reason: "connection refused"}); !errors.As(err, &ue) || err.Error() != "unreachable when planned: connection refused" {
		t.Errorf("unreachable: %v", err)
	}
}
