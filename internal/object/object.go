// Package object names Kubernetes objects the same way everywhere in tmc:
// errors, logs, plans and reports all use ID.String and ID.On.
//
//	id := object.ID{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "api"}
//	id.String()        // Deployment/web/api
//	id.On("prod-east") // prod-east/Deployment/web/api
package object

import (
	"strings"
)

// ID identifies an object.
type ID struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// FromAPIVersion builds an ID from an apiVersion such as apps/v1.
func FromAPIVersion(apiVersion, kind, namespace, name string) ID {
	g, v, ok := strings.Cut(apiVersion, "/")
	if !ok {
		g, v = "", apiVersion
	}
	return ID{Group: g, Version: v, Kind: kind, Namespace: namespace, Name: name}
}

// APIVersion returns group/version, or version for the core group.
func (id ID) APIVersion() string {
	if id.Group == "" {
		return id.Version
	}
	return id.Group + "/" + id.Version
}

// String is Kind/namespace/name, or Kind/name for cluster-scoped objects.
func (id ID) String() string {
	if id.Namespace == "" {
		return id.Kind + "/" + id.Name
	}
	return id.Kind + "/" + id.Namespace + "/" + id.Name
}

// On is cluster/Kind/namespace/name.
func (id ID) On(cluster string) string {
	return cluster + "/" + id.String()
}

// rank orders kinds that others depend on first, as kubectl and kustomize do.
var rank = map[string]int{
	"Namespace":                0,
	"CustomResourceDefinition": 1,
	"ServiceAccount":           2,
	"ClusterRole":              3,
	"ClusterRoleBinding":       4,
	"Role":                     5,
	"RoleBinding":              6,
	"Secret":                   7,
	"ConfigMap":                8,
}

// Less orders IDs: Namespaces and CRDs first, then by group, kind, namespace and name.
func Less(a, b ID) bool {
	ra, oka := rank[a.Kind]
	rb, okb := rank[b.Kind]
	if !oka {
		ra = len(rank)
	}
	if !okb {
		rb = len(rank)
	}
	if ra != rb {
		return ra < rb
	}
	if a.Group != b.Group {
		return a.Group < b.Group
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Version < b.Version
}
