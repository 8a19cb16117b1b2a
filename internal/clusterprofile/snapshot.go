package clusterprofile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/limits"
)

// MaxSnapshot bounds a --cluster-inventory snapshot file (a few thousand profiles).
const MaxSnapshot = 16 << 20

// ReadSnapshot reads a snapshot of the inventory: the output of
// `kubectl get clusterprofiles -o yaml` (a List), a ClusterProfileList, or
// ClusterProfile documents, in YAML or JSON. namespace chooses the
// clusterset; empty takes the only namespace the file holds.
func ReadSnapshot(path, namespace string) ([]*Profile, error) {
	data, err := readBounded("cluster inventory", path, MaxSnapshot)
	if err != nil {
		return nil, err
	}
	return ParseSnapshot(path, data, namespace)
}

// ParseSnapshot is ReadSnapshot of content; name stands for the file in errors.
func ParseSnapshot(name string, data []byte, namespace string) ([]*Profile, error) {
	docs, err := limits.Documents(data)
	if err != nil {
		return nil, fmt.Errorf("cluster inventory %s: %w", name, err)
	}
	var all []*Profile
	for _, d := range docs {
		items := []*yaml.Node{d}
		if k := scalar(d, "kind"); k == "List" || strings.HasSuffix(k, "List") {
			items = nil
			if it := child(d, "items"); it != nil && it.Kind == yaml.SequenceNode {
				items = it.Content
			}
		}
		for _, it := range items {
			raw, err := yaml.Marshal(it)
			if err != nil {
				return nil, fmt.Errorf("cluster inventory %s:%d: %w", name, it.Line, err)
			}
			js, err := sigsyaml.YAMLToJSON(raw)
			if err != nil {
				return nil, fmt.Errorf("cluster inventory %s:%d: %w", name, it.Line, err)
			}
			p, err := Decode(js, name)
			if err != nil {
				return nil, fmt.Errorf("cluster inventory %s:%d: %w", name, it.Line, err)
			}
			all = append(all, p)
		}
	}
	return selectNamespace(name, all, namespace)
}

// selectNamespace keeps the profiles of one namespace (a clusterset).
func selectNamespace(source string, all []*Profile, namespace string) ([]*Profile, error) {
	namespaces := map[string]bool{}
	for _, p := range all {
		namespaces[p.Cluster.Namespace] = true
	}
	if namespace == "" && len(namespaces) > 1 {
		return nil, fmt.Errorf("cluster inventory %s holds ClusterProfiles of namespaces %s: choose the clusterset with --cluster-inventory-namespace",
			source, strings.Join(slices.Sorted(maps.Keys(namespaces)), ", "))
	}
	var out []*Profile
	seen := map[string]bool{}
	for _, p := range all {
		if namespace != "" && p.Cluster.Namespace != namespace {
			continue
		}
		if seen[p.Cluster.Name] {
			return nil, fmt.Errorf("cluster inventory %s: two ClusterProfiles named %s/%s", source, p.Cluster.Namespace, p.Cluster.Name)
		}
		seen[p.Cluster.Name] = true
		out = append(out, p)
	}
	sortProfiles(out)
	return out, nil
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node, key string) string {
	if c := child(n, key); c != nil && c.Kind == yaml.ScalarNode {
		return c.Value
	}
	return ""
}
