package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc"
	"github.com/kcp-dev/tmc/internal/markdown/mdcheck"
)

// hostilePlan is a plan whose every string from the repo or a cluster is v:
// names, errors, reasons, conflicts, drift managers, the revision, and a
// value inside the diff (quoted there, as the YAML diff writes values).
func hostilePlan(v string) *tmc.Plan {
	ch := func(cluster string, a tmc.Action) *tmc.Change {
		return &tmc.Change{Workspace: v, LogicalCluster: v, Cluster: cluster, Action: a, APIVersion: v, Kind: v, Namespace: v, Name: v,
			Reason: v, Conflict: v, Error: v, Diff: "--- a\n+++ b\n@@ -1 +1 @@\n-  x: " + strconv.Quote(v) + "\n+  x: y\n"}
	}
	upd := ch("c-"+v, tmc.ActionUpdate)
	upd.Drift = &tmc.Drift{Manager: v, Operation: v, Time: v}
	changes := []*tmc.Change{ch("east", tmc.ActionCreate), upd, ch("east", tmc.ActionDelete), ch("west", tmc.ActionSkip)}
	return &tmc.Plan{FormatVersion: tmc.PlanFormatVersion, Revision: "r" + v, Changes: changes,
		Clusters: []tmc.ClusterState{{State: tmc.ClusterReached("east", true)}, {State: tmc.ClusterReached("c-"+v, true)}, {State: tmc.ClusterUnreached("west", errors.New(v))}},
		Summary:  tmc.Summarize(changes),
		Rollouts: []tmc.PlanRollout{{Workspace: v, LogicalCluster: v, Waves: []tmc.RolloutWave{{Name: v, Clusters: []string{"east", "c-" + v}, Reasons: map[string]string{"east": v}}}}}}
}

// TestPlanMarkdownEscapesHostileData: the plan comment of a plan whose
// every field holds a hostile string parses (as GitHub would) to exactly
// the headings, tables and details blocks of a benign plan, with no image,
// link, HTML or mention from data.
func TestPlanMarkdownEscapesHostileData(t *testing.T) {
	render := func(v string) []byte {
		var b bytes.Buffer
		if err := writePlanMarkdown(&b, hostilePlan(v), defaultMarkdownLimit); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	want := mdcheck.Parse(render("benign"))
	if len(want.Forbidden) != 0 || len(want.Blocks) < 6 {
		t.Fatalf("benign plan: %+v", want)
	}
	for _, h := range mdcheck.Hostile {
		if diff := cmp.Diff(want, mdcheck.Parse(render(h))); diff != "" {
			t.Errorf("%q changed the plan comment (-want +got):\n%s\n%s", h, diff, render(h))
		}
	}
}

// TestPlanTextEscapesHostileData: in the text views (plan, status-style
// cluster lines, apply) no value starts a line of output: the hostile
// plan prints exactly as many lines as the benign one, and a forged
// summary line never appears at the start of a line.
func TestPlanTextEscapesHostileData(t *testing.T) {
	render := func(v string) string {
		var b bytes.Buffer
		if err := writePlanText(newTermSafe(&b), hostilePlan(v), false); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	want := strings.Count(render("benign"), "\n")
	for _, h := range mdcheck.Hostile {
		if h == "" {
			continue // empty notes are left out, by design
		}
		got := render(h)
		if n := strings.Count(got, "\n"); n != want {
			t.Errorf("%q: %d lines, want %d:\n%s", h, n, want, got)
		}
		for _, l := range strings.Split(got, "\n") {
			if strings.HasPrefix(l, "### tmc plan") || strings.HasPrefix(l, "- list") || strings.ContainsAny(l, "\r\x1b\x07") {
				t.Errorf("%q: forged or raw line %q", h, l)
			}
		}
	}
}

// TestValidateFileNameCannotForgeALine: a manifest whose file name holds a
// newline and "repo: valid" is named quoted in validate's errors, so no
// line of the output says the repo is valid.
func TestValidateFileNameCannotForgeALine(t *testing.T) {
	dir := t.TempDir()
	name := "x\nrepo: valid\n.yaml"
	if err := os.WriteFile(filepath.Join(dir, name), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ws.yaml"), []byte("apiVersion: tmc.kcp.io/v1alpha1\nkind: VirtualWorkspace\nmetadata: {name: w}\nspec:\n  sources: [{path: .}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runTMC(t, "validate", dir)
	if code != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, l := range strings.Split(out+errOut, "\n") {
		if strings.HasSuffix(l, ": valid") {
			t.Errorf("forged line %q in:\n%s%s", l, out, errOut)
		}
	}
}

// TestSyncListensOnLoopbackByDefault: the status API has no authentication,
// so tmc sync binds loopback unless --listen says otherwise.
func TestSyncListensOnLoopbackByDefault(t *testing.T) {
	fl := newSyncCommand().Flags().Lookup("listen")
	if fl == nil || fl.DefValue != "127.0.0.1:8080" {
		t.Fatalf("--listen default %v, want 127.0.0.1:8080", fl)
	}
}
