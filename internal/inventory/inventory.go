// Package inventory records, per workspace and cluster, which objects tmc
// applied there. It lives in the cluster itself, as a ConfigMap in
// tmc-system, and is the only thing prune trusts: an object tmc did not
// record is never deleted.
//
//	inv, err := inventory.Read(ctx, c, "root:production", "web-app") // nil, nil when none
//	inv.Objects // []object.ID
package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kcp-dev/tmc/internal/object"
)

// Namespace holds every inventory.
const Namespace = "tmc-system"

// Labels and annotations tmc sets.
const (
	LabelManagedBy      = "app.kubernetes.io/managed-by"
	ManagedBy           = "tmc"
	LabelWorkspace      = "tmc.kcp.io/workspace"
	LabelInventory      = "tmc.kcp.io/inventory"
	AnnotLogicalCluster = "tmc.kcp.io/logical-cluster"
	AnnotWorkspace      = "tmc.kcp.io/workspace"
	// AnnotRevision is the git revision whose apply last changed what the
	// workspace holds on the cluster; AnnotPreviousRevision the one before
	// it (a rollout's Rollback puts that one back).
	AnnotRevision         = "tmc.kcp.io/revision"
	AnnotPreviousRevision = "tmc.kcp.io/previous-revision"
	// AnnotApproved lists, comma-separated, the rollout waves whose manual
	// gate a person lifted, as REVISION/WAVE; written by `tmc rollout
	// resume` under a field manager of its own, so inventory writes keep it.
	AnnotApproved = "tmc.kcp.io/rollout-approved"
	// ApproveManager is the field manager of AnnotApproved.
	ApproveManager = "tmc-rollout"
	dataKey        = "objects"
)

// Inventory is what tmc applied for one workspace on one cluster.
type Inventory struct {
	// LogicalCluster and Workspace name the workspace.
	LogicalCluster, Workspace string
	// Objects are the objects applied, sorted.
	Objects []object.ID
	// ResourceVersion is the ConfigMap's, "" when it does not exist yet.
	ResourceVersion string
	// Created is when the ConfigMap was created: tmc's first apply of the
	// workspace on the cluster. Updated is its newest write: the last apply
	// that changed what tmc holds there. Zero when it does not exist.
	Created, Updated time.Time
	// Revision is the git revision whose apply last changed what the
	// workspace holds here ("" before tmc recorded one); Previous the
	// revision it replaced.
	Revision, Previous string
	// Approved are the REVISION/WAVE gates lifted (AnnotApproved).
	Approved []string
}

// Name is the ConfigMap name of a workspace's inventory: the workspace name
// and a short hash of the logical cluster, so that equal names in different
// logical clusters do not collide.
func Name(logicalCluster, workspace string) string {
	h := sha256.Sum256([]byte(logicalCluster))
	n := "inventory-" + workspace
	if len(n) > 240 {
		n = n[:240]
	}
	return n + "-" + hex.EncodeToString(h[:])[:8]
}

// Read returns the inventory of a workspace, or nil when there is none.
func Read(ctx context.Context, c client.Client, logicalCluster, workspace string) (*Inventory, error) {
	cm := &corev1.ConfigMap{}
	err := c.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: Name(logicalCluster, workspace)}, cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read inventory of %s/%s: %w", logicalCluster, workspace, err)
	}
	return decode(cm)
}

func decode(cm *corev1.ConfigMap) (*Inventory, error) {
	inv := &Inventory{LogicalCluster: cm.Annotations[AnnotLogicalCluster], Workspace: cm.Annotations[AnnotWorkspace], ResourceVersion: cm.ResourceVersion,
		Created: cm.CreationTimestamp.Time, Updated: cm.CreationTimestamp.Time, Revision: cm.Annotations[AnnotRevision], Previous: cm.Annotations[AnnotPreviousRevision]}
	if a := cm.Annotations[AnnotApproved]; a != "" {
		inv.Approved = strings.Split(a, ",")
	}
	for _, mf := range cm.ManagedFields {
		if mf.Time != nil && mf.Time.After(inv.Updated) && mf.Manager != ApproveManager { // an approval changes nothing tmc holds
			inv.Updated = mf.Time.Time
		}
	}
	if raw := cm.Data[dataKey]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &inv.Objects); err != nil {
			return nil, fmt.Errorf("inventory %s/%s is corrupt: %w", cm.Namespace, cm.Name, err)
		}
	}
	return inv, nil
}

// List returns every inventory on a cluster (one per workspace tmc applied there).
func List(ctx context.Context, c client.Client) ([]*Inventory, error) {
	var list corev1.ConfigMapList
	if err := c.List(ctx, &list, client.InNamespace(Namespace), client.HasLabels{LabelInventory}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list inventories: %w", err)
	}
	var out []*Inventory
	for i := range list.Items {
		inv, err := decode(&list.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	sort.Slice(out, func(i, j int) bool {
		return object.Workspace(out[i].LogicalCluster, out[i].Workspace).String() < object.Workspace(out[j].LogicalCluster, out[j].Workspace).String()
	})
	return out, nil
}

// Write stores the inventory with server-side apply, creating tmc-system if needed.
// An empty inventory deletes the ConfigMap.
func Write(ctx context.Context, c client.Client, inv *Inventory) error {
	name := Name(inv.LogicalCluster, inv.Workspace)
	if len(inv.Objects) == 0 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: name}}
		if err := c.Delete(ctx, cm); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete inventory of %s/%s: %w", inv.LogicalCluster, inv.Workspace, err)
		}
		return nil
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": Namespace, "labels": map[string]any{LabelManagedBy: ManagedBy}}}}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(ns), client.FieldOwner("tmc"), client.ForceOwnership); err != nil {
		return fmt.Errorf("create namespace %s: %w", Namespace, err)
	}
	objs := append([]object.ID(nil), inv.Objects...)
	sort.Slice(objs, func(i, j int) bool { return object.Less(objs[i], objs[j]) })
	raw, err := json.Marshal(objs)
	if err != nil {
		return err
	}
	annotations := map[string]any{AnnotLogicalCluster: inv.LogicalCluster, AnnotWorkspace: inv.Workspace}
	if inv.Revision != "" {
		annotations[AnnotRevision] = inv.Revision
	}
	if inv.Previous != "" {
		annotations[AnnotPreviousRevision] = inv.Previous
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{
			"namespace":   Namespace,
			"name":        name,
			"labels":      map[string]any{LabelManagedBy: ManagedBy, LabelInventory: "true", LabelWorkspace: LabelValue(inv.Workspace)},
			"annotations": annotations,
		},
		"data": map[string]any{dataKey: string(raw)},
	}}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(cm), client.FieldOwner("tmc"), client.ForceOwnership); err != nil {
		return fmt.Errorf("write inventory of %s/%s: %w", inv.LogicalCluster, inv.Workspace, err)
	}
	inv.ResourceVersion = cm.GetResourceVersion()
	return nil
}

// LabelValue trims a name to the 63 characters a label value may hold.
func LabelValue(s string) string {
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-.")
	}
	return s
}

// Approve lifts the manual gate of wave for revision on a cluster: it
// adds REVISION/WAVE to the workspace's inventory there, under a field
// manager of its own. A workspace without an inventory on the cluster
// (nothing applied yet) has nothing to record it on: an error.
func Approve(ctx context.Context, c client.Client, logicalCluster, workspace, revision, wave string) error {
	cm := &corev1.ConfigMap{}
	name := Name(logicalCluster, workspace)
	if err := c.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: name}, cm); err != nil {
		return fmt.Errorf("read inventory of %s/%s: %w", logicalCluster, workspace, err)
	}
	entry := revision + "/" + wave
	var list []string
	if a := cm.Annotations[AnnotApproved]; a != "" {
		list = strings.Split(a, ",")
	}
	if slices.Contains(list, entry) {
		return nil
	}
	list = append(list, entry)
	patch := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"namespace": Namespace, "name": name, "annotations": map[string]any{AnnotApproved: strings.Join(list, ",")}}}}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(patch), client.FieldOwner(ApproveManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("approve wave %s on %s/%s: %w", wave, logicalCluster, workspace, err)
	}
	return nil
}
