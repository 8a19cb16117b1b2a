// Package mask keeps Secret values out of every output: plans, diffs,
// errors, explain output, facts, aggregated views, reports and the status
// page all mask through it.
//
//	secrets := mask.SecretValues(obj)        // a Secret's values, plain and base64
//	msg = mask.Text(err.Error(), secrets)    // an API error that echoes one of them
package mask

import (
	"encoding/base64"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Value stands for a Secret value wherever tmc would otherwise show it.
const Value = "***"

// IsSecret reports whether apiVersion and kind name a core/v1 Secret.
func IsSecret(apiVersion, kind string) bool { return apiVersion == "v1" && kind == "Secret" }

// SecretValues returns a Secret's values (plain and base64) for masking text.
func SecretValues(u *unstructured.Unstructured) []string {
	if u == nil || !IsSecret(u.GetAPIVersion(), u.GetKind()) {
		return nil
	}
	var out []string
	for _, field := range []string{"data", "stringData"} {
		m, _, _ := unstructured.NestedStringMap(u.Object, field)
		for _, v := range m {
			out = append(out, v)
			if field == "data" {
				if dec, err := base64.StdEncoding.DecodeString(v); err == nil {
					out = append(out, string(dec))
				}
			} else {
				out = append(out, base64.StdEncoding.EncodeToString([]byte(v)))
			}
		}
	}
	return out
}

// Text replaces every value of secrets that appears in s with Value, so
// that an API error echoing a value does not leak it. Values shorter than 4
// bytes are left alone (masking "a" everywhere would destroy the message and
// tell more than it hides).
func Text(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, Value)
		}
	}
	return s
}
