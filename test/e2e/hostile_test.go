package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileBase is a small valid repo the hostile cases add to.
func hostileBase(transformation string) map[string]string {
	h := "apiVersion: tmc.kcp.io/v1alpha1\n"
	return map[string]string{
		"cluster.yaml": h + "kind: Cluster\nmetadata:\n  name: c1\nspec:\n  capacity: {cpu: 2}\n",
		"ws.yaml":      h + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  sources: [{path: app}]\n  projectionPolicies: [pp]\n",
		"pp.yaml":      h + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  transformations:\n    - " + transformation + "\n",
		"app/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: ns\ndata:\n  a: b\n",
	}
}

// TestHostileReposUnderAnAddressSpaceCap runs `tmc render` on repos written
// to exhaust memory, each under a 4 GiB address-space cap (ulimit -v): every
// one must end with a clear error naming its file, never a Go `fatal error`
// or an OOM kill. Peak RSS and time are logged, not asserted against a clock.
func TestHostileReposUnderAnAddressSpaceCap(t *testing.T) {
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n  namespace: ns\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	for i, prev := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		n := string(rune('b' + i))
		bomb += fmt.Sprintf("  %s: &%s [%s]\n", n, n, strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ","))
	}
	double := "let a0 = cluster.name; "
	for i := 1; i <= 27; i++ {
		double += fmt.Sprintf("let a%d = a%d + a%d; ", i, i-1, i-1)
	}
	double += "len(a27) > 0"
	nested := `"a"`
	for range 8 {
		nested = `(replace "a" "aaaaaaaaaa" ` + nested + `)`
	}
	cm := func(name string, size int) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: ns\ndata:\n  big: " + strings.Repeat("x", size) + "\n"
	}
	cases := []struct {
		name  string
		files map[string]string
		args  []string
		want  string // in stderr; "" means the render must succeed
	}{
		{"alias bomb in a manifest", map[string]string{"app/bomb.yaml": bomb}, nil, "app/bomb.yaml:"},
		{"deeply nested manifest", map[string]string{"app/deep.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\n  namespace: ns\ndata:\n  a: " + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + "\n"}, []string{"-o", "json"}, "app/deep.yaml:7: document nests deeper than 100 levels"},
		{"7.9 MB ConfigMap", map[string]string{"app/big.yaml": cm("big", 7900000)}, []string{"-o", "json"}, "app/big.yaml:1: ConfigMap/ns/big is larger than 3 MiB"},
		{"2.9 MB ConfigMap", map[string]string{"app/big.yaml": cm("big", 2900000)}, []string{"-o", "json"}, "app/big.yaml:1: ConfigMap/ns/big holds 2900003 bytes of data, more than the 1048576 (1 MiB) the API server accepts in a ConfigMap"},
		{"2.9 MB custom resource renders", map[string]string{"app/big.yaml": strings.Replace(cm("big", 2900000), "apiVersion: v1\nkind: ConfigMap", "apiVersion: example.com/v1\nkind: Blob", 1)}, []string{"-o", "json"}, ""},
		{"string doubling expression", map[string]string{"pp.yaml": hostileBase("{type: Delete, jsonPath: data.a, conditional: '" + double + "'}")["pp.yaml"]}, nil, "expression builds more than 1024 KiB"},
		{"nested template replace", map[string]string{"pp.yaml": hostileBase("{type: Template, jsonPath: data.a, value: '{{" + nested + "}}'}")["pp.yaml"]}, nil, "template function output would be longer than 64 KiB"},
		{"2 MiB Set on 400 ConfigMaps and 3 clusters", bigSet(), []string{"-o", "json"}, "the render produces more than 256 MiB of objects for all clusters (stopped at"},
		{"2 MiB Set on one object over 3 MiB", map[string]string{"app/big.yaml": strings.Replace(cm("big", 2000000), "apiVersion: v1\nkind: ConfigMap", "apiVersion: example.com/v1\nkind: Blob", 1), "pp.yaml": hostileBase("{type: Set, jsonPath: data.more, value: " + strings.Repeat("y", 2<<20) + "}")["pp.yaml"]}, []string{"-o", "json"}, "app/big.yaml:1: Blob/ns/big on cluster c1: transformations made it larger than 3 MiB"},
		{"20,000 conditional Sets", map[string]string{"pp.yaml": manySets(20000)}, nil, "ProjectionPolicy/pp: spec.transformations: 20000 transformations: at most 1000 in one policy"},
		{"10,000 Clusters", map[string]string{"cluster.yaml": manyClusters(10000)}, nil, "the tree holds 10000 Clusters: at most 2000"},
		// Hostile Helm charts: each renders in tmc's bounded child process.
		{"chart: a template looping for ever", hostileChart("templates/loop.yaml", "{{ range $i := until 100000 }}{{ range $j := until 100000 }}{{ range $k := until 100000 }}{{ end }}{{ end }}{{ end }}"), nil,
			"spec.sources[0].chart: on cluster c1: chart chart: the render did not end within 3s in template c/templates/loop.yaml"},
		{"chart: a string doubled until it is gigabytes", hostileChart("templates/big.yaml", "{{ $s := \"xxxxxxxx\" }}{{ range until 40 }}{{ $s = printf \"%s%s\" $s $s }}{{ end }}{{ $s }}"), nil,
			"in template c/templates/big.yaml"},
		{"chart: a recursive include", hostileChart("templates/rec.yaml", "{{ define \"r\" }}{{ include \"r\" . }}{{ end }}{{ include \"r\" . }}"), nil, "nested reference name: r"},
		{"chart: .Files.Get of /etc/passwd", hostileChart("templates/cm.yaml", "data: {{ .Files.Get \"../../etc/passwd\" | quote }}"), nil,
			`c/templates/cm.yaml:1: .Files.Get "../../etc/passwd": a chart's files are its own`},
		{"chart: a dependency pointing at a URL", hostileChart("Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies: [{name: evil, version: 1.0.0, repository: \"https://attacker.example/charts\"}]\n"), nil,
			`dependency "evil" (repository https://attacker.example/charts) of Chart.yaml is not vendored under charts/`},
		{"chart: lookup", hostileChart("templates/l.yaml", "x: {{ lookup \"v1\" \"Secret\" \"kube-system\" \"admin\" }}"), nil, "tmc renders charts without a cluster"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := hostileBase("{type: Delete, jsonPath: data.zz}")
			for k, v := range tc.files {
				files[k] = v
			}
			for name, content := range files {
				p := filepath.Join(dir, name)
				_ = os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"render"}, tc.args...)
			cmd := exec.Command("bash", "-c", `ulimit -v 4194304 && exec "$0" "$@"`, tmcBin)
			cmd.Args = append(cmd.Args, append(args, dir)...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			rss := int64(0)
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rss = ru.Maxrss >> 10
			}
			t.Logf("%s: %v, peak RSS %d MiB, %d bytes out", tc.name, took.Round(time.Millisecond), rss, out.Len())
			if strings.Contains(errb.String(), "fatal error") || strings.Contains(errb.String(), "out of memory") {
				t.Fatalf("crashed:\n%s", errb.String()[:min(errb.Len(), 2000)])
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("%v: %s", err, errb.String())
				}
				return
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %v, stderr %q, want exit 1 and %q", err, errb.String()[:min(errb.Len(), 2000)], tc.want)
			}
			if rss > 1024 {
				t.Errorf("peak RSS %d MiB for a refused input", rss)
			}
		})
	}
}

// hostileChart is a workspace whose one source is a chart holding file.
func hostileChart(file, content string) map[string]string {
	files := map[string]string{
		"ws.yaml":          "apiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  sources: [{chart: {path: chart}}]\n",
		"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
	}
	files["chart/"+file] = content
	return files
}

// bigSet sets a 2 MiB value on 400 ConfigMaps for 3 clusters: 2.4 GB of
// render output if nothing bounded it.
func bigSet() map[string]string {
	h := "apiVersion: tmc.kcp.io/v1alpha1\n"
	files := map[string]string{
		"cluster.yaml": h + "kind: Cluster\nmetadata:\n  name: c1\n---\n" + h + "kind: Cluster\nmetadata:\n  name: c2\n---\n" + h + "kind: Cluster\nmetadata:\n  name: c3\n",
		"pp.yaml":      h + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  transformations:\n    - {type: Set, jsonPath: data.big, value: " + strings.Repeat("z", 2<<20) + "}\n",
	}
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  namespace: ns\ndata:\n  a: b\n", i)
	}
	files["app/cms.yaml"] = b.String()
	return files
}

// manySets is a ProjectionPolicy of n conditional Set transformations.
func manySets(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: tmc.kcp.io/v1alpha1\nkind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  transformations:\n")
	for i := range n {
		fmt.Fprintf(&b, "    - {type: Set, jsonPath: metadata.labels.l%d, value: v, conditional: 'cluster.name != \"\"'}\n", i)
	}
	return b.String()
}

// manyClusters is a file of n Cluster objects.
func manyClusters(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: c%d\n", i)
	}
	return b.String()
}
