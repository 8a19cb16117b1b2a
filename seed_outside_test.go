package tmc_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeedSnippetsBuildInAnOutsideModule: the seed's snippets, pasted into
// the main package of another module that imports this one with
// `import . "github.com/kcp-dev/tmc"`, compile; the module takes the API
// with `go get` (resolved offline, from the module cache, against this
// checkout).
func TestSeedSnippetsBuildInAnOutsideModule(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(root, "examples", "seed", "snippets.go"))
	if err != nil {
		t.Fatal(err)
	}
	main := strings.Replace(string(src), "\npackage seed\n", "\npackage main\n", 1) + "\nfunc main() { _ = ClusterConfigs() }\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"go.mod":  "module example.com/embedder\n\ngo 1.26\n\nreplace github.com/kcp-dev/tmc => " + filepath.ToSlash(root) + "\n",
		"main.go": main, "go.sum": string(sum),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the test builds another module with the go command: %v", err)
	}
	for _, args := range [][]string{{"get", "github.com/kcp-dev/tmc@v0.0.0"}, {"build", "-o", filepath.Join(dir, "embedder"), "."}} {
		cmd := exec.Command(gobin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "embedder")); err != nil {
		t.Fatal(err)
	}
}
