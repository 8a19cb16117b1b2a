package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSchemasUpToDate fails when schemas/ drifts from the Go types; run `make schemas`.
func TestSchemasUpToDate(t *testing.T) {
	files, err := Generate("../policy")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("../../schemas", name))
		if err != nil {
			t.Fatalf("%v (run `make schemas`)", err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("schemas/%s is out of date; run `make schemas` (-want +got):\n%s", name, diff)
		}
	}
}

func TestSchemaCarriesEnumsRequiredAndDocs(t *testing.T) {
	files, err := Generate("../policy")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Required []string `json:"required"`
		Defs     map[string]struct {
			Description string `json:"description"`
			Required    []string
			Properties  map[string]struct {
				Enum        []string `json:"enum"`
				Description string   `json:"description"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(files["projectionpolicy.json"], &s); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"apiVersion", "kind", "metadata"}, s.Required); diff != "" {
		t.Errorf("required (-want +got):\n%s", diff)
	}
	tr := s.Defs["Transformation"]
	if diff := cmp.Diff([]string{"Set", "Delete", "Replace", "Template"}, tr.Properties["type"].Enum); diff != "" {
		t.Errorf("Transformation.type enum (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"type", "jsonPath"}, tr.Required); diff != "" {
		t.Errorf("Transformation required (-want +got):\n%s", diff)
	}
	if tr.Properties["jsonPath"].Description == "" {
		t.Error("Transformation.jsonPath has no description")
	}
}
