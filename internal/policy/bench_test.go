package policy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoad loads examples/policies plus 1,000 generated policies
// (250 each of Cluster, ProjectionPolicy with expressions, AggregationPolicy
// and VirtualWorkspace) from disk.
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../examples/policies")); err != nil {
		b.Fatal(err)
	}
	gen := filepath.Join(dir, "generated")
	if err := os.MkdirAll(gen, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 250; i++ {
		doc := fmt.Sprintf(`apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata:
  name: c-%[1]d
  labels: {env: gen, shard: "s%[2]d"}
spec:
  type: standard
  priority: %[1]d
  capacity: {cpu: "%[2]d", memory: 16Gi}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: ProjectionPolicy
metadata:
  name: p-%[1]d
spec:
  mode: Conditional
  conditional: cluster.capacity.cpu > %[2]d && cluster.labels.env == 'gen'
  resourceSelectors:
    - {group: apps, kind: Deployment, namePattern: "web-*"}
  transformations:
    - {type: Set, jsonPath: spec.replicas, value: 3, conditional: "cluster.capacity.cpu > 4"}
    - {type: Template, jsonPath: metadata.name, value: "{{.OriginalName}}-{{.TargetCluster}}"}
    - {type: Set, jsonPath: "metadata.labels['workload.kcp.io/projected']", value: "true"}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: AggregationPolicy
metadata:
  name: a-%[1]d
spec:
  gvk: {group: apps, version: v1, kind: Deployment}
  healthExpression: resource.status.readyReplicas == resource.spec.replicas
---
apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata:
  name: w-%[1]d
spec:
  placement:
    clusterSelector: {matchLabels: {shard: "s%[2]d"}}
    conditional: cluster.nodes >= 0
  sources: [{path: apps/web-app}]
  projectionPolicies: [p-%[1]d]
  aggregationPolicies: [a-%[1]d]
`, i, i%16)
		if err := os.WriteFile(filepath.Join(gen, fmt.Sprintf("gen-%03d.yaml", i)), []byte(doc), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := Load(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Clusters) != 253 {
			b.Fatalf("clusters = %d", len(p.Clusters))
		}
	}
}
