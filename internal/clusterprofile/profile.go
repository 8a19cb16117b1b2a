// Package clusterprofile reads the operator's cluster inventory: the
// SIG-Multicluster ClusterProfile API (KEP-4322, multicluster.x-k8s.io),
// from a hub cluster or from a snapshot file, and reaches the clusters it
// lists through the operator's access providers (KEP-5339: provider name →
// exec plugin). The sigs.k8s.io/cluster-inventory-api module is not used:
// profiles are read as unstructured objects.
//
// The inventory is trusted configuration, chosen by tmc's flags and never
// by the policy repo: it decides which credentials go to which server.
package clusterprofile

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	clientcmdv1 "k8s.io/client-go/tools/clientcmd/api/v1"

	"github.com/kcp-dev/tmc/internal/policy"
)

// The ClusterProfile API.
const (
	Group = "multicluster.x-k8s.io"
	Kind  = "ClusterProfile"
	// ConditionControlPlaneHealthy is the condition tmc reads health from.
	ConditionControlPlaneHealthy = "ControlPlaneHealthy"
	// LabelClusterManager and LabelClusterSet are the API's well-known labels.
	LabelClusterManager = "x-k8s.io/cluster-manager"
	LabelClusterSet     = "multicluster.x-k8s.io/clusterset"
)

// Versions are the served versions tmc reads, in the order it tries them.
var Versions = []string{"v1alpha1", "v1alpha2"}

// Resource is the ClusterProfile resource of a version.
func Resource(version string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: Group, Version: version, Resource: "clusterprofiles"}
}

// MaxProperties bounds the properties of one profile tmc reads.
const MaxProperties = 256

// Profile is one ClusterProfile: the cluster it describes and the ways to
// reach it.
type Profile struct {
	// Cluster is what tmc makes of the profile.
	Cluster policy.InventoryCluster
	// Access are status.accessProviders, then the deprecated
	// status.credentialProviders (an accessProvider of the same name wins).
	Access []AccessProvider
}

// AccessProvider is one entry of status.accessProviders: a provider name,
// matched against the operator's provider file, and the cluster's address.
type AccessProvider struct {
	Name    string              `json:"name"`
	Cluster clientcmdv1.Cluster `json:"cluster,omitempty"`
}

type wireProfile struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		DisplayName    string `json:"displayName"`
		ClusterManager struct {
			Name string `json:"name"`
		} `json:"clusterManager"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
		Version struct {
			Kubernetes string `json:"kubernetes"`
		} `json:"version"`
		Properties []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"properties"`
		AccessProviders     []AccessProvider `json:"accessProviders"`
		CredentialProviders []AccessProvider `json:"credentialProviders"`
	} `json:"status"`
}

// Decode makes a Profile of a ClusterProfile in JSON; source says where it
// was read, for errors and explanations. A profile tmc cannot use as a
// cluster (a name that is not a DNS subdomain, too many properties) is an
// error naming it.
func Decode(data []byte, source string) (*Profile, error) {
	var w wireProfile
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, err
	}
	group, version, _ := strings.Cut(w.APIVersion, "/")
	if group != Group || !slices.Contains(Versions, version) || w.Kind != Kind {
		return nil, fmt.Errorf("apiVersion %q, kind %q: want a ClusterProfile of %s (%s)", w.APIVersion, w.Kind, Group, strings.Join(Versions, ", "))
	}
	name := w.Metadata.Name
	ref := "ClusterProfile " + w.Metadata.Namespace + "/" + name
	if name == "" {
		return nil, fmt.Errorf("ClusterProfile without metadata.name")
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return nil, fmt.Errorf("%s: metadata.name %q: %s", ref, name, strings.Join(msgs, "; "))
	}
	for k, v := range w.Metadata.Labels {
		for _, msg := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
			return nil, fmt.Errorf("%s: metadata.labels[%q]: %s", ref, k, msg)
		}
	}
	if n := len(w.Status.Properties); n > MaxProperties {
		return nil, fmt.Errorf("%s: status.properties: %d properties, at most %d", ref, n, MaxProperties)
	}
	p := &Profile{Cluster: policy.InventoryCluster{
		Name: name, Namespace: w.Metadata.Namespace, Source: source,
		DisplayName: w.Spec.DisplayName, ClusterManager: w.Spec.ClusterManager.Name,
		Labels: maps.Clone(w.Metadata.Labels), Properties: map[string]string{},
		KubernetesVersion: w.Status.Version.Kubernetes,
	}}
	for i, prop := range w.Status.Properties {
		if prop.Name == "" {
			return nil, fmt.Errorf("%s: status.properties[%d]: no name", ref, i)
		}
		p.Cluster.Properties[prop.Name] = prop.Value
	}
	for _, c := range w.Status.Conditions {
		if c.Type != ConditionControlPlaneHealthy {
			continue
		}
		switch c.Status {
		case "True":
			p.Cluster.Healthy = ptr(true)
		case "False":
			p.Cluster.Healthy = ptr(false)
		}
		p.Cluster.HealthReason, p.Cluster.HealthMessage = c.Reason, c.Message
	}
	byName := map[string]bool{}
	for _, a := range w.Status.AccessProviders {
		if a.Name == "" || byName[a.Name] {
			continue
		}
		byName[a.Name] = true
		p.Access = append(p.Access, a)
	}
	for _, a := range w.Status.CredentialProviders {
		if a.Name == "" || byName[a.Name] {
			continue
		}
		byName[a.Name] = true
		p.Access = append(p.Access, a)
	}
	return p, nil
}

func ptr[T any](v T) *T { return &v }

// Clusters returns the inventory clusters of the profiles.
func Clusters(ps []*Profile) []*policy.InventoryCluster {
	out := make([]*policy.InventoryCluster, len(ps))
	for i, p := range ps {
		c := p.Cluster
		out[i] = &c
	}
	return out
}

// sortProfiles orders profiles by namespace and name.
func sortProfiles(ps []*Profile) {
	slices.SortFunc(ps, func(a, b *Profile) int {
		if c := strings.Compare(a.Cluster.Namespace, b.Cluster.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Cluster.Name, b.Cluster.Name)
	})
}
