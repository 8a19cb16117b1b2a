package main

import (
	"fmt"
	"io"
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
