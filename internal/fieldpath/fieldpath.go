package fieldpath

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLength bounds the length of a path; longer paths are rejected.
const MaxLength = 1024

// SegmentKind tells what a Segment addresses.
type SegmentKind int

const (
	// Field addresses the value of a mapping key.
	Field SegmentKind = iota
	// Index addresses a list item by position.
	Index
	// Select addresses the list item whose field Key equals Value.
	Select
)

// Segment is one step of a Path.
type Segment struct {
	// Kind tells which of the other fields are set.
	Kind SegmentKind
	// Key is the mapping key (Field) or the item field compared (Select).
	Key string
	// Value is the value compared (Select).
	Value string
	// Index is the list position (Index).
	Index int
}

// Path is a parsed field path.
type Path struct {
	// Segments are the steps from the object root.
	Segments []Segment
}

// Error is a parse error at a byte offset of the input.
type Error struct {
	// Offset is the byte offset of the problem in the input.
	Offset int
	// Message says what is wrong.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid path at offset %d: %s", e.Offset, e.Message)
}

// Parse parses s into a Path.
func Parse(s string) (Path, error) {
	if s == "" {
		return Path{}, &Error{0, "path is empty"}
	}
	if len(s) > MaxLength {
		return Path{}, &Error{MaxLength, fmt.Sprintf("path is longer than %d bytes", MaxLength)}
	}
	if !utf8.ValidString(s) {
		return Path{}, &Error{0, "path is not valid UTF-8"}
	}
	p := &parser{in: s}
	return p.parse()
}

// MustParse is Parse that panics on error; for tests and constants only.
func MustParse(s string) Path {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

type parser struct {
	in  string
	pos int
	out []Segment
}

func (p *parser) errf(off int, format string, args ...any) error {
	return &Error{Offset: off, Message: fmt.Sprintf(format, args...)}
}

func (p *parser) parse() (Path, error) {
	for p.pos < len(p.in) {
		// A segment starts either with a bracket or a plain key.
		if p.in[p.pos] == '[' {
			if err := p.bracket(); err != nil {
				return Path{}, err
			}
		} else {
			if err := p.key(); err != nil {
				return Path{}, err
			}
		}
		if p.pos == len(p.in) {
			break
		}
		switch p.in[p.pos] {
		case '.':
			p.pos++
			if p.pos == len(p.in) {
				return Path{}, p.errf(p.pos, "path ends with '.'")
			}
			if p.in[p.pos] == '[' {
				return Path{}, p.errf(p.pos, "'[' may not follow '.'")
			}
			if p.rest() {
				return Path{Segments: p.out}, nil
			}
		case '[':
		default:
			return Path{}, p.errf(p.pos, "unexpected %q", p.in[p.pos])
		}
	}
	return Path{Segments: p.out}, nil
}

// rest handles the metadata.labels./metadata.annotations. convenience: when
// the segments so far are exactly those two and the remainder is not a
// bracketed key, the whole remainder is one key.
func (p *parser) rest() bool {
	if len(p.out) != 2 || p.out[0].Kind != Field || p.out[0].Key != "metadata" || p.out[1].Kind != Field {
		return false
	}
	if k := p.out[1].Key; k != "labels" && k != "annotations" {
		return false
	}
	r := p.in[p.pos:]
	if strings.ContainsAny(r, "[]'\"") {
		return false
	}
	p.out = append(p.out, Segment{Kind: Field, Key: r})
	p.pos = len(p.in)
	return true
}

func (p *parser) key() error {
	start := p.pos
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == '.' || c == '[' {
			break
		}
		if c == ']' || c == '\'' || c == '"' || c <= ' ' {
			return p.errf(p.pos, "unexpected %q in key", c)
		}
		p.pos++
	}
	if p.pos == start {
		return p.errf(start, "empty key")
	}
	p.out = append(p.out, Segment{Kind: Field, Key: p.in[start:p.pos]})
	return nil
}

func (p *parser) bracket() error {
	open := p.pos
	p.pos++ // '['
	if p.pos < len(p.in) && (p.in[p.pos] == '\'' || p.in[p.pos] == '"') {
		k, err := p.quoted()
		if err != nil {
			return err
		}
		if err := p.expect(']', open); err != nil {
			return err
		}
		p.out = append(p.out, Segment{Kind: Field, Key: k})
		return nil
	}
	end := strings.IndexByte(p.in[p.pos:], ']')
	if end < 0 {
		return p.errf(open, "unclosed '['")
	}
	body := p.in[p.pos : p.pos+end]
	bodyAt := p.pos
	p.pos += end + 1
	if body == "" {
		return p.errf(bodyAt, "empty brackets")
	}
	if k, v, ok := strings.Cut(body, "="); ok {
		if k == "" || strings.ContainsAny(k, ".[]'\" ") {
			return p.errf(bodyAt, "invalid selector key %q", k)
		}
		v = unquote(v)
		if v == "" {
			return p.errf(bodyAt+len(k)+1, "empty selector value")
		}
		p.out = append(p.out, Segment{Kind: Select, Key: k, Value: v})
		return nil
	}
	n, err := strconv.Atoi(body)
	if err != nil || n < 0 || body[0] == '+' {
		return p.errf(bodyAt, "list index %q is not a non-negative integer (use [key=value] to select by field, ['key'] for a key)", body)
	}
	p.out = append(p.out, Segment{Kind: Index, Index: n})
	return nil
}

func (p *parser) quoted() (string, error) {
	q := p.in[p.pos]
	start := p.pos
	p.pos++
	end := strings.IndexByte(p.in[p.pos:], q)
	if end < 0 {
		return "", p.errf(start, "unclosed quote")
	}
	k := p.in[p.pos : p.pos+end]
	p.pos += end + 1
	if k == "" {
		return "", p.errf(start, "empty quoted key")
	}
	return k, nil
}

func (p *parser) expect(c byte, open int) error {
	if p.pos >= len(p.in) || p.in[p.pos] != c {
		return p.errf(open, "expected %q to close '['", c)
	}
	p.pos++
	return nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// String renders the path in its canonical form; Parse(p.String()) == p.
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p.Segments {
		switch s.Kind {
		case Field:
			if needsQuote(s.Key) {
				q := "'"
				if strings.Contains(s.Key, "'") {
					q = `"`
				}
				b.WriteString("[" + q + s.Key + q + "]")
				continue
			}
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Key)
		case Index:
			fmt.Fprintf(&b, "[%d]", s.Index)
		case Select:
			fmt.Fprintf(&b, "[%s=%s]", s.Key, s.Value)
		}
	}
	return b.String()
}

func needsQuote(k string) bool {
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case c == '.' || c == '[' || c == ']' || c == '\'' || c == '"' || c <= ' ':
			return true
		}
	}
	return false
}
