package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func runTMC(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestValidateExamples(t *testing.T) {
	out, errOut, code := runTMC(t, "validate", "../../examples/policies")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s, stdout %s", code, errOut, out)
	}
	golden(t, "validate-examples.txt", []byte(out))
}

// TestValidateInvalid checks that every problem of a malformed tree is
// printed with file:line, not just the first, and that the exit code is 1.
func TestValidateInvalid(t *testing.T) {
	out, _, code := runTMC(t, "validate", "testdata/invalid")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	golden(t, "validate-invalid.txt", []byte(out))

	out, _, code = runTMC(t, "validate", "-o", "json", "testdata/invalid")
	if code != 1 {
		t.Errorf("json: exit %d, want 1", code)
	}
	var res struct {
		FormatVersion string `json:"formatVersion"`
		Errors        []struct {
			File    string `json:"file"`
			Line    int    `json:"line"`
			Column  int    `json:"column"`
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.FormatVersion != "1" || len(res.Errors) != 6 {
		t.Fatalf("formatVersion %q, %d errors, want 1 and 6:\n%s", res.FormatVersion, len(res.Errors), out)
	}
	first := res.Errors[0]
	if first.File != "clusters.yaml" || first.Line != 6 || first.Column != 3 || first.Field != "spec.regoin" {
		t.Errorf("first error = %+v", first)
	}
}

func TestUsageErrors(t *testing.T) {
	_, errOut, code := runTMC(t, "validate", "-o", "xml", "testdata/invalid")
	if code != 1 || errOut != "Error: unknown output format \"xml\": use text or json\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runTMC(t, "validate", "does-not-exist")
	if code != 1 || errOut != "" {
		t.Errorf("missing dir: exit %d, stderr %q", code, errOut)
	}
}
