package fieldpath

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func f(k string) Segment      { return Segment{Kind: Field, Key: k} }
func idx(i int) Segment       { return Segment{Kind: Index, Index: i} }
func sel(k, v string) Segment { return Segment{Kind: Select, Key: k, Value: v} }

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want []Segment
		str  string // canonical form, when it differs from in
	}{
		{"spec.replicas", []Segment{f("spec"), f("replicas")}, ""},
		{"spec.template.spec.containers[0].env[0].value", []Segment{f("spec"), f("template"), f("spec"), f("containers"), idx(0), f("env"), idx(0), f("value")}, ""},
		{"spec.template.spec.containers[name=web].image", []Segment{f("spec"), f("template"), f("spec"), f("containers"), sel("name", "web"), f("image")}, ""},
		{"spec.containers[name='web'].image", []Segment{f("spec"), f("containers"), sel("name", "web"), f("image")}, "spec.containers[name=web].image"},
		{"metadata.labels['workload.kcp.io/projected']", []Segment{f("metadata"), f("labels"), f("workload.kcp.io/projected")}, ""},
		{`metadata.annotations["a.b/c"]`, []Segment{f("metadata"), f("annotations"), f("a.b/c")}, "metadata.annotations['a.b/c']"},
		{"metadata.labels.workload.kcp.io/projected", []Segment{f("metadata"), f("labels"), f("workload.kcp.io/projected")}, "metadata.labels['workload.kcp.io/projected']"},
		{"metadata.annotations.tmc.kcp.io/tier", []Segment{f("metadata"), f("annotations"), f("tmc.kcp.io/tier")}, "metadata.annotations['tmc.kcp.io/tier']"},
		{"data['app.properties']", []Segment{f("data"), f("app.properties")}, ""},
		{"items[3][1]", []Segment{f("items"), idx(3), idx(1)}, ""},
		{"metadata.name", []Segment{f("metadata"), f("name")}, ""},
	}
	for _, tc := range cases {
		p, err := Parse(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, p.Segments); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, diff)
		}
		want := tc.str
		if want == "" {
			want = tc.in
		}
		if got := p.String(); got != want {
			t.Errorf("%s: String() = %q, want %q", tc.in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"":            "invalid path at offset 0: path is empty",
		"spec.":       "invalid path at offset 5: path ends with '.'",
		"spec..x":     "invalid path at offset 5: empty key",
		"spec[abc":    "invalid path at offset 4: unclosed '['",
		"spec[-1]":    `invalid path at offset 5: list index "-1" is not a non-negative integer (use [key=value] to select by field, ['key'] for a key)`,
		"spec[]":      "invalid path at offset 5: empty brackets",
		"spec['x":     "invalid path at offset 5: unclosed quote",
		"spec['x'.y":  `invalid path at offset 4: expected ']' to close '['`,
		"spec[name=]": "invalid path at offset 10: empty selector value",
		"spec.[0]":    "invalid path at offset 5: '[' may not follow '.'",
		"spec]":       "invalid path at offset 4: unexpected ']' in key",
		"spec[0]x":    "invalid path at offset 7: unexpected 'x'",
		"[0]":         "",
	}
	for in, want := range cases {
		_, err := Parse(in)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("Parse(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse checks that Parse never panics and that String round-trips.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"spec.replicas", "a[0].b[name=x]", "metadata.labels['a.b/c']", "metadata.labels.a.b/c", "x[", "[']"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		q, err := Parse(p.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, p.String(), err)
		}
		if diff := cmp.Diff(p, q); diff != "" {
			t.Fatalf("round trip of %q via %q (-first +second):\n%s", s, p.String(), diff)
		}
	})
}
