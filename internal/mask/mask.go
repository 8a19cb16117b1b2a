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

// IsSecretObject reports whether an object held as plain data is a core/v1 Secret.
func IsSecretObject(obj map[string]any) bool {
	if obj == nil {
		return false
	}
	v, _ := obj["apiVersion"].(string)
	k, _ := obj["kind"].(string)
	return IsSecret(v, k)
}

// ExprView is what an expression sees of obj. For anything but a Secret it
// is obj itself. For a Secret it is a copy that keeps what identifies it
// (apiVersion, kind, type, immutable, metadata name, namespace, labels,
// generation, uid, timestamps) and shows Value for every value of data,
// stringData and annotations (which may hold last-applied-configuration),
// with managedFields dropped. So no expression can make its outcome, its
// error or anything it copies depend on a Secret value: the taint rule of
// docs/security.md.
func ExprView(obj map[string]any) map[string]any {
	if !IsSecretObject(obj) {
		return obj
	}
	return SecretContent(obj)
}

// SecretContent returns a copy of a Secret's content (the whole object, or
// the part of it a view shows) with its values masked, as ExprView says.
func SecretContent(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		switch k {
		case "apiVersion", "kind", "type", "immutable":
			out[k] = v
		case "data", "stringData":
			out[k] = maskedKeys(v)
		case "metadata":
			md, _ := v.(map[string]any)
			m := make(map[string]any, len(md))
			for mk, mv := range md {
				switch mk {
				case "managedFields":
				case "annotations":
					m[mk] = maskedKeys(mv)
				default:
					m[mk] = mv
				}
			}
			out[k] = m
		default:
			// a field a Secret does not have (a transformation's Set): it may
			// hold anything, so it is masked whole.
			out[k] = Value
		}
	}
	return out
}

// maskedKeys returns a map with v's keys and Value for every value.
func maskedKeys(v any) map[string]any {
	in, _ := v.(map[string]any)
	out := make(map[string]any, len(in))
	for k := range in {
		out[k] = Value
	}
	return out
}

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
