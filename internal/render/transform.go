package render

import (
	"fmt"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"

	"github.com/kcp-dev/tmc/internal/fieldpath"
)

// Effect says what a transformation did to an object.
type Effect string

// Effects.
const (
	EffectSet     Effect = "set"
	EffectCreated Effect = "created"
	EffectDeleted Effect = "deleted"
	EffectNoop    Effect = "no-op"
)

// getPath returns the node at p, or nil when some step is missing.
func getPath(root *yaml3.Node, p fieldpath.Path) *yaml3.Node {
	cur := root
	for _, s := range p.Segments {
		cur = child(cur, s)
		if cur == nil {
			return nil
		}
	}
	return cur
}

// child returns the node one segment below n, or nil.
func child(n *yaml3.Node, s fieldpath.Segment) *yaml3.Node {
	switch s.Kind {
	case fieldpath.Field:
		if n.Kind != yaml3.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == s.Key {
				return n.Content[i+1]
			}
		}
	case fieldpath.Index:
		if n.Kind == yaml3.SequenceNode && s.Index < len(n.Content) {
			return n.Content[s.Index]
		}
	case fieldpath.Select:
		if n.Kind != yaml3.SequenceNode {
			return nil
		}
		for _, item := range n.Content {
			if v := child(item, fieldpath.Segment{Kind: fieldpath.Field, Key: s.Key}); v != nil && v.Kind == yaml3.ScalarNode && v.Value == s.Value {
				return item
			}
		}
	}
	return nil
}

func kindName(n *yaml3.Node) string {
	switch n.Kind {
	case yaml3.MappingNode:
		return "a mapping"
	case yaml3.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

// setPath sets the node at p to value, creating missing mappings and lists
// on the way; a [key=value] step that matches nothing appends an item with
// that field. It reports whether the field existed.
func setPath(root *yaml3.Node, p fieldpath.Path, value *yaml3.Node) (Effect, error) {
	cur := root
	segs := p.Segments
	for i, s := range segs[:len(segs)-1] {
		next := child(cur, s)
		if next == nil {
			var err error
			if next, err = create(cur, s, segs[i+1], p, i); err != nil {
				return "", err
			}
		}
		cur = next
	}
	last := segs[len(segs)-1]
	switch last.Kind {
	case fieldpath.Field:
		if cur.Kind != yaml3.MappingNode {
			return "", fmt.Errorf("cannot set %s: %s is %s, not a mapping", p, prefix(p, len(segs)-1), kindName(cur))
		}
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == last.Key {
				cur.Content[i+1] = value
				return EffectSet, nil
			}
		}
		cur.Content = append(cur.Content, &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: last.Key}, value)
		return EffectCreated, nil
	case fieldpath.Index:
		if cur.Kind != yaml3.SequenceNode {
			return "", fmt.Errorf("cannot set %s: %s is %s, not a list", p, prefix(p, len(segs)-1), kindName(cur))
		}
		switch {
		case last.Index < len(cur.Content):
			cur.Content[last.Index] = value
			return EffectSet, nil
		case last.Index == len(cur.Content):
			cur.Content = append(cur.Content, value)
			return EffectCreated, nil
		}
		return "", fmt.Errorf("cannot set %s: index %d is past the end of a list of %d", p, last.Index, len(cur.Content))
	default: // Select
		if cur.Kind != yaml3.SequenceNode {
			return "", fmt.Errorf("cannot set %s: %s is %s, not a list", p, prefix(p, len(segs)-1), kindName(cur))
		}
		for i, item := range cur.Content {
			if v := child(item, fieldpath.Segment{Kind: fieldpath.Field, Key: last.Key}); v != nil && v.Value == last.Value {
				cur.Content[i] = value
				return EffectSet, nil
			}
		}
		cur.Content = append(cur.Content, value)
		return EffectCreated, nil
	}
}

// create adds the missing child s of n, shaped for the segment that follows.
func create(n *yaml3.Node, s, next fieldpath.Segment, p fieldpath.Path, i int) (*yaml3.Node, error) {
	nn := &yaml3.Node{Kind: yaml3.MappingNode, Tag: "!!map"}
	if next.Kind != fieldpath.Field {
		nn = &yaml3.Node{Kind: yaml3.SequenceNode, Tag: "!!seq"}
	}
	switch s.Kind {
	case fieldpath.Field:
		if n.Kind != yaml3.MappingNode {
			return nil, fmt.Errorf("cannot set %s: %s is %s, not a mapping", p, prefix(p, i), kindName(n))
		}
		n.Content = append(n.Content, &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: s.Key}, nn)
	case fieldpath.Index:
		if n.Kind != yaml3.SequenceNode {
			return nil, fmt.Errorf("cannot set %s: %s is %s, not a list", p, prefix(p, i), kindName(n))
		}
		if s.Index != len(n.Content) {
			return nil, fmt.Errorf("cannot set %s: index %d is past the end of a list of %d", p, s.Index, len(n.Content))
		}
		n.Content = append(n.Content, nn)
	case fieldpath.Select:
		if n.Kind != yaml3.SequenceNode {
			return nil, fmt.Errorf("cannot set %s: %s is %s, not a list", p, prefix(p, i), kindName(n))
		}
		nn = &yaml3.Node{Kind: yaml3.MappingNode, Tag: "!!map", Content: []*yaml3.Node{
			{Kind: yaml3.ScalarNode, Tag: "!!str", Value: s.Key},
			{Kind: yaml3.ScalarNode, Tag: "!!str", Value: s.Value},
		}}
		n.Content = append(n.Content, nn)
	}
	return nn, nil
}

// prefix renders the first n segments of p, for errors.
func prefix(p fieldpath.Path, n int) string {
	if n == 0 {
		return "the object"
	}
	return fieldpath.Path{Segments: p.Segments[:n]}.String()
}

// deletePath removes the field or list item at p; a missing path is a no-op.
func deletePath(root *yaml3.Node, p fieldpath.Path) Effect {
	segs := p.Segments
	parent := root
	if len(segs) > 1 {
		parent = getPath(root, fieldpath.Path{Segments: segs[:len(segs)-1]})
	}
	if parent == nil {
		return EffectNoop
	}
	last := segs[len(segs)-1]
	switch {
	case last.Kind == fieldpath.Field && parent.Kind == yaml3.MappingNode:
		for i := 0; i+1 < len(parent.Content); i += 2 {
			if parent.Content[i].Value == last.Key {
				parent.Content = append(parent.Content[:i], parent.Content[i+2:]...)
				return EffectDeleted
			}
		}
	case parent.Kind == yaml3.SequenceNode:
		target := child(parent, last)
		for i, item := range parent.Content {
			if item == target && target != nil {
				parent.Content = append(parent.Content[:i], parent.Content[i+1:]...)
				return EffectDeleted
			}
		}
	}
	return EffectNoop
}

// copyNode deep-copies a value node, expanding aliases and dropping anchors,
// comments and positions, so that one policy value can be set into many objects.
func copyNode(n *yaml3.Node) *yaml3.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml3.AliasNode {
		return copyNode(n.Alias)
	}
	c := &yaml3.Node{Kind: n.Kind, Style: n.Style &^ (yaml3.TaggedStyle | yaml3.FlowStyle), Tag: n.Tag, Value: n.Value}
	if n.Kind == yaml3.DocumentNode && len(n.Content) == 1 {
		return copyNode(n.Content[0])
	}
	if len(n.Content) > 0 {
		c.Content = make([]*yaml3.Node, len(n.Content))
		for i, x := range n.Content {
			c.Content[i] = copyNode(x)
		}
	}
	return c
}

// scalarString makes a plain string node, quoted by the encoder when it
// would otherwise read as another type.
func scalarString(s string) *yaml3.Node {
	n := &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml3.LiteralStyle
	}
	return n
}

// cloneNode deep-copies an alias-free object node, keeping styles and comments.
func cloneNode(n *yaml3.Node) *yaml3.Node {
	c := *n
	if len(n.Content) > 0 {
		c.Content = make([]*yaml3.Node, len(n.Content))
		for i, x := range n.Content {
			c.Content[i] = cloneNode(x)
		}
	}
	return &c
}
