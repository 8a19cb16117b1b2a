package policy

import (
	"fmt"
	"strings"
	"testing"
)

// TestExpressionsAreBounded runs expressions that build gigabytes within
// expr-lang's item budget; each must fail with the byte budget's error,
// quickly and without a crash. The ordinary uses must still work.
func TestExpressionsAreBounded(t *testing.T) {
	double := `let a0 = cluster.name; `
	for i := 1; i <= 27; i++ {
		double += fmt.Sprintf("let a%d = a%d + a%d; ", i, i-1, i-1)
	}
	double += `len(a27) > 0`
	cases := []struct {
		src  string
		want string // "" means the expression must run and return true
	}{
		{double, "expression builds more than 1024 KiB"},
		{`len(repeat("abc", 100000000)) > 0`, "expression builds more than 1024 KiB"},
		{`len(replace(repeat("a", 1000), "a", repeat("b", 10000))) > 0`, "expression builds more than 1024 KiB"},
		{`len(join(map(1..100000, repeat("x", 100)), ",")) > 0`, "expression builds more than 1024 KiB"},
		{`len(map(1..100000, cluster.name + "xxxxxxxxxxxxxxxx")) > 0`, "expression builds more than 1024 KiB"},
		{`len(toJSON(map(1..10000, repeat("y", 100)))) > 0`, "expression builds more than 1024 KiB"},
		{`len(split(repeat("a,", 400000), ",")) > 0`, "expression builds more than 1024 KiB"},
		{`len(concat(1..60000, 1..60000)) > 0`, "expression builds more than 1024 KiB"},
		{`cluster.name + "-x" == "c1-x"`, ""},
		{`upper(cluster.name) == "C1" && lower("AB") == "ab"`, ""},
		{`repeat("ab", 2) == "abab" && replace("a-b", "-", "+") == "a+b"`, ""},
		{`join(["a", "b"], ",") == "a,b" && len(split("a,b", ",")) == 2`, ""},
		{`len(concat([1], [2, 3])) == 3 && len(flatten([[1], [2, [3]]])) == 3`, ""},
		{`toJSON({"a": 1}) != "" && toBase64("x") == "eA=="`, ""},
		{`1 + 2 == 3 && cluster.capacity.cpu + 1 > 2`, ""},
	}
	for _, tc := range cases {
		p, err := compileExpr(tc.src, scopeCluster)
		if err != nil {
			t.Errorf("%s: compile: %v", tc.src, err)
			continue
		}
		p.Source = tc.src
		env := &Env{Cluster: ClusterFacts{Name: "c1", Capacity: CapacityFacts{CPU: 4}}}
		ok, err := p.Bool(env)
		switch {
		case tc.want == "" && (err != nil || !ok):
			t.Errorf("%s: %v %v, want true", tc.src, ok, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestNondeterministicBuiltinsRefused: now(), date() and timezone() do not compile.
func TestNondeterministicBuiltinsRefused(t *testing.T) {
	for src, want := range map[string]string{
		`now().Year() > 2000`:                     "now is not allowed: now() reads the clock, and renders must be the same on every run",
		`date("2024-01-01") != nil`:               "date is not allowed",
		`timezone("Europe/Zurich") != nil`:        "timezone is not allowed",
		`cluster.name == "a" || now().Unix() > 0`: "(1:24)",
	} {
		_, err := compileExpr(src, scopeCluster)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}
