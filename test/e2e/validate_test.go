package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBinaryValidate(t *testing.T) {
	out, errOut, code := tmc(t, "validate", "../../examples/policies")
	if code != 0 || !strings.HasSuffix(out, "../../examples/policies: valid\n") {
		t.Fatalf("examples: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	dir := t.TempDir()
	bad := map[string]string{
		"a.yaml": "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: a\nspec:\n  nope: 1\n",
		"b.yaml": "apiVersion: tmc.kcp.io/v1alpha1\nkind: ProjectionPolicy\nmetadata:\n  name: b\nspec:\n  mode: Conditional\n  conditional: 'cluster.type =='\n",
		"c.yaml": "apiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata:\n  name: c\nspec:\n  sources: [{path: x}]\n  projectionPolicies: [missing]\n",
		"d.yaml": "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: a\n",
	}
	for name, content := range bad {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, _, code = tmc(t, "validate", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		`a.yaml:6:3: Cluster/a: spec.nope: unknown field "nope"`,
		`b.yaml:7:16: ProjectionPolicy/b: spec.conditional: invalid expression`,
		`c.yaml:6:20: VirtualWorkspace/c: spec.sources[0].path: path "x" does not exist in the repo`,
		`c.yaml:7:24: VirtualWorkspace/c: spec.projectionPolicies[0]: ProjectionPolicy "missing" does not exist`,
		`d.yaml:4:9: Cluster/a: metadata.name: duplicate Cluster "a": already defined at a.yaml:1:1`,
		": 5 errors",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
