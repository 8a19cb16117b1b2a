// Package markdown is the one writer of the markdown tmc produces — the
// plan comment of a pull request and the report READMEs committed to git —
// and escapes by construction every string that comes from the policy repo
// or a cluster for the context it lands in. Data can never start a heading,
// a table row, a list, an image, a link, a mention, HTML or a new line.
//
//	fmt.Fprintf(&b, "| %s | %s |\n", markdown.Cell(name), markdown.CodeCell(value))
//	fmt.Fprintf(&b, "<details><summary>%s</summary>\n", markdown.HTML(title))
//	b.WriteString(markdown.Fence("diff", body))
package markdown

import (
	"html"
	"strings"
	"unicode"
)

// oneLine folds a string onto one line: line breaks and other control
// characters become visible escapes (a value can never end a table row or
// a paragraph, or start a block), so what data holds is still readable.
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteByte(' ')
		case r == '\u2028' || r == '\u2029' || unicode.IsControl(r):
			b.WriteString(`\u` + hex4(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func hex4(r rune) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf]})
}

// special are the characters Text escapes: those that open or close an
// inline construct, HTML or an entity, a table cell, and . and : which GFM
// needs for the autolinks it makes of www.x and https://x in text. Data
// never starts a line (oneLine), so line-start markers (-, =, 1.) need none.
const special = "\\`*_{}[]()<>#+!|~&.:"

// Text makes s safe as inline text of a paragraph, heading or list item:
// every ASCII punctuation character that markdown reads is backslash-escaped
// (so no emphasis, link, image, autolink, HTML, heading, quote, list or code
// span can start from it), and an @ is followed by a zero-width space so
// that GitHub does not notify a user or team named in data.
func Text(s string) string {
	s = oneLine(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch {
		case r == '@':
			b.WriteString("@\u200b")
		case r < 0x80 && strings.ContainsRune(special, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Cell makes s safe as the text of a table cell (Text, which escapes |).
func Cell(s string) string { return Text(s) }

// Code makes s an inline code span: on one line, fenced with more backticks
// than any run in s, padded when it starts or ends with a backtick. Nothing
// inside a code span is markdown, HTML or a mention.
func Code(s string) string {
	s = oneLine(s)
	n := longestRun(s, '`') + 1
	fence := strings.Repeat("`", n)
	if s == "" {
		return "` `"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || (strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ")) {
		s = " " + s + " "
	}
	return fence + s + fence
}

// CodeCell is Code for a table cell: GitHub splits a row at every | before
// it reads code spans, so a | inside is escaped too.
func CodeCell(s string) string { return strings.ReplaceAll(Code(s), "|", `\|`) }

// HTML makes s safe as text inside HTML tmc writes (a <summary>): escaped
// entities, on one line, @ broken as in Text.
func HTML(s string) string {
	return strings.ReplaceAll(html.EscapeString(oneLine(s)), "@", "@\u200b")
}

// Fence returns body as a fenced code block of the given info string, with
// a fence longer than any run of backticks or tildes in body, so that no
// line of body can close it.
func Fence(info, body string) string {
	n := max(longestRun(body, '`')+1, 3)
	fence := strings.Repeat("`", n)
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	return fence + info + "\n" + body + fence + "\n"
}

func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}
