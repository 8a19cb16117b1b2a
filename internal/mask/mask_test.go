package mask

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestSecretValuesAndText(t *testing.T) {
	s := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"data":       map[string]any{"k": base64.StdEncoding.EncodeToString([]byte("hunter22"))},
		"stringData": map[string]any{"p": "s3cr3t-value"}}}
	got := Text("bad value hunter22 and s3cr3t-value and "+base64.StdEncoding.EncodeToString([]byte("s3cr3t-value")), SecretValues(s))
	if want := "bad value *** and *** and ***"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"k": "visible"}}}
	if SecretValues(cm) != nil {
		t.Error("a ConfigMap holds no secret values")
	}
}

// TestSecretTaintExprView: expressions see a Secret's identity and labels,
// never a value of data, stringData or annotations, nor managedFields; any
// other object is seen as it is.
func TestSecretTaintExprView(t *testing.T) {
	sec := map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": "db", "namespace": "ns", "labels": map[string]any{"team": "a"},
			"annotations":   map[string]any{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"p":"czNj"}}`},
			"managedFields": []any{map[string]any{"manager": "x"}}},
		"data": map[string]any{"p": "czNj"}, "stringData": map[string]any{"q": "s3c"}, "extra": "copied"}
	got := ExprView(sec)
	want := map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": "db", "namespace": "ns", "labels": map[string]any{"team": "a"},
			"annotations": map[string]any{"kubectl.kubernetes.io/last-applied-configuration": Value}},
		"data": map[string]any{"p": Value}, "stringData": map[string]any{"q": Value}, "extra": Value}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ExprView (-want +got):\n%s", diff)
	}
	if sec["data"].(map[string]any)["p"] != "czNj" {
		t.Error("ExprView changed the object itself")
	}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"p": "x"}}
	if diff := cmp.Diff(cm, ExprView(cm)); diff != "" {
		t.Errorf("a ConfigMap is seen as it is:\n%s", diff)
	}
}
