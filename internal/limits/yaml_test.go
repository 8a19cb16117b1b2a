package limits

import (
	"fmt"
	"strings"
	"testing"
)

func TestDocuments(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		bomb += fmt.Sprintf("l%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%s, ", map[bool]string{true: "", false: fmt.Sprint(i - 1)}[i == 1]), 10), ", "))
	}
	bigScalars := "s: &s " + strings.Repeat("x", 1<<20) + "\nl: [" + strings.TrimSuffix(strings.Repeat("*s, ", 20), ", ") + "]\n"
	cases := []struct{ name, in, want string }{
		{"plain", "a: 1\nb: [1, 2]\n---\n---\nc: {d: e}\n", ""},
		{"alias bomb", bomb, "document expands to more than 1000000 nodes"},
		{"aliases of large scalars", bigScalars, "document expands to more than 16 MiB"},
		{"deep lists", "a: " + strings.Repeat("[", 101) + strings.Repeat("]", 101) + "\n", "line 1: document nests deeper than 100 levels"},
		{"just deep enough", "a: " + strings.Repeat("[", 99) + strings.Repeat("]", 99) + "\n", ""},
		{"duplicate key", "a: 1\nb: 2\na: 3\n", `line 3: key "a" is written twice in one mapping (first at line 1)`},
		{"merge keys are not duplicates", "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n", ""},
		{"syntax", "a: [\n", "invalid YAML"},
	}
	for _, tc := range cases {
		_, err := Documents([]byte(tc.in))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzDocuments: no panic, and what passes is within the limits.
func FuzzDocuments(f *testing.F) {
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("a: &a [x, x]\nb: [*a, *a]\n"))
	f.Add([]byte("{a: 1, a: 2}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Documents(data)
		if err != nil {
			return
		}
		for _, d := range docs {
			s, err := Measure(d)
			if err != nil || s.Nodes > MaxYAMLNodes || s.Depth > MaxYAMLDepth || s.Bytes > MaxYAMLBytes {
				t.Fatalf("passed but out of limits: %+v %v", s, err)
			}
		}
	})
}
