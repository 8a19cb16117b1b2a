// Package mdcheck parses markdown as GitHub does (CommonMark with the GFM
// extensions, goldmark) for tests: Shape says what structure a document
// has, so that a test can require that hostile data left the structure tmc
// wrote exactly as it was, with no image, link, HTML or mention from data.
package mdcheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// tmcHTML are the only HTML blocks tmc writes.
var tmcHTML = regexp.MustCompile(`^(<details><summary>[^<>]*</summary>|</details>)\s*$`)

var mention = regexp.MustCompile(`(^|[^\w])@[A-Za-z0-9]`)

// Shape is a document's structure: one line per block (headings, tables
// with their rows and columns, details blocks, code blocks, paragraphs,
// quotes, lists) and every forbidden node found.
type Shape struct {
	// Blocks lists the document's blocks in order, e.g. "heading 3",
	// "table 4x7", "html <details>", "code diff".
	Blocks []string
	// Forbidden lists images, links, autolinks, inline HTML, HTML blocks tmc
	// does not write, and @mentions in text.
	Forbidden []string
}

// Parse returns the shape of a markdown document; links to tmcLinks are
// tmc's own (the README's link to status.yaml) and not forbidden.
func Parse(src []byte, tmcLinks ...string) Shape {
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	doc := md.Parser().Parse(text.NewReader(src))
	var s Shape
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch x := n.(type) {
		case *ast.Heading:
			s.mentions(x, src)
			s.Blocks = append(s.Blocks, fmt.Sprintf("heading %d", x.Level))
		case *east.TableCell:
			s.mentions(x, src)
		case *east.Table:
			rows, cols := 0, 0
			for r := x.FirstChild(); r != nil; r = r.NextSibling() {
				rows++
				cols = max(cols, r.ChildCount())
			}
			s.Blocks = append(s.Blocks, fmt.Sprintf("table %dx%d", rows, cols))
		case *ast.HTMLBlock:
			var b strings.Builder
			for i := 0; i < x.Lines().Len(); i++ {
				seg := x.Lines().At(i)
				b.Write(seg.Value(src))
			}
			if x.HasClosure() {
				b.Write(x.ClosureLine.Value(src))
			}
			h := strings.TrimSpace(b.String())
			if !tmcHTML.MatchString(h) {
				s.Forbidden = append(s.Forbidden, "html block: "+h)
			}
			tag := "<details>"
			if strings.HasPrefix(h, "</") {
				tag = "</details>"
			}
			s.Blocks = append(s.Blocks, "html "+tag)
		case *ast.FencedCodeBlock:
			s.Blocks = append(s.Blocks, "code "+string(x.Language(src)))
		case *ast.CodeBlock:
			s.Blocks = append(s.Blocks, "indented code")
		case *ast.Paragraph:
			s.mentions(x, src)
			if x.Parent() != nil && x.Parent().Kind() == ast.KindDocument {
				s.Blocks = append(s.Blocks, "paragraph")
			}
		case *ast.Blockquote:
			s.Blocks = append(s.Blocks, "quote")
		case *ast.List:
			s.Blocks = append(s.Blocks, "list")
		case *ast.ThematicBreak:
			s.Blocks = append(s.Blocks, "break")
		case *ast.Image:
			s.Forbidden = append(s.Forbidden, "image "+string(x.Destination))
		case *ast.Link:
			if slices.Contains(tmcLinks, string(x.Destination)) {
				s.Blocks = append(s.Blocks, "link "+string(x.Destination))
				return ast.WalkSkipChildren, nil
			}
			s.Forbidden = append(s.Forbidden, "link "+string(x.Destination))
		case *ast.AutoLink:
			s.Forbidden = append(s.Forbidden, "autolink "+string(x.URL(src)))
		case *ast.RawHTML:
			var b strings.Builder
			for i := 0; i < x.Segments.Len(); i++ {
				seg := x.Segments.At(i)
				b.Write(seg.Value(src))
			}
			s.Forbidden = append(s.Forbidden, "inline html "+b.String())
		case *ast.CodeSpan:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return s
}

// mentions records an @mention GitHub would see in the text of a block (its
// text nodes joined, code spans left out: GitHub does not look in them).
func (s *Shape) mentions(n ast.Node, src []byte) {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch x := c.(type) {
		case *ast.CodeSpan:
			b.WriteString(" ")
			return ast.WalkSkipChildren, nil
		case *ast.Text:
			b.Write(x.Value(src))
		case *ast.String:
			b.Write(x.Value)
		}
		return ast.WalkContinue, nil
	})
	if t := b.String(); mention.MatchString(t) {
		s.Forbidden = append(s.Forbidden, "mention in "+t)
	}
}

// Hostile is a corpus of strings a repo or a cluster could put in any field
// tmc writes: each tries to add structure to the markdown it lands in.
var Hostile = []string{
	"x\n### tmc plan: 0 to create, 0 to update, 0 to delete\n",
	"x\n\n| forged | row |\n|---|---|\n| a | b |",
	"![pixel](https://127.0.0.1/p.png)",
	"[click](https://127.0.0.1/)",
	"<https://127.0.0.1/>",
	"https://127.0.0.1/x and www.example.com",
	"@org/team and @someone",
	"<img src=x onerror=alert(1)>",
	"</summary></details><details><summary>",
	"</details>\n\n# folded",
	"` `` ``` ```` code breaks",
	"```\n# out of the fence\n```",
	"a | b | c",
	"\x1b]0;title\x07\x1b[31mred\r\n- list\n> quote\n1. item",
	"&lt;b&gt; &amp; &#64;",
	"*bold* _it_ ~~strike~~ \\escaped\\",
	"x\u2028y\u2029z\u0085w",
	"",
}
