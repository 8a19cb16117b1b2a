package limits

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// YAMLError is a problem at a line of a YAML input.
type YAMLError struct {
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	// Message says what is wrong.
	Message string
}

func (e *YAMLError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return e.Message
}

// CheckNode checks one parsed YAML document before anything expands its
// aliases: at most MaxYAMLNodes nodes with aliases expanded, at most
// MaxYAMLDepth levels of nesting, no alias that contains itself and no
// mapping that holds a key twice. It runs in time linear in the document as
// written, whatever its aliases would expand to.
func CheckNode(n *yaml.Node) error {
	_, err := Measure(n)
	return err
}

// CheckShape is CheckNode without the duplicate-key check, for decoders
// that report duplicate keys themselves with the field's path.
func CheckShape(n *yaml.Node) error {
	c := &checker{sizes: map[*yaml.Node]shape{}, active: map[*yaml.Node]bool{}, allowDup: true}
	_, err := c.shape(n)
	return err
}

// Shape is the size of a YAML document with its aliases expanded.
type Shape struct {
	// Nodes counts the nodes.
	Nodes int
	// Depth counts the levels of nested mappings and lists.
	Depth int
	// Bytes counts the bytes of scalar values and keys.
	Bytes int
}

// JSONSize estimates the size of the document as compact JSON.
func (s Shape) JSONSize() int { return s.Bytes + 4*s.Nodes }

// Measure is CheckNode that also returns the document's expanded shape.
func Measure(n *yaml.Node) (Shape, error) {
	c := &checker{sizes: map[*yaml.Node]shape{}, active: map[*yaml.Node]bool{}}
	s, err := c.shape(n)
	return Shape{Nodes: s.nodes, Depth: s.depth, Bytes: s.bytes}, err
}

type shape struct {
	nodes int // nodes with aliases expanded, saturating above MaxYAMLNodes
	depth int // nesting levels with aliases expanded
	bytes int // scalar bytes with aliases expanded, saturating above MaxYAMLBytes
}

type checker struct {
	sizes    map[*yaml.Node]shape
	active   map[*yaml.Node]bool
	allowDup bool
}

func (c *checker) shape(n *yaml.Node) (shape, error) {
	if n == nil {
		return shape{}, nil
	}
	if s, ok := c.sizes[n]; ok {
		return s, nil
	}
	if c.active[n] {
		return shape{}, &YAMLError{Line: n.Line, Column: n.Column, Message: "YAML alias refers to a node that contains it"}
	}
	c.active[n] = true
	defer delete(c.active, n)
	var s shape
	if n.Kind == yaml.AliasNode {
		t, err := c.shape(n.Alias)
		if err != nil {
			return shape{}, err
		}
		s = t
	} else {
		s.nodes, s.bytes = 1, len(n.Value)
		for _, ch := range n.Content {
			t, err := c.shape(ch)
			if err != nil {
				return shape{}, err
			}
			s.nodes = min(s.nodes+t.nodes, MaxYAMLNodes+1)
			s.bytes = min(s.bytes+t.bytes, MaxYAMLBytes+1)
			s.depth = max(s.depth, t.depth)
		}
		if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
			s.depth++
			if s.depth > MaxYAMLDepth {
				return shape{}, &YAMLError{Line: n.Line, Column: n.Column, Message: fmt.Sprintf("document nests deeper than %d levels", MaxYAMLDepth)}
			}
		}
		if n.Kind == yaml.MappingNode && !c.allowDup {
			if err := duplicateKeys(n); err != nil {
				return shape{}, err
			}
		}
	}
	if s.nodes > MaxYAMLNodes {
		return shape{}, &YAMLError{Line: n.Line, Column: n.Column, Message: fmt.Sprintf("document expands to more than %d nodes (YAML aliases?)", MaxYAMLNodes)}
	}
	if s.bytes > MaxYAMLBytes {
		return shape{}, &YAMLError{Line: n.Line, Column: n.Column, Message: fmt.Sprintf("document expands to more than %d MiB (YAML aliases?)", MaxYAMLBytes>>20)}
	}
	c.sizes[n] = s
	return s, nil
}

// duplicateKeys reports a scalar key written twice in one mapping.
func duplicateKeys(n *yaml.Node) error {
	if len(n.Content) < 4 {
		return nil
	}
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			continue
		}
		if first, dup := seen[k.Value]; dup {
			return &YAMLError{Line: k.Line, Column: k.Column, Message: fmt.Sprintf("key %q is written twice in one mapping (first at line %d)", k.Value, first.Line)}
		}
		seen[k.Value] = k
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Documents parses every document of a YAML stream into nodes and checks
// each with CheckNode. Empty documents are dropped. A syntax error comes back
// as a *YAMLError with its line when the parser gave one.
func Documents(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, ParseError(err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		n := doc.Content[0]
		if err := CheckNode(n); err != nil {
			return out, err
		}
		out = append(out, n)
	}
}

// ParseError turns a yaml.v3 error into a *YAMLError, with its line when the text has one.
func ParseError(err error) *YAMLError {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &YAMLError{Line: line, Message: "invalid YAML: " + m[2]}
	}
	return &YAMLError{Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// CheckBytes parses a YAML (or JSON) input and checks every document with
// CheckNode, for inputs that another decoder reads afterwards (kubeconfigs,
// facts files).
func CheckBytes(data []byte) error {
	_, err := Documents(data)
	return err
}
