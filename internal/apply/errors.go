package apply

import (
	"fmt"

	"github.com/kcp-dev/tmc/internal/object"
)

// The errors apply returns, for errors.As. Their text names the object (or
// cluster) first and masks Secret values.

// ConflictError is an object whose fields another field manager owns; apply
// with ForceConflicts takes them.
type ConflictError struct {
	Cluster string
	ID      object.ID
	// Fields is the API server's conflict message: which fields, which managers.
	Fields string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: conflict: %s (rerun with --force-conflicts to take ownership)", e.ID, e.Fields)
}

// ImmutableError is an object whose change touches an immutable field; apply
// with Force deletes and recreates it.
type ImmutableError struct {
	Cluster string
	ID      object.ID
	// Message is the API server's refusal, masked.
	Message string
}

func (e *ImmutableError) Error() string {
	return fmt.Sprintf("%s: apply failed: %s (rerun with --force to delete and recreate it)", e.ID, e.Message)
}

// UnreachableError is a cluster the plan could not reach: nothing was
// applied or pruned there.
type UnreachableError struct {
	Cluster string
	Reason  string
}

func (e *UnreachableError) Error() string { return "unreachable when planned: " + e.Reason }

// StalePlanError is a cluster whose objects or inventories changed since a
// saved plan was made; apply refuses it.
type StalePlanError struct {
	Cluster string
	Reason  string
}

func (e *StalePlanError) Error() string {
	return fmt.Sprintf("cluster %s changed since the plan was made: %s", e.Cluster, e.Reason)
}

// ObjectError is any other failure to apply or prune one object.
type ObjectError struct {
	Cluster string
	ID      object.ID
	Err     error
}

func (e *ObjectError) Error() string { return e.Err.Error() }
func (e *ObjectError) Unwrap() error { return e.Err }

// ObjectResult is what apply did with one planned change.
type ObjectResult struct {
	// Key identifies the change (workspace, cluster, object).
	Workspace, LogicalCluster string
	ID                        object.ID
	// Action is the planned action.
	Action string
	// Done is true when the change was carried out.
	Done bool
	// Err is why not: a *ConflictError, *ImmutableError or *ObjectError.
	Err error `json:"-"`
}
