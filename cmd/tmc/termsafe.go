package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// termSafe escapes control characters on their way to a terminal: cluster
// facts, live objects and the policy repo are untrusted (docs/security.md),
// and a raw escape sequence in a label or a server's version string could
// rewrite the screen or the terminal's title. Newlines and tabs pass, as do
// the SGR colour sequences tmc writes itself (ESC [ digits m); every other
// C0 control character is written as \xNN, DEL and C1 as \u00NN (valid
// escapes in JSON and YAML strings too). JSON and
// YAML never carry raw control characters, so they pass unchanged.
type termSafe struct{ w io.Writer }

func newTermSafe(w io.Writer) *termSafe {
	if ts, ok := w.(*termSafe); ok {
		return ts
	}
	return &termSafe{w: w}
}

// Unwrap returns the writer underneath, for terminal detection.
func (t *termSafe) Unwrap() io.Writer { return t.w }

func (t *termSafe) Write(p []byte) (int, error) {
	if clean(p) {
		return t.w.Write(p)
	}
	if _, err := t.w.Write(escapeControls(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func clean(p []byte) bool {
	for _, b := range p {
		if (b < 0x20 && b != '\n' && b != '\t') || b == 0x7f || b == 0xc2 {
			return false
		}
	}
	return true
}

// escapeControls rewrites control characters as visible escapes.
func escapeControls(p []byte) []byte {
	out := make([]byte, 0, len(p)+16)
	for i := 0; i < len(p); {
		b := p[i]
		if b == 0x1b {
			if n := sgrLen(p[i:]); n > 0 {
				out = append(out, p[i:i+n]...)
				i += n
				continue
			}
		}
		if b < 0x20 && b != '\n' && b != '\t' {
			out = append(out, fmt.Sprintf(`\x%02x`, b)...)
			i++
			continue
		}
		if b == 0x7f {
			out = append(out, `\u007f`...)
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r >= 0x80 && r <= 0x9f {
			out = append(out, fmt.Sprintf(`\u%04x`, r)...)
		} else {
			out = append(out, p[i:i+size]...)
		}
		i += size
	}
	return out
}

// sgrLen returns the length of a colour sequence ESC [ (digits ;)* m at the
// start of p, or 0.
func sgrLen(p []byte) int {
	if len(p) < 3 || p[1] != '[' {
		return 0
	}
	for i := 2; i < len(p) && i < 16; i++ {
		switch c := p[i]; {
		case c == 'm':
			return i + 1
		case (c >= '0' && c <= '9') || c == ';':
		default:
			return 0
		}
	}
	return 0
}

// line is the terminal writer's rule for one value from the repo or a
// cluster (a name, an error, a manager): it stays on its line. Line breaks
// are written \n and \r, so a value can never start a line of output (a
// forged "Plan: 0 to create" or "repo: valid"), and ESC is written \x1b (a
// value cannot colour the output either); termSafe then makes the remaining
// control characters visible.
func line(s string) string {
	if !strings.ContainsAny(s, "\n\r\x1b\u2028\u2029\u0085") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\x1b", `\x1b`, "\u2028", `\u2028`, "\u2029", `\u2029`, "\u0085", `\u0085`).Replace(s)
}

// printf is fmt.Fprintf for the text views, with every string, Stringer
// and error argument passed through line: the format is tmc's and may
// break lines, a value may not.
func printf(w io.Writer, format string, args ...any) {
	for i, a := range args {
		switch x := a.(type) {
		case string:
			args[i] = line(x)
		case error:
			args[i] = line(x.Error())
		case fmt.Stringer:
			args[i] = line(x.String())
		}
	}
	fmt.Fprintf(w, format, args...)
}
