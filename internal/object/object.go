// Package object names Kubernetes objects the same way everywhere in tmc:
// errors, logs, plans and reports all use ID.String and ID.On.
//
//	id := object.ID{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "api"}
//	id.String()        // Deployment/web/api
//	id.On("prod-east") // prod-east/Deployment/web/api
package object

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"
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
func (id ID) APIVersion() string { return APIVersion(id.Group, id.Version) }

// APIVersion is the core-group rule, written once: group/version, or
// version alone for the core group ("").
func APIVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
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

// builtinGroups are the API groups of Kubernetes' own kinds whose names must
// be DNS subdomains. Other groups (RBAC, custom resources) allow any name
// that is a valid path segment, as the API server does.
var builtinGroups = map[string]bool{
	"": true, "apps": true, "batch": true, "autoscaling": true, "policy": true,
	"networking.k8s.io": true, "storage.k8s.io": true, "apiextensions.k8s.io": true,
	"admissionregistration.k8s.io": true, "scheduling.k8s.io": true, "coordination.k8s.io": true,
	"discovery.k8s.io": true, "node.k8s.io": true, "certificates.k8s.io": true,
}

// Validate checks the ID's name and namespace the way the API server
// would: a namespace is a DNS label; a name is a DNS subdomain for
// Kubernetes' own kinds (but RBAC's) and a valid path segment for the rest.
// It returns nil or a message naming the field.
func (id ID) Validate() error {
	if id.Namespace != "" {
		if errs := validation.IsDNS1123Label(id.Namespace); len(errs) > 0 {
			return fmt.Errorf("metadata.namespace %q is not a valid namespace: %s", id.Namespace, strings.Join(errs, "; "))
		}
	}
	if id.Name == "" {
		return fmt.Errorf("metadata.name is empty")
	}
	var errs []string
	if builtinGroups[id.Group] {
		errs = validation.IsDNS1123Subdomain(id.Name)
	} else {
		errs = content.IsPathSegmentName(id.Name)
		if len(id.Name) > validation.DNS1123SubdomainMaxLength {
			errs = append(errs, validation.MaxLenError(validation.DNS1123SubdomainMaxLength))
		}
		for _, r := range id.Name {
			if r < 0x20 || r == 0x7f || r == ' ' {
				errs = append(errs, "may not contain spaces or control characters")
				break
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("metadata.name %q is not a valid %s name: %s", id.Name, id.Kind, strings.Join(errs, "; "))
	}
	return nil
}

// ServerMetadata are the metadata fields an API server sets on every object
// it stores; they differ from cluster to cluster by nature. Diffs,
// aggregation and live sources all drop them (the one list of them).
var ServerMetadata = []string{"uid", "resourceVersion", "managedFields", "creationTimestamp", "generation", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}

// DropServerMetadata removes ServerMetadata from an object given as plain data.
func DropServerMetadata(obj map[string]any) {
	md, _ := obj["metadata"].(map[string]any)
	for _, k := range ServerMetadata {
		delete(md, k)
	}
}

// WorkspaceKey identifies a workspace across logical clusters: equal names
// in two logical clusters are two workspaces.
type WorkspaceKey struct {
	LogicalCluster, Name string
}

// String is logicalCluster/name, the form used in maps, inventories, plans and messages.
func (k WorkspaceKey) String() string { return k.LogicalCluster + "/" + k.Name }

// Workspace returns the key of the workspace name in logicalCluster.
func Workspace(logicalCluster, name string) WorkspaceKey {
	return WorkspaceKey{LogicalCluster: logicalCluster, Name: name}
}
