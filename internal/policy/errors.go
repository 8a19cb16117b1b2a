package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Pos is a position in a policy file.
type Pos struct {
	// File is the path of the file, relative to the policy root.
	File string `json:"file"`
	// Line is 1-based; 0 when unknown.
	Line int `json:"line"`
	// Column is 1-based; 0 when unknown.
	Column int `json:"column"`
}

func (p Pos) String() string {
	f := p.File
	if strings.ContainsFunc(f, func(r rune) bool {
		return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029'
	}) {
		// A file name of the repo with a newline must not start a line
		// of output (a forged "repo: valid"): quoted, as Go would.
		f = strconv.Quote(f)
	}
	switch {
	case p.Line == 0:
		return f
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", f, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", f, p.Line, p.Column)
}

// Error is one problem in a policy tree, located by file, line, column and field.
type Error struct {
	Pos
	// Object is the policy object at fault as Kind/name, when known.
	Object string `json:"object,omitempty"`
	// Field is the dotted path of the field at fault inside the object, when known.
	Field string `json:"field"`
	// Message says what is wrong.
	Message string `json:"message"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Object != "" {
		b.WriteString(e.Object)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found in one load, sorted by file, line, column.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Sort orders the list by file, line, column, field and message, and drops exact duplicates.
func (l *ErrorList) Sort() {
	s := *l
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Message < b.Message
	})
	out := s[:0]
	for i, e := range s {
		if i > 0 && *e == *s[i-1] {
			continue
		}
		out = append(out, e)
	}
	*l = out
}

// Err returns the list as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
