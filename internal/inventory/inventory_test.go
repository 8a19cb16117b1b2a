package inventory

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/object"
	"github.com/kcp-dev/tmc/test/harness"
)

// TestRoundTrip writes, reads, lists and deletes inventories on a real API
// server: what Write stores is what Read and List return, sorted; equal
// workspace names in two logical clusters do not collide; an empty
// inventory deletes the ConfigMap.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := harness.StartT(t, "home").Get("home").Client
	if inv, err := Read(ctx, c, "root", "web"); err != nil || inv != nil {
		t.Fatalf("before any write: %v %v", inv, err)
	}
	deploy := object.ID{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "web"}
	ns := object.ID{Version: "v1", Kind: "Namespace", Name: "web"}
	a := &Inventory{LogicalCluster: "root", Workspace: "web", Objects: []object.ID{deploy, ns}}
	b := &Inventory{LogicalCluster: "root:production", Workspace: "web", Objects: []object.ID{ns}}
	for _, inv := range []*Inventory{a, b} {
		if err := Write(ctx, c, inv); err != nil {
			t.Fatal(err)
		}
		if inv.ResourceVersion == "" {
			t.Error("Write did not record the resourceVersion")
		}
	}
	got, err := Read(ctx, c, "root", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := &Inventory{LogicalCluster: "root", Workspace: "web", Objects: []object.ID{ns, deploy}, ResourceVersion: a.ResourceVersion}
	if got.Created.IsZero() || got.Updated.Before(got.Created) {
		t.Errorf("times: created %v, updated %v", got.Created, got.Updated)
	}
	want.Created, want.Updated = got.Created, got.Updated
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	all, err := List(ctx, c)
	if err != nil || len(all) != 2 || all[0].LogicalCluster != "root" || all[1].LogicalCluster != "root:production" {
		t.Fatalf("list: %v %+v", err, all)
	}
	if err := Write(ctx, c, &Inventory{LogicalCluster: "root", Workspace: "web"}); err != nil {
		t.Fatal(err)
	}
	if inv, err := Read(ctx, c, "root", "web"); err != nil || inv != nil {
		t.Errorf("after an empty write: %+v %v", inv, err)
	}
	if all, _ := List(ctx, c); len(all) != 1 {
		t.Errorf("the other logical cluster's inventory went too: %+v", all)
	}
}

// TestRolloutRevisionsAndApprovalsOnTheInventory: the revision an apply
// recorded, the one it replaced, and the manual-gate approvals a person
// recorded (under a field manager of their own) all read back, and an
// inventory write by tmc keeps the approvals without counting them as an
// update of what tmc holds.
func TestRolloutRevisionsAndApprovalsOnTheInventory(t *testing.T) {
	ctx := context.Background()
	c := harness.StartT(t, "home").Get("home").Client
	ns := object.ID{Version: "v1", Kind: "Namespace", Name: "web"}
	if err := Approve(ctx, c, "root", "web", "r2", "canary"); err == nil {
		t.Error("an approval without an inventory to record it on was accepted")
	}
	if err := Write(ctx, c, &Inventory{LogicalCluster: "root", Workspace: "web", Objects: []object.ID{ns}, Revision: "r2", Previous: "r1"}); err != nil {
		t.Fatal(err)
	}
	before, err := Read(ctx, c, "root", "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"canary", "prod", "canary"} {
		if err := Approve(ctx, c, "root", "web", "r2", w); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Read(ctx, c, "root", "web")
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != "r2" || got.Previous != "r1" || !cmp.Equal(got.Approved, []string{"r2/canary", "r2/prod"}) {
		t.Errorf("read back: revision %q previous %q approved %v", got.Revision, got.Previous, got.Approved)
	}
	if !got.Updated.Equal(before.Updated) {
		t.Errorf("an approval moved the inventory's update time %v → %v", before.Updated, got.Updated)
	}
	if err := Write(ctx, c, &Inventory{LogicalCluster: "root", Workspace: "web", Objects: []object.ID{ns}, Revision: "r3", Previous: "r2"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := Read(ctx, c, "root", "web"); got.Revision != "r3" || !cmp.Equal(got.Approved, []string{"r2/canary", "r2/prod"}) {
		t.Errorf("after tmc's next write: %+v", got)
	}
}
