package plan

import (
	"encoding/json"
	"testing"
)

// FuzzParse feeds arbitrary bytes as a saved plan: no panic, and a plan that
// parses writes back and parses again to the same value.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"formatVersion":"1","changes":[{"workspace":"w","logicalCluster":"root","cluster":"c","action":"create","apiVersion":"v1","kind":"ConfigMap","name":"x","digest":"d"}],"clusters":[{"name":"c","reachable":true}],"summary":{}}`))
	f.Add([]byte(`{"formatVersion":"1","changes":null}`))
	f.Add([]byte(`{"formatVersion":"2"}`))
	f.Add([]byte(`[[[[[[[[[[]]]]]]]]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.json", data)
		if err != nil {
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse("again.json", out); err != nil {
			t.Fatalf("a parsed plan does not parse again: %v\n%s", err, out)
		}
	})
}
