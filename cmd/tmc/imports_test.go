package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEngineIsTheOnlyWayIn: the CLI reaches tmc through the root package
// alone — its code imports the standard library, cobra, golang.org/x/term
// (terminal detection) and github.com/kcp-dev/tmc, never an internal
// package — and the root package's list of aliases is the only one
// (internal/engine declares none).
func TestEngineIsTheOnlyWayIn(t *testing.T) {
	allowed := map[string]bool{"github.com/kcp-dev/tmc": true, "github.com/spf13/cobra": true, "golang.org/x/term": true}
	files, _ := filepath.Glob("*.go")
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			std := !strings.Contains(strings.Split(p, "/")[0], ".")
			if !std && !allowed[p] {
				t.Errorf("%s imports %s: the CLI goes through the root package", f, p)
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked %d files: the test looks in the wrong place", checked)
	}
	engine, _ := filepath.Glob(filepath.Join("..", "..", "internal", "engine", "*.go"))
	for _, f := range engine {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, sp := range g.Specs {
				if ts := sp.(*ast.TypeSpec); ts.Assign.IsValid() {
					t.Errorf("%s: type alias %s: the root package's aliases are the one list", f, ts.Name.Name)
				}
			}
		}
	}
	if len(engine) == 0 {
		t.Fatal("internal/engine not found")
	}
}
