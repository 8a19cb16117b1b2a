package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"render-examples.yaml", []string{"render", "../../examples/policies"}},
		{"render-explain.txt", []string{"render", "--explain", "../../examples/policies"}},
		{"render-edge.yaml", []string{"render", "--cluster", "edge-1", "--workspace", "web-app", "../../examples/policies"}},
	} {
		out, errOut, code := runTMC(t, tc.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut)
		}
		golden(t, tc.golden, []byte(out))
	}
}

func TestRenderJSON(t *testing.T) {
	out, errOut, code := runTMC(t, "render", "-o", "json", "../../examples/policies")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		FormatVersion string `json:"formatVersion"`
		Workspaces    []struct {
			Name     string `json:"name"`
			Clusters []struct {
				Name    string `json:"name"`
				Objects []struct {
					ID struct {
						Kind, Name string
					} `json:"id"`
					Object map[string]any `json:"object"`
				} `json:"objects"`
			} `json:"clusters"`
		} `json:"workspaces"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	c := res.Workspaces[1].Clusters[1] // web-app (podinfo is first)
	if res.FormatVersion != "1" || c.Name != "prod-east" || c.Objects[1].ID.Name != "web-config-prod-east" {
		t.Fatalf("unexpected JSON: %+v", res)
	}
	if spec := c.Objects[4].Object["spec"].(map[string]any); spec["replicas"] != float64(3) {
		t.Errorf("prod-east replicas = %v", spec["replicas"])
	}
}

func TestRenderErrors(t *testing.T) {
	_, errOut, code := runTMC(t, "render", "--cluster", "nope", "../../examples/policies")
	if code != 1 || !strings.Contains(errOut, `cluster "nope" does not exist`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runTMC(t, "render", "testdata/invalid")
	if code != 1 || !strings.Contains(errOut, "6 errors") {
		t.Errorf("invalid tree: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runTMC(t, "render", "--facts", "missing.yaml", "../../examples/policies")
	if code != 1 || !strings.Contains(errOut, "missing.yaml: no such file") {
		t.Errorf("missing facts: exit %d, stderr %q", code, errOut)
	}
}
