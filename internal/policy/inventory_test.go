package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func inventory() []*InventoryCluster {
	return []*InventoryCluster{
		{Name: "east", Namespace: "fleet", Source: "fleet.yaml", Labels: map[string]string{"env": "prod", "tier": "gold"},
			Properties: map[string]string{PropertyRegion: "eu", PropertyZone: "eu-1a"}, KubernetesVersion: "v1.37.2"},
		{Name: "north", Namespace: "fleet", Source: "fleet.yaml", Labels: map[string]string{"env": "prod"},
			Properties: map[string]string{PropertyRegion: "eu", PropertyZone: "eu-1b", "example.com/gpu": "a100"}, Healthy: ptr(false), HealthReason: "Down"},
	}
}

func loadInventory(t *testing.T, files map[string]string, inv []*InventoryCluster) (*Policies, error) {
	t.Helper()
	m := map[string][]byte{}
	for k, v := range files {
		m[k] = []byte(v)
	}
	return LoadFilesWith(m, inv)
}

// TestClusterInventoryJoinsRepoClusters: the inventory's clusters join
// the repo's; a repo Cluster of the same name refines one (priority,
// capacity, labels it adds) and keeps its file for errors; properties,
// zone, region, version and the inventory's health are facts.
func TestClusterInventoryJoinsRepoClusters(t *testing.T) {
	p, err := loadInventory(t, map[string]string{
		"clusters.yaml": header + "kind: Cluster\nmetadata:\n  name: east\n  labels: {team: web, env: prod}\nspec:\n  priority: 7\n  capacity: {cpu: 8}\n  aggregationWeight: 2\n---\n" +
			header + "kind: Cluster\nmetadata: {name: west}\nspec: {region: us}\n",
		"ws.yaml": header + "kind: VirtualWorkspace\nmetadata: {name: ws}\nspec:\n  placement:\n    clusters: [north]\n    conditional: cluster.properties[\"topology.kubernetes.io/zone\"] startsWith \"eu-\"\n  sources: [{path: apps}]\n",
	}, inventory())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Clusters {
		got = append(got, c.Metadata.Name)
	}
	if d := cmp.Diff([]string{"east", "north", "west"}, got); d != "" {
		t.Fatalf("clusters (-want +got):\n%s", d)
	}
	east, north, west := p.Cluster("east"), p.Cluster("north"), p.Cluster("west")
	if east.Spec.Priority != 7 || *east.Spec.AggregationWeight != 2 || east.Spec.Region != "eu" || east.Origin.Pos.File != "clusters.yaml" || east.Inventory == nil {
		t.Errorf("east refined: %+v origin %v", east.Spec, east.Origin)
	}
	if d := cmp.Diff(map[string]string{"env": "prod", "tier": "gold", "team": "web"}, east.Metadata.Labels); d != "" {
		t.Errorf("east labels (-want +got):\n%s", d)
	}
	if north.Origin.Object != "ClusterProfile/fleet/north" || north.Origin.Pos.File != "fleet.yaml" || north.Spec.Kubeconfig.Context != "north" {
		t.Errorf("north origin %+v", north.Origin)
	}
	if west.Inventory != nil {
		t.Errorf("a repo Cluster absent from the inventory is left as it is")
	}
	f := east.DeclaredFacts()
	if f.Zone != "eu-1a" || f.Region != "eu" || f.Properties[PropertyZone] != "eu-1a" || f.KubernetesVersion != "v1.37.2" || !f.Healthy || f.Capacity.CPU != 8 {
		t.Errorf("east facts %+v", f)
	}
	if f := north.DeclaredFacts(); f.Healthy || f.Properties["example.com/gpu"] != "a100" {
		t.Errorf("north facts %+v: the inventory reports it unhealthy", f)
	}
	if f := west.DeclaredFacts(); f.Properties == nil || f.Zone != "" {
		t.Errorf("west facts %+v: properties are an empty map for a repo cluster", f)
	}
	if note := east.InventoryNote(); !strings.Contains(note, "ClusterProfile fleet/east of the cluster inventory (fleet.yaml), refined by Cluster/east at clusters.yaml:1:1") {
		t.Errorf("note %q", note)
	}
	ws := p.Workspace("ws")
	env := &Env{Cluster: north.DeclaredFacts()}
	ok, err := ws.Spec.Placement.Program.Bool(env)
	if err != nil || !ok {
		t.Errorf("placement over properties: %v %v", ok, err)
	}
	facts := ws.Spec.Placement.Program.Facts(env)
	if len(facts) != 1 || facts[0].Path != `cluster.properties["topology.kubernetes.io/zone"]` || facts[0].Value != "eu-1b" {
		t.Errorf("explained facts %+v", facts)
	}

	dep := inventory()
	dep[1].Departing = true
	p, err = loadInventory(t, map[string]string{"ws.yaml": header + "kind: VirtualWorkspace\nmetadata: {name: ws}\nspec:\n  sources: [{path: apps}]\n"}, dep)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Cluster("north"); *c.Spec.ProjectionEnabled || !strings.Contains(c.InventoryNote(), "it left the inventory") {
		t.Errorf("a departing cluster is nobody's target: %+v", c.Spec)
	}
}

// TestClusterInventoryConflictsNameBoth: a repo Cluster may not say how an
// inventory cluster is reached, nor contradict its region or labels; each
// error names the repo's file, line and field and the profile.
func TestClusterInventoryConflictsNameBoth(t *testing.T) {
	_, err := loadInventory(t, map[string]string{
		"clusters.yaml": header + "kind: Cluster\nmetadata:\n  name: east\n  labels: {tier: silver}\nspec:\n  region: us\n  kubeconfig: {path: evil/kubeconfig}\n---\n" +
			header + "kind: Cluster\nmetadata: {name: north}\nspec:\n  kubeconfig:\n    secretRef: {name: other}\n",
	}, inventory())
	if err == nil {
		t.Fatal("conflicts load")
	}
	msg := err.Error()
	for _, want := range []string{
		`clusters.yaml:8:15: Cluster/east: spec.kubeconfig: Cluster "east" is ClusterProfile fleet/east of the cluster inventory (fleet.yaml), which says how it is reached`,
		`clusters.yaml:7:11: Cluster/east: spec.region: region "us" contradicts ClusterProfile fleet/east of the cluster inventory (fleet.yaml), whose topology.kubernetes.io/region is "eu"`,
		`clusters.yaml:5:18: Cluster/east: metadata.labels['tier']: label tier="silver" contradicts ClusterProfile fleet/east`,
		`Cluster/north: spec.kubeconfig: Cluster "north" is ClusterProfile fleet/north`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %q:\n%s", want, msg)
		}
	}
	dup := append(inventory(), &InventoryCluster{Name: "east", Namespace: "fleet", Source: "fleet.yaml"})
	if _, err := loadInventory(t, map[string]string{}, dup); err == nil || !strings.Contains(err.Error(), `the cluster inventory holds two ClusterProfiles named "east"`) {
		t.Errorf("duplicate: %v", err)
	}
}
