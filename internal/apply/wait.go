package apply

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"

	"github.com/kcp-dev/tmc/internal/plan"
)

func (a *applier) manager() *ssa.ResourceManager {
	poller := polling.NewStatusPoller(a.c.Client, a.c.Client.RESTMapper(), polling.Options{})
	return ssa.NewResourceManager(a.c.Client, poller, ssa.Owner{Field: plan.FieldManager, Group: "tmc.kcp.io"})
}

func objSet(changes []*plan.Change, only func(*plan.Change) bool) object.ObjMetadataSet {
	var set object.ObjMetadataSet
	for _, ch := range changes {
		if ch.Object == nil || (only != nil && !only(ch)) {
			continue
		}
		set = append(set, object.UnstructuredToObjMetadata(ch.Object))
	}
	return set
}

// waitCRDs waits for the CRDs the first stage applied to be established, so
// that their custom resources can be applied next.
func (a *applier) waitCRDs(ctx context.Context, first []*plan.Change) error {
	set := objSet(first, func(ch *plan.Change) bool { return ch.Kind == "CustomResourceDefinition" })
	if len(set) == 0 {
		return nil
	}
	err := a.manager().WaitForSetWithContext(ctx, set, ssa.WaitOptions{Interval: 500 * time.Millisecond, Timeout: time.Minute})
	if err != nil {
		return fmt.Errorf("CustomResourceDefinitions not established: %w", err)
	}
	return nil
}

// wait waits for the applied objects to become ready, as kstatus reads them.
func (a *applier) wait(ctx context.Context, applied []*plan.Change) error {
	set := objSet(applied, nil)
	if len(set) == 0 {
		return nil
	}
	if err := a.manager().WaitForSetWithContext(ctx, set, ssa.WaitOptions{Interval: 2 * time.Second, Timeout: a.opts.Timeout}); err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	return nil
}
