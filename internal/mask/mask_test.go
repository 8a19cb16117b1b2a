package mask

import (
	"encoding/base64"
	"testing"

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
