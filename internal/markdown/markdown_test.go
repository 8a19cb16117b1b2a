package markdown_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/markdown"
	"github.com/kcp-dev/tmc/internal/markdown/mdcheck"
)

// TestMarkdownEscapesByConstruction writes a document tmc's way — a heading,
// a table, a details block with a summary and a code fence, a paragraph —
// with each hostile string in every slot, and requires the parsed structure
// to be the same as with a benign string, with nothing forbidden.
func TestMarkdownEscapesByConstruction(t *testing.T) {
	doc := func(v string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "### tmc plan: %s\n\n", markdown.Text(v))
		fmt.Fprintf(&b, "Revision %s and %s\n\n", markdown.Code(v), markdown.Text(v))
		b.WriteString("| cluster | value | code |\n|---|---|---|\n")
		fmt.Fprintf(&b, "| %s | %s | %s |\n", markdown.Cell(v), markdown.Cell(v+v), markdown.CodeCell(v))
		fmt.Fprintf(&b, "| %s | %s | %s |\n", markdown.Cell("a"), markdown.CodeCell(v), markdown.Cell(v))
		fmt.Fprintf(&b, "\n<details><summary>%s</summary>\n\n%s\n</details>\n", markdown.HTML(v), markdown.Fence("diff", v+"\n"+v))
		fmt.Fprintf(&b, "\n> Could not read: %s\n", markdown.Text(v))
		return b.String()
	}
	want := mdcheck.Parse([]byte(doc("benign")))
	if len(want.Forbidden) != 0 || len(want.Blocks) != 7 {
		t.Fatalf("the benign document: %+v", want)
	}
	for _, h := range mdcheck.Hostile {
		got := mdcheck.Parse([]byte(doc(h)))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q changed the structure (-want +got):\n%s\n%s", h, diff, doc(h))
		}
	}
}

// TestMarkdownCodeKeepsValue: a code span shows what data holds (one line,
// control characters visible), not an escaped form of it.
func TestMarkdownCodeKeepsValue(t *testing.T) {
	for in, want := range map[string]string{
		"nginx:1.27": "`nginx:1.27`",
		"a`b":        "``a`b``",
		"`x":         "`` `x ``",
		"a\nb":       "`a\\nb`",
	} {
		if got := markdown.Code(in); got != want {
			t.Errorf("Code(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMarkdownCheckSeesRawData: written raw, as before the writer, the
// hostile corpus does change the structure or add forbidden nodes — the
// check above can fail.
func TestMarkdownCheckSeesRawData(t *testing.T) {
	doc := func(v string) string {
		return "### plan\n\n| cluster | value |\n|---|---|\n| " + strings.ReplaceAll(v, "|", `\|`) + " | x |\n\n<details><summary>" + v + "</summary>\n\n```diff\n" + v + "\n```\n\n</details>\n"
	}
	want := mdcheck.Parse([]byte(doc("benign")))
	caught := 0
	for _, h := range mdcheck.Hostile {
		if !cmp.Equal(want, mdcheck.Parse([]byte(doc(h)))) {
			caught++
		}
	}
	if caught < len(mdcheck.Hostile)/2 {
		t.Errorf("the check caught only %d of %d raw hostile strings", caught, len(mdcheck.Hostile))
	}
}
