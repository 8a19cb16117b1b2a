package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const hdr = "apiVersion: tmc.kcp.io/v1alpha1\n"

// writeRepo writes a policy repo (relative path → content) into a new directory.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// secretRepo holds a Secret and a policy whose conditional reads it.
func secretRepo(conditional string) map[string]string {
	return map[string]string{
		"cluster.yaml": hdr + "kind: Cluster\nmetadata:\n  name: c1\nspec:\n  capacity: {cpu: 2}\n",
		"ws.yaml":      hdr + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  sources: [{path: app}]\n  projectionPolicies: [pp]\n",
		"pp.yaml":      hdr + "kind: ProjectionPolicy\nmetadata:\n  name: pp\nspec:\n  resourceSelectors: [{kind: Secret}]\n  transformations:\n    - {type: Set, jsonPath: metadata.labels.x, value: y, conditional: '" + conditional + "'}\n",
		"app/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: ns\n  annotations: {note: CANARY-ANNOTATION}\n" +
			"stringData:\n  password: \"CANARY(pass\"\n  token: CANARY-TOKEN\ndata:\n  key: Q0FOQVJZLURBVEE=\n",
	}
}

// TestSecretValuesStayInTheSecret: explain, -o json facts and expression
// errors never show a value read from a Secret. (The rendered Secret itself
// prints in clear, as kustomize does; only -o yaml and the JSON object show it.)
func TestSecretValuesStayInTheSecret(t *testing.T) {
	cases := []struct {
		name, conditional string
		args              []string
		code              int
	}{
		{"explain facts", `resource.stringData.token == "x" || resource.data.key != "" || resource.metadata.annotations.note != ""`, []string{"render", "--explain"}, 0},
		{"json facts", `resource.stringData.token != "x" && resource.stringData.password != ""`, []string{"render", "-o", "json"}, 0},
		{"whole resource", `len(resource) > 0`, []string{"render", "--explain"}, 0},
		{"int of a token", `int(resource.stringData.token) > 0`, []string{"render"}, 1},
		{"regexp from a password", `"x" matches resource.stringData.password`, []string{"render", "--explain"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRepo(t, secretRepo(tc.conditional))
			out, errOut, code := runTMC(t, append(tc.args, dir)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut)
			}
			if len(tc.args) > 1 && tc.args[1] == "-o" {
				// The object itself is in the JSON: drop it and look at the rest.
				i := strings.Index(out, `"object"`)
				if i < 0 {
					t.Fatalf("no object in %s", out)
				}
				out = out[:i]
			}
			for _, canary := range []string{"CANARY", "Q0FOQVJZ"} {
				if strings.Contains(out, canary) || strings.Contains(errOut, canary) {
					t.Errorf("a Secret value leaked:\nstdout: %s\nstderr: %s", out, errOut)
				}
			}
			if tc.code == 0 && !strings.Contains(out, "***") {
				t.Errorf("want masked facts (***) in %s", out)
			}
			if tc.code == 1 && !strings.Contains(errOut, "failed on a Secret (the error is withheld") {
				t.Errorf("stderr %s", errOut)
			}
		})
	}
}

// TestRenderIsDeterministic renders the same tree many times: byte-identical.
func TestRenderIsDeterministic(t *testing.T) {
	for _, args := range [][]string{{"render"}, {"render", "-o", "json"}, {"render", "--explain"}} {
		first, _, code := runTMC(t, append(args, "../../examples/policies")...)
		if code != 0 {
			t.Fatal(code)
		}
		for range 20 {
			out, _, _ := runTMC(t, append(args, "../../examples/policies")...)
			if out != first {
				t.Fatalf("%v: two renders of the same tree differ", args)
			}
		}
	}
}

// TestFactsFileChecked: a facts file naming an unknown cluster, with negative
// or non-finite figures, or too large, is refused with its name.
func TestFactsFileChecked(t *testing.T) {
	dir := writeRepo(t, secretRepo("true"))
	cases := map[string]string{
		"c2:\n  nodes: 1\n":                                "facts file FILE: c2: no Cluster of that name in the policies",
		"c1:\n  capacity: {cpu: -4}\n":                     "c1.capacity.cpu: -4 is out of range",
		"c1:\n  nodes: -1\n":                               "c1.nodes: -1 is negative",
		"c1:\n  capacity: {cpu: 1e400}\n":                  "facts file FILE",
		"c1: &a\n  nodes: 1\nc2: *a\nc2: 3\n":              "facts file FILE",
		"c1:\n  kubernetesVersion: \"v1\\e]0;pwned\\a\"\n": "c1.kubernetesVersion: holds control characters",
		strings.Repeat("# padding\n", 110000):              "larger than 1024 KiB",
	}
	for content, want := range cases {
		f := filepath.Join(t.TempDir(), "facts.yaml")
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := runTMC(t, "render", "--facts", f, dir)
		want = strings.ReplaceAll(want, "FILE", f)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", content[:min(len(content), 40)], code, errOut, want)
		}
	}
}

// TestTerminalEscapesEscaped: control characters that reach a terminal
// output (here through a placement reason and a rendered annotation) are
// written as visible escapes.
func TestTerminalEscapesEscaped(t *testing.T) {
	var buf bytes.Buffer
	w := newTermSafe(&buf)
	w.Write([]byte("facts kubernetesVersion=v1\x1b]0;pwned\x07 \x1b[2J\u009b ok \x1b[32mgreen\x1b[0m\n\tnext\x7f"))
	want := "facts kubernetesVersion=v1\\x1b]0;pwned\\x07 \\x1b[2J\\u009b ok \x1b[32mgreen\x1b[0m\n\tnext\\u007f"
	if got := buf.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	files := secretRepo("true")
	files["cluster.yaml"] = hdr + "kind: Cluster\nmetadata:\n  name: c1\n  labels: {env: prod}\nspec:\n  region: \"eu\\e[2J\"\n"
	files["ws.yaml"] = hdr + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  placement:\n    conditional: 'cluster.region != \"\"'\n  sources: [{path: app}]\n  projectionPolicies: [pp]\n"
	out, errOut, code := runTMC(t, "render", "--explain", writeRepo(t, files))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "\x1b") || !strings.Contains(out, `cluster.region=eu\x1b[2J`) {
		t.Errorf("explain output:\n%q", out)
	}
}

// TestNearMissAPIVersion: a tmc kind under a misspelt group is an error, not a manifest.
func TestNearMissAPIVersion(t *testing.T) {
	files := secretRepo("true")
	files["typo.yaml"] = "apiVersion: tmc.kcp.oi/v1alpha1\nkind: ProjectionPolicy\nmetadata:\n  name: typo\n"
	errOut, _, code := runTMC(t, "validate", writeRepo(t, files))
	if code != 1 || !strings.Contains(errOut, `typo.yaml:1:13: apiVersion: apiVersion "tmc.kcp.oi/v1alpha1" is not tmc's; this ProjectionPolicy would be ignored (did you mean "tmc.kcp.io/v1alpha1"?)`) {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
}

// TestPlacementErrorNamesCluster: a placement expression failing at run time
// names its file once and the cluster it failed for.
func TestPlacementErrorNamesCluster(t *testing.T) {
	files := secretRepo("true")
	files["ws.yaml"] = hdr + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  placement:\n    conditional: 'int(cluster.region) > 0'\n  sources: [{path: app}]\n  projectionPolicies: [pp]\n"
	_, errOut, code := runTMC(t, "render", writeRepo(t, files))
	if code != 1 || strings.Count(errOut, "ws.yaml:") != 1 || !strings.Contains(errOut, "on cluster c1: expression") {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
}

// TestCapacityOutOfRange: cpu "1e400" is refused by validate, not by -o json later.
func TestCapacityOutOfRange(t *testing.T) {
	files := secretRepo("true")
	files["cluster.yaml"] = hdr + "kind: Cluster\nmetadata:\n  name: c1\nspec:\n  capacity: {cpu: \"1e400\"}\n"
	errOut, _, code := runTMC(t, "validate", writeRepo(t, files))
	if code != 1 || !strings.Contains(errOut, `cluster.yaml:6:19: Cluster/c1: spec.capacity.cpu: quantity "1e400" is out of range`) {
		t.Errorf("exit %d, stderr %s", code, errOut)
	}
}
