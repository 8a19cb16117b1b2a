package plan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kcp-dev/tmc/internal/mask"
)

func secret(data map[string]any, stringData map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "s", "namespace": "ns", "resourceVersion": "7", "uid": "u",
			"annotations": map[string]any{lastApplied: `{"data":{"password":"c2VjcmV0"}}`}},
	}}
	if data != nil {
		u.Object["data"] = data
	}
	if stringData != nil {
		u.Object["stringData"] = stringData
	}
	return u
}

func TestDiffMasksSecrets(t *testing.T) {
	before := secret(map[string]any{"same": "c2FtZQ==", "changed": "b2xk", "gone": "eA=="}, nil)
	after := secret(map[string]any{"same": "c2FtZQ==", "changed": "bmV3", "added": "eQ=="}, map[string]any{"plain": "canary-value"})
	got := unifiedDiff("Secret/ns/s", before, after)
	want := `--- live/Secret/ns/s
+++ desired/Secret/ns/s
@@ -1,7 +1,7 @@
 apiVersion: v1
 data:
-  changed: '*** (before)'
-  gone: '***'
+  added: '***'
+  changed: '*** (after)'
   same: '***'
 kind: Secret
 metadata:
@@ -9,3 +9,5 @@
     kubectl.kubernetes.io/last-applied-configuration: '***'
   name: s
   namespace: ns
+stringData:
+  plain: '***'
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, secretValue := range []string{"c2FtZQ==", "b2xk", "bmV3", "canary-value", "c2VjcmV0"} {
		if strings.Contains(got, secretValue) {
			t.Errorf("diff leaks %q", secretValue)
		}
	}
	// The inputs are not changed.
	if v, _, _ := unstructured.NestedString(after.Object, "stringData", "plain"); v != "canary-value" {
		t.Errorf("unifiedDiff changed its input: %q", v)
	}
}

func TestDiffCreateAndDelete(t *testing.T) {
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]any{"a": "b"}}}
	if got := unifiedDiff("ConfigMap/c", nil, cm); !strings.HasPrefix(got, "--- live/ConfigMap/c\n+++ desired/ConfigMap/c\n@@ -0,0 +1,6 @@\n+apiVersion: v1\n") {
		t.Errorf("create diff:\n%s", got)
	}
	if got := unifiedDiff("ConfigMap/c", cm, nil); !strings.Contains(got, "@@ -1,6 +0,0 @@\n-apiVersion: v1\n") {
		t.Errorf("delete diff:\n%s", got)
	}
}

func TestMaskText(t *testing.T) {
	s := secret(map[string]any{"k": "Y2FuYXJ5LXZhbHVl"}, map[string]any{"p": "plain-secret"})
	vals := mask.SecretValues(s)
	got := mask.Text(`Secret "s" is invalid: data[k]: "canary-value" and Y2FuYXJ5LXZhbHVl and plain-secret`, vals)
	if want := `Secret "s" is invalid: data[k]: "***" and *** and ***`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
