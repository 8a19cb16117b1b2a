package syncer

import (
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/internal/shard"
)

// TestShardConnectionsFollowOwnership: a replica's share holds only its
// workspaces and the clusters they may target or read — named, selected by
// labels, every cluster for a workspace without placement, source clusters
// — and every cluster for the replica that prunes what git dropped; the
// other replicas' workspaces are listed as elsewhere (never pruned here).
func TestShardConnectionsFollowOwnership(t *testing.T) {
	const h = "apiVersion: tmc.kcp.io/v1alpha1\n"
	p, err := policy.LoadFiles(map[string][]byte{
		"clusters.yaml": []byte(h + "kind: Cluster\nmetadata: {name: c1}\n---\n" + h + "kind: Cluster\nmetadata: {name: c2, labels: {env: prod}}\n---\n" +
			h + "kind: Cluster\nmetadata: {name: c3, labels: {env: prod}}\n---\n" + h + "kind: Cluster\nmetadata: {name: c4}\n"),
		"ws.yaml": []byte(h + "kind: VirtualWorkspace\nmetadata: {name: named}\nspec: {placement: {clusters: [c1]}, sources: [{path: app}]}\n---\n" +
			h + "kind: VirtualWorkspace\nmetadata: {name: selected}\nspec: {placement: {clusterSelector: {matchLabels: {env: prod}}}, sources: [{path: app}]}\n---\n" +
			h + "kind: VirtualWorkspace\nmetadata: {name: everywhere}\nspec: {sources: [{path: app}]}\n---\n" +
			h + "kind: VirtualWorkspace\nmetadata: {name: reads}\nspec:\n  placement: {clusters: [c1]}\n  sources: [{cluster: c4, resourceSelectors: [{version: v1, kind: ConfigMap}]}]\n"),
		"app/cm.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	names := func(pp *policy.Policies) (ws, cs []string) {
		for _, w := range pp.Workspaces {
			ws = append(ws, w.Metadata.Name)
		}
		for _, c := range pp.Clusters {
			cs = append(cs, c.Metadata.Name)
		}
		return ws, cs
	}
	for _, tc := range []struct {
		owned                []string
		workspaces, clusters []string
	}{
		{[]string{"root/named"}, []string{"named"}, []string{"c1"}},
		{[]string{"root/selected"}, []string{"selected"}, []string{"c2", "c3"}},
		{[]string{"root/reads"}, []string{"reads"}, []string{"c1", "c4"}},
		{[]string{"root/everywhere"}, []string{"everywhere"}, []string{"c1", "c2", "c3", "c4"}},
		{[]string{"root/named", shard.GoneUnit}, []string{"named"}, []string{"c1", "c2", "c3", "c4"}},
		{nil, nil, nil},
	} {
		owned := map[string]bool{}
		for _, k := range tc.owned {
			owned[k] = true
		}
		pp, elsewhere := sharePolicies(p, owned)
		ws, cs := names(pp)
		if d := cmp.Diff(tc.workspaces, ws); d != "" {
			t.Errorf("%v: workspaces (-want +got):\n%s", tc.owned, d)
		}
		if d := cmp.Diff(tc.clusters, cs); d != "" {
			t.Errorf("%v: clusters (-want +got):\n%s", tc.owned, d)
		}
		for _, w := range p.Workspaces {
			key := "root/" + w.Metadata.Name
			if elsewhere[key] == owned[key] {
				t.Errorf("%v: %s elsewhere %v", tc.owned, key, elsewhere[key])
			}
		}
		if got := slices.Sorted(maps.Keys(elsewhere)); len(got)+len(ws) != len(p.Workspaces) {
			t.Errorf("%v: elsewhere %v", tc.owned, got)
		}
	}
}
