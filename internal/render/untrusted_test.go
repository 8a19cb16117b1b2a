package render

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kcp-dev/tmc/internal/limits"
	"github.com/kcp-dev/tmc/internal/policy"
)

// TestKustomizeNeverFetches names a local HTTP server in every kustomize
// field that kustomize would fetch or clone. Loading the policies must refuse
// each with its file, line and field, and a render of a tree whose
// kustomization turned hostile after loading must refuse it too; the server
// must see no request at all.
func TestKustomizeNeverFetches(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\ndata:\n  leaked: \"yes\"\n")
	}))
	defer srv.Close()
	u := srv.URL + "/x.yaml"
	cases := []struct{ name, kustomization, field string }{
		{"resources", "resources:\n- cm.yaml\n- " + u + "\n", "resources"},
		{"bases", "bases:\n- " + u + "\n", "bases"},
		{"components", "resources:\n- cm.yaml\ncomponents:\n- " + u + "\n", "components"},
		{"patches path", "resources:\n- cm.yaml\npatches:\n- path: " + u + "\n", "path"},
		{"patchesStrategicMerge", "resources:\n- cm.yaml\npatchesStrategicMerge:\n- " + u + "\n", "patchesStrategicMerge"},
		{"patchesJson6902", "resources:\n- cm.yaml\npatchesJson6902:\n- target: {version: v1, kind: ConfigMap, name: cm}\n  path: " + u + "\n", "path"},
		{"configMapGenerator files", "configMapGenerator:\n- name: g\n  files:\n  - " + u + "\n", "files"},
		{"configMapGenerator key=file", "configMapGenerator:\n- name: g\n  files:\n  - key=" + u + "\n", "files"},
		{"configMapGenerator envs", "configMapGenerator:\n- name: g\n  envs:\n  - " + u + "\n", "envs"},
		{"secretGenerator files", "secretGenerator:\n- name: g\n  files:\n  - " + u + "\n", "files"},
		{"openapi", "resources:\n- cm.yaml\nopenapi:\n  path: " + u + "\n", "path"},
		{"crds", "resources:\n- cm.yaml\ncrds:\n- " + u + "\n", "crds"},
		{"configurations", "resources:\n- cm.yaml\nconfigurations:\n- " + u + "\n", "configurations"},
		{"replacements", "resources:\n- cm.yaml\nreplacements:\n- path: " + u + "\n", "path"},
		{"inline transformer config", "resources:\n- cm.yaml\ntransformers:\n- |\n  apiVersion: builtin\n  kind: PatchTransformer\n  metadata:\n    name: p\n  path: " + u + "\n", "path"},
		{"git repository", "resources:\n- cm.yaml\n- github.com/example/repo//base?ref=main\n", "resources"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := tree("    - {type: Delete, jsonPath: data.a}\n")
			files["app/kustomization.yaml"] = tc.kustomization
			dir := writeTree(t, files)
			_, err := policy.Load(context.Background(), dir)
			want := "app/kustomization.yaml:"
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), "render never touches the network") {
				t.Fatalf("load error = %v\nwant one naming %s and field %s", err, want, tc.field)
			}
			// The same kustomization written after the policies loaded (a
			// caller that loaded from elsewhere): render refuses it as well.
			files["app/kustomization.yaml"] = "resources:\n- cm.yaml\n"
			dir = writeTree(t, files)
			p := loadDir(t, dir)
			if err := os.WriteFile(filepath.Join(dir, "app/kustomization.yaml"), []byte(tc.kustomization), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = Render(context.Background(), p, Options{})
			if err == nil || !strings.Contains(err.Error(), "render never touches the network") {
				t.Fatalf("render error = %v", err)
			}
		})
	}
	// A builtin plugin config in its own file, named by transformers.
	t.Run("transformer config file", func(t *testing.T) {
		files := tree("    - {type: Delete, jsonPath: data.a}\n")
		files["app/kustomization.yaml"] = "resources:\n- cm.yaml\ntransformers:\n- patch.yaml\n"
		files["app/patch.yaml"] = "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: " + u + "\n"
		_, err := policy.Load(context.Background(), writeTree(t, files))
		if err == nil || !strings.Contains(err.Error(), "app/patch.yaml:5:7: path") {
			t.Fatalf("load error = %v", err)
		}
	})
	if n := hits.Load(); n != 0 {
		t.Fatalf("the HTTP server received %d requests; render must make none", n)
	}
}

// TestManifestBudgets feeds manifests that would allocate without bound or
// that the API server would refuse: each is an error naming the file and line.
func TestManifestBudgets(t *testing.T) {
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n  namespace: ns\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += fmt.Sprintf("  %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	deep := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\n  namespace: ns\ndata:\n  a: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"
	big := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: ns\ndata:\n  a: " + strings.Repeat("x", limits.MaxObjectSize+10) + "\n"
	cases := []struct{ name, file, content, want string }{
		{"alias bomb", "app/bomb.yaml", bomb, "app/bomb.yaml:13: document expands to more than"},
		{"deep nesting", "app/deep.yaml", deep, "document nests deeper than 100 levels"},
		{"self-referencing alias", "app/self.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n  namespace: ns\ndata: &d\n  a: *d\n", "app/self.yaml:"},
		{"duplicate key", "app/dup.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  namespace: ns\ndata:\n  a: x\n  a: y\n", `app/dup.yaml:8: key "a" is written twice in one mapping (first at line 7)`},
		{"object larger than the API server accepts", "app/big.yaml", big, "app/big.yaml:1: ConfigMap/ns/big is larger than 3 MiB"},
		{"name with a path", "app/name.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Web_Config/../../etc\n  namespace: ns\n", `app/name.yaml:1: ConfigMap/ns/Web_Config/../../etc: metadata.name "Web_Config/../../etc" is not a valid ConfigMap name`},
		{"bad namespace", "app/ns.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  namespace: ../etc\n", `metadata.namespace "../etc" is not a valid namespace`},
		{"RBAC names may hold colons", "app/rbac.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: system:tmc-reader\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := tree("    - {type: Delete, jsonPath: data.zz}\n")
			files[tc.file] = tc.content
			p := loadDir(t, writeTree(t, files))
			_, err := Render(context.Background(), p, Options{})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// TestRenderInputCap: many files each under the per-file cap add up to more
// than one render reads.
func TestRenderInputCap(t *testing.T) {
	files := tree("    - {type: Delete, jsonPath: data.zz}\n")
	// JSON manifests (the policy loader reads only YAML), each under the per-file cap.
	chunk := strings.Repeat("x", 4<<20)
	for i := range limits.MaxRenderInput/(4<<20) + 2 {
		files[fmt.Sprintf("app/cm%02d.json", i)] = fmt.Sprintf(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm%02d", "namespace": "ns"}, "data": {"a": %q}}`, i, chunk)
	}
	p := loadDir(t, writeTree(t, files))
	_, err := Render(context.Background(), p, Options{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("hold more than %d MiB of manifests in all", limits.MaxRenderInput>>20)) {
		t.Fatalf("render error = %v", err)
	}
}

// TestTemplateMakesInvalidName: a template that renders a name the API server
// would refuse is an error naming the object and cluster.
func TestTemplateMakesInvalidName(t *testing.T) {
	p := loadDir(t, writeTree(t, tree("    - {type: Template, jsonPath: metadata.name, value: '{{.OriginalName}}/{{.TargetCluster}}'}\n")))
	_, err := Render(context.Background(), p, Options{})
	if err == nil || !strings.Contains(err.Error(), `ConfigMap/ns/cm on cluster c1: transformations made an invalid object: metadata.name "cm/c1" is not a valid ConfigMap name`) {
		t.Fatalf("render error = %v", err)
	}
}

// TestWorkspacesMayNotShareObjects: two workspaces that put the same object
// on the same cluster are an error naming both, once with its clusters.
func TestWorkspacesMayNotShareObjects(t *testing.T) {
	files := tree("    - {type: Delete, jsonPath: data.zz}\n")
	files["cluster2.yaml"] = hdr + "kind: Cluster\nmetadata:\n  name: c2\n"
	files["ws2.yaml"] = hdr + "kind: VirtualWorkspace\nmetadata:\n  name: other\nspec:\n  sources: [{path: other}]\n"
	files["other/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: ns\ndata:\n  mine: \"true\"\n"
	p := loadDir(t, writeTree(t, files))
	_, err := Render(context.Background(), p, Options{})
	want := "app/cm.yaml:1: ConfigMap/ns/cm is rendered to cluster c1, c2 by workspace ws and by workspace other (from other/cm.yaml:1): one object on a cluster belongs to one workspace"
	if err == nil || err.Error() != want {
		t.Fatalf("render error = %v\nwant %s", err, want)
	}
	// Placed on different clusters, the same object is fine.
	files["ws2.yaml"] = hdr + "kind: VirtualWorkspace\nmetadata:\n  name: other\nspec:\n  placement: {clusters: [c2]}\n  sources: [{path: other}]\n"
	files["ws.yaml"] = hdr + "kind: VirtualWorkspace\nmetadata:\n  name: ws\nspec:\n  placement: {clusters: [c1]}\n  sources: [{path: app}]\n  projectionPolicies: [pp]\n"
	p = loadDir(t, writeTree(t, files))
	if _, err := Render(context.Background(), p, Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestKustomizeNeverRunsGit puts a fake git first on PATH that records every
// call, and names a remote repository in each form kustomize's loader would
// clone (scp-like with a user, host/org/repo with a user, ssh, https with a
// ref, a .git suffix). Loading refuses each with file:line; a render of a
// kustomization made hostile after loading refuses it too; git is never run
// and no temporary directory is left behind.
func TestKustomizeNeverRunsGit(t *testing.T) {
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "git-calls")
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, ref := range []string{
		"alice@127.0.0.1:org/repo//kust",
		"alice@github.com/org/repo",
		"git@127.0.0.1:org/repo.git",
		"ssh://git@127.0.0.1/org/repo//base",
		"https://127.0.0.1/org/repo//base?ref=v1",
		"127.0.0.1/org/repo.git//base",
		"gh:org/repo",
	} {
		t.Run(ref, func(t *testing.T) {
			kust := "resources:\n- cm.yaml\n- " + ref + "\n"
			files := tree("    - {type: Delete, jsonPath: data.a}\n")
			files["app/kustomization.yaml"] = kust
			_, err := policy.Load(context.Background(), writeTree(t, files))
			if err == nil || !strings.Contains(err.Error(), "app/kustomization.yaml:3:3: resources: ") {
				t.Fatalf("load error = %v", err)
			}
			files["app/kustomization.yaml"] = "resources:\n- cm.yaml\n"
			dir := writeTree(t, files)
			p := loadDir(t, dir)
			if err := os.WriteFile(filepath.Join(dir, "app/kustomization.yaml"), []byte(kust), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Render(context.Background(), p, Options{}); err == nil || !strings.Contains(err.Error(), "render never touches the network") {
				t.Fatalf("render error = %v", err)
			}
		})
	}
	if b, err := os.ReadFile(calls); err == nil {
		t.Errorf("git was run:\n%s", b)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary entries left behind: %v", left)
	}
}
