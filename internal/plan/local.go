package plan

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	smd "sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/inventory"
	"github.com/kcp-dev/tmc/internal/mask"
)

// Why an existing object was dry-run instead of being decided locally. A
// plan counts each reason (Summary.DryRuns) and records it on the change
// (Change.DryRun).
const (
	// DryRunChanged: a value git sets differs from the live one (the object changes, or
	// the server writes it in another form, such as a quantity 1024Mi stored as 1Gi).
	DryRunChanged = "a desired value differs from the live object"
	// DryRunNotApplied: the live object has no apply entry of tmc at the desired apiVersion.
	DryRunNotApplied = "not applied by tmc at this apiVersion"
	// DryRunOwnsMore: tmc owns a field git no longer sets; apply would remove it.
	DryRunOwnsMore = "tmc owns a field git no longer sets"
	// DryRunCoOwned: another manager owns a field tmc sets.
	DryRunCoOwned = "another field manager owns a field tmc sets"
	// DryRunWriteOnly: the object has write-only or server-interpreted parts
	// (Secret stringData, status, null values).
	DryRunWriteOnly = "write-only or server-interpreted fields"
	// DryRunDeleting: the live object is being deleted.
	DryRunDeleting = "being deleted"
	// DryRunMutatingAdmission: a mutating webhook or admission policy may
	// change the object on every write.
	DryRunMutatingAdmission = "mutating admission may change it"
	// DryRunAll: PlanOptions.DryRunAll asked for a dry-run of every object.
	DryRunAll = "dry-run of every object asked for"
)

// unchangedLocally decides from the live object alone whether applying
// desired as field manager tmc would leave it unchanged (apart from
// managedFields). It needs no schema, so it proves only the plain case:
//
//  1. the live object is not being deleted, and tmc applied it at the
//     desired apiVersion (its managedFields hold tmc's Apply entry);
//  2. every field desired sets holds exactly that value on the live object:
//     maps key by key, lists item by item with equal length, each desired
//     item a subset of the live one (server defaults allowed);
//  3. tmc owns no field desired no longer sets (apply would remove it):
//     every path of tmc's entry is present in desired — an associative-list
//     key matches an item whose present key fields are equal (a defaulted key
//     field such as a port's protocol is tolerated; rule 2's equal lengths
//     keep that safe);
//  4. no other manager owns, as a leaf, a field desired sets (an atomic list
//     or map someone else wrote would conflict, or be replaced);
//  5. nothing write-only or server-interpreted: no Secret stringData, no
//     status, no nulls.
//
// Then the server-side apply merges equal values into equal values and
// removes nothing: the object stays as it is. It returns "" for unchanged,
// else the reason to ask the server (one of the DryRun… constants).
func unchangedLocally(desired, live *unstructured.Unstructured) string {
	if live.GetDeletionTimestamp() != nil {
		return DryRunDeleting
	}
	if _, ok := desired.Object["status"]; ok {
		return DryRunWriteOnly
	}
	if mask.IsSecret(desired.GetAPIVersion(), desired.GetKind()) {
		if _, ok := desired.Object["stringData"]; ok {
			return DryRunWriteOnly
		}
	}
	var mine *smd.Set
	others := []*smd.Set{}
	for _, e := range live.GetManagedFields() {
		set, err := fieldSet(e)
		if err != nil {
			return DryRunNotApplied
		}
		switch {
		case e.Manager == FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "":
			if e.APIVersion != desired.GetAPIVersion() {
				return DryRunNotApplied
			}
			mine = set
		case e.Subresource == "":
			others = append(others, set.Leaves())
		}
	}
	if mine == nil {
		return DryRunNotApplied
	}
	if why := contained(desired.Object, live.Object); why != "" {
		return why
	}
	owned := ""
	mine.Iterate(func(p smd.Path) {
		if owned == "" && !covers(desired.Object, p) {
			owned = DryRunOwnsMore
		}
	})
	if owned != "" {
		return owned
	}
	for _, set := range others {
		co := false
		set.Iterate(func(p smd.Path) {
			co = co || covers(desired.Object, p)
		})
		if co {
			return DryRunCoOwned
		}
	}
	return ""
}

func fieldSet(e metav1.ManagedFieldsEntry) (*smd.Set, error) {
	s := &smd.Set{}
	if e.FieldsV1 == nil {
		return s, nil
	}
	if err := s.FromJSON(bytes.NewReader(e.FieldsV1.GetRawBytes())); err != nil {
		return nil, err
	}
	return s, nil
}

// driftOf says whether an update reverts someone else's edit: a managedFields
// entry of another manager (on the object or a subresource other than
// status), written after tmc's last apply, that owns a field git sets. The
// Deployment controller's revision annotation, status, and fields git does
// not set are not drift. nil when tmc never applied the object.
func driftOf(desired, live *unstructured.Unstructured) *Drift {
	var applied *metav1.Time
	if e, ok := tmcApply(live); ok {
		applied = e.Time
	}
	if applied == nil {
		// Someone took every field tmc owned (its entry is gone): tmc's
		// labels say it applied the object all the same.
		if live.GetLabels()[inventory.LabelManagedBy] != inventory.ManagedBy {
			return nil
		}
		applied = &metav1.Time{}
	}
	var found *Drift
	for _, e := range live.GetManagedFields() {
		if e.Manager == FieldManager || e.Subresource == "status" || e.Time == nil || e.Time.Before(applied) {
			continue
		}
		set, err := fieldSet(e)
		if err != nil {
			continue
		}
		owns := false
		set.Leaves().Iterate(func(p smd.Path) { owns = owns || covers(desired.Object, p) })
		if owns && (found == nil || e.Time.UTC().Format(time.RFC3339) > found.Time) {
			found = &Drift{Manager: e.Manager, Operation: string(e.Operation), Time: e.Time.UTC().Format(time.RFC3339), Subresource: e.Subresource}
		}
	}
	return found
}

// tmcApply is tmc's own server-side-apply entry in the live object's managedFields.
func tmcApply(live *unstructured.Unstructured) (metav1.ManagedFieldsEntry, bool) {
	for _, e := range live.GetManagedFields() {
		if e.Manager == FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			return e, true
		}
	}
	return metav1.ManagedFieldsEntry{}, false
}

// contained returns "" when every value of want is in have (rule 2 above).
func contained(want, have any) string {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return DryRunChanged
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok {
				if wv == nil {
					return DryRunWriteOnly
				}
				return DryRunChanged
			}
			if why := contained(wv, hv); why != "" {
				return why
			}
		}
		return ""
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return DryRunChanged
		}
		for i := range w {
			if why := contained(w[i], h[i]); why != "" {
				return why
			}
		}
		return ""
	case nil:
		return DryRunWriteOnly
	}
	if !sameScalar(want, have) {
		return DryRunChanged
	}
	return ""
}

// sameScalar compares JSON scalars; numbers compare by value (a desired
// object decoded from JSON holds float64, a live one int64).
func sameScalar(a, b any) bool {
	fa, aNum := number(a)
	fb, bNum := number(b)
	if aNum || bNum {
		return aNum && bNum && fa == fb && math.Abs(fa) < 1<<53
	}
	return a == b
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// covers reports whether desired holds the field at a managedFields path.
func covers(obj any, p smd.Path) bool {
	cur := obj
	for _, pe := range p {
		switch {
		case pe.FieldName != nil:
			m, ok := cur.(map[string]any)
			if !ok {
				return false
			}
			if cur, ok = m[*pe.FieldName]; !ok {
				return false
			}
		case pe.Key != nil:
			l, ok := cur.([]any)
			if !ok {
				return false
			}
			i := slices.IndexFunc(l, func(item any) bool { return keyMatches(item, *pe.Key) })
			if i < 0 {
				return false
			}
			cur = l[i]
		case pe.Value != nil:
			l, ok := cur.([]any)
			if !ok {
				return false
			}
			want := (*pe.Value).Unstructured()
			i := slices.IndexFunc(l, func(item any) bool { return sameScalar(item, want) })
			if i < 0 {
				return false
			}
			cur = l[i]
		case pe.Index != nil:
			l, ok := cur.([]any)
			if !ok || *pe.Index >= len(l) {
				return false
			}
			cur = l[*pe.Index]
		default:
			return false
		}
	}
	return true
}

// keyMatches: every key field the item has equals the key's; a key field
// the item lacks is taken as defaulted by the server. At least one must match.
func keyMatches(item any, key value.FieldList) bool {
	m, ok := item.(map[string]any)
	if !ok {
		return false
	}
	matched := 0
	for _, f := range key {
		v, ok := m[f.Name]
		if !ok {
			continue
		}
		if !sameScalar(v, f.Value.Unstructured()) {
			return false
		}
		matched++
	}
	return matched > 0
}

// admission says which objects a cluster's mutating admission may touch on
// update. Its zero value touches nothing.
type admission struct {
	all   bool            // a mutating admission policy, or a webhook rule tmc cannot read narrowly
	rules []admissionRule // webhook rules that match UPDATE
}

type admissionRule struct{ groups, versions, resources []string }

// mutatingAdmission reads the cluster's MutatingWebhookConfigurations and
// whether it has any MutatingAdmissionPolicy (one LIST each; a kind the
// cluster does not serve is none). Namespace and object selectors are not
// evaluated: a rule that matches the resource is taken to match every object.
func mutatingAdmission(ctx context.Context, c *cluster.Client) (admission, error) {
	var adm admission
	whs := &unstructured.UnstructuredList{}
	whs.SetGroupVersionKind(schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "MutatingWebhookConfigurationList"})
	if err := c.Client.List(ctx, whs); err != nil {
		return adm, fmt.Errorf("list mutating webhooks: %w", err)
	}
	for _, cfg := range whs.Items {
		hooks, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
		for _, h := range hooks {
			hm, _ := h.(map[string]any)
			rules, _, _ := unstructured.NestedSlice(hm, "rules")
			for _, r := range rules {
				rm, _ := r.(map[string]any)
				ops, _, _ := unstructured.NestedStringSlice(rm, "operations")
				if !slices.Contains(ops, "UPDATE") && !slices.Contains(ops, "*") {
					continue
				}
				var ar admissionRule
				ar.groups, _, _ = unstructured.NestedStringSlice(rm, "apiGroups")
				ar.versions, _, _ = unstructured.NestedStringSlice(rm, "apiVersions")
				ar.resources, _, _ = unstructured.NestedStringSlice(rm, "resources")
				adm.rules = append(adm.rules, ar)
			}
		}
	}
	for _, v := range []string{"v1", "v1beta1", "v1alpha1"} {
		maps := &unstructured.UnstructuredList{}
		maps.SetGroupVersionKind(schema.GroupVersionKind{Group: "admissionregistration.k8s.io", Version: v, Kind: "MutatingAdmissionPolicyList"})
		if err := c.Client.List(ctx, maps, client.Limit(1)); err == nil {
			if len(maps.Items) > 0 {
				adm.all = true
			}
			break
		} else if !meta.IsNoMatchError(err) && !apierrors.IsNotFound(err) {
			return adm, fmt.Errorf("list mutating admission policies: %w", err)
		}
	}
	return adm, nil
}

// touches reports whether the cluster's mutating admission may change objects of gvk.
func (a admission) touches(c *cluster.Client, gvk schema.GroupVersionKind) bool {
	if a.all {
		return true
	}
	if len(a.rules) == 0 {
		return false
	}
	m, err := c.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return true
	}
	res := m.Resource.Resource
	for _, r := range a.rules {
		if matchAny(r.groups, gvk.Group) && matchAny(r.versions, gvk.Version) && slices.ContainsFunc(r.resources, func(s string) bool {
			return s == "*" || s == "*/*" || s == res || strings.HasPrefix(s, res+"/")
		}) {
			return true
		}
	}
	return false
}

func matchAny(list []string, s string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, s)
}
