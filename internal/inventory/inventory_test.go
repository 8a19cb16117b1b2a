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
