package fieldpath

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	yaml3 "go.yaml.in/yaml/v3"
)

// The one engine for jsonPaths: render walks an object's YAML nodes with it,
// and aggregation turns an object read from a cluster into nodes (ToNode),
// walks the same functions and turns the result back (FromNode). A [key=value]
// step always matches the first list item whose field key is a scalar equal
// to value; a missing field never matches.

// Effect says what Set or Delete did to an object.
type Effect string

// Effects.
const (
	EffectSet     Effect = "set"
	EffectCreated Effect = "created"
	EffectDeleted Effect = "deleted"
	EffectNoop    Effect = "no-op"
)

// Get returns the node at p, or nil when some step is missing.
func Get(root *yaml3.Node, p Path) *yaml3.Node {
	cur := root
	for _, s := range p.Segments {
		cur = child(cur, s)
		if cur == nil {
			return nil
		}
	}
	return cur
}

// Scalar returns the text of the scalar at p, and whether p holds a scalar.
func Scalar(root *yaml3.Node, p Path) (string, bool) {
	n := Get(root, p)
	if n == nil || n.Kind != yaml3.ScalarNode || n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}

// child returns the node one segment below n, or nil.
func child(n *yaml3.Node, s Segment) *yaml3.Node {
	switch s.Kind {
	case Field:
		if n.Kind != yaml3.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == s.Key {
				return n.Content[i+1]
			}
		}
	case Index:
		if n.Kind == yaml3.SequenceNode && s.Index < len(n.Content) {
			return n.Content[s.Index]
		}
	case Select:
		if i := selected(n, s); i >= 0 {
			return n.Content[i]
		}
	}
	return nil
}

// selected is the position of the first item of list n that s selects, or -1.
func selected(n *yaml3.Node, s Segment) int {
	if n.Kind != yaml3.SequenceNode {
		return -1
	}
	for i, item := range n.Content {
		if v := child(item, Segment{Kind: Field, Key: s.Key}); v != nil && v.Kind == yaml3.ScalarNode && v.Tag != "!!null" && v.Value == s.Value {
			return i
		}
	}
	return -1
}

// KindName names a node's kind for errors: "a mapping", "a list" or "a scalar".
func KindName(n *yaml3.Node) string {
	switch n.Kind {
	case yaml3.MappingNode:
		return "a mapping"
	case yaml3.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

// Set sets the node at p to value, creating missing mappings and lists on the
// way; a [key=value] step that matches nothing appends an item with that
// field. The Effect says whether the field existed (set) or not (created).
func Set(root *yaml3.Node, p Path, value *yaml3.Node) (Effect, error) {
	if len(p.Segments) == 0 {
		return "", fmt.Errorf("cannot set an empty path")
	}
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
	case Field:
		if cur.Kind != yaml3.MappingNode {
			return "", fmt.Errorf("cannot set %s: %s is %s, not a mapping", p, prefix(p, len(segs)-1), KindName(cur))
		}
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == last.Key {
				cur.Content[i+1] = value
				return EffectSet, nil
			}
		}
		cur.Content = append(cur.Content, &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: last.Key}, value)
		return EffectCreated, nil
	case Index:
		if cur.Kind != yaml3.SequenceNode {
			return "", fmt.Errorf("cannot set %s: %s is %s, not a list", p, prefix(p, len(segs)-1), KindName(cur))
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
			return "", fmt.Errorf("cannot set %s: %s is %s, not a list", p, prefix(p, len(segs)-1), KindName(cur))
		}
		if i := selected(cur, last); i >= 0 {
			cur.Content[i] = value
			return EffectSet, nil
		}
		cur.Content = append(cur.Content, value)
		return EffectCreated, nil
	}
}

// create adds the missing child s of n, shaped for the segment that follows.
func create(n *yaml3.Node, s, next Segment, p Path, i int) (*yaml3.Node, error) {
	nn := &yaml3.Node{Kind: yaml3.MappingNode, Tag: "!!map"}
	if next.Kind != Field {
		nn = &yaml3.Node{Kind: yaml3.SequenceNode, Tag: "!!seq"}
	}
	switch s.Kind {
	case Field:
		if n.Kind != yaml3.MappingNode {
			return nil, fmt.Errorf("cannot set %s: %s is %s, not a mapping", p, prefix(p, i), KindName(n))
		}
		n.Content = append(n.Content, &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: s.Key}, nn)
	case Index:
		if n.Kind != yaml3.SequenceNode {
			return nil, fmt.Errorf("cannot set %s: %s is %s, not a list", p, prefix(p, i), KindName(n))
		}
		if s.Index != len(n.Content) {
			return nil, fmt.Errorf("cannot set %s: index %d is past the end of a list of %d", p, s.Index, len(n.Content))
		}
		n.Content = append(n.Content, nn)
	case Select:
		if n.Kind != yaml3.SequenceNode {
			return nil, fmt.Errorf("cannot set %s: %s is %s, not a list", p, prefix(p, i), KindName(n))
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
func prefix(p Path, n int) string {
	if n == 0 {
		return "the object"
	}
	return Path{Segments: p.Segments[:n]}.String()
}

// Delete removes the field or list item at p; a missing path is a no-op.
func Delete(root *yaml3.Node, p Path) Effect {
	segs := p.Segments
	if len(segs) == 0 {
		return EffectNoop
	}
	parent := root
	if len(segs) > 1 {
		parent = Get(root, Path{Segments: segs[:len(segs)-1]})
	}
	if parent == nil {
		return EffectNoop
	}
	last := segs[len(segs)-1]
	switch {
	case last.Kind == Field && parent.Kind == yaml3.MappingNode:
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

// CopyValue deep-copies a value node, expanding aliases and dropping anchors,
// comments and positions, so that one policy value can be set into many objects.
func CopyValue(n *yaml3.Node) *yaml3.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml3.AliasNode {
		return CopyValue(n.Alias)
	}
	if n.Kind == yaml3.DocumentNode && len(n.Content) == 1 {
		return CopyValue(n.Content[0])
	}
	c := &yaml3.Node{Kind: n.Kind, Style: n.Style &^ (yaml3.TaggedStyle | yaml3.FlowStyle), Tag: n.Tag, Value: n.Value}
	if len(n.Content) > 0 {
		c.Content = make([]*yaml3.Node, len(n.Content))
		for i, x := range n.Content {
			c.Content[i] = CopyValue(x)
		}
	}
	return c
}

// ToNode turns JSON-shaped data (as client-go's unstructured objects hold it:
// maps, []any, string, bool, int64, float64, nil) into YAML nodes. Map keys are
// sorted so that the result is deterministic.
func ToNode(v any) *yaml3.Node {
	switch x := v.(type) {
	case map[string]any:
		n := &yaml3.Node{Kind: yaml3.MappingNode, Tag: "!!map", Content: make([]*yaml3.Node, 0, 2*len(x))}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n.Content = append(n.Content, &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: k}, ToNode(x[k]))
		}
		return n
	case []any:
		n := &yaml3.Node{Kind: yaml3.SequenceNode, Tag: "!!seq", Content: make([]*yaml3.Node, len(x))}
		for i, item := range x {
			n.Content[i] = ToNode(item)
		}
		return n
	case nil:
		return &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!null", Value: "null"}
	case string:
		return &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: x}
	case bool:
		return &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case int64:
		return &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(x, 10)}
	case int:
		return &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}
	case int32:
		return &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(x), 10)}
	case float64:
		return &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(x, 'g', -1, 64)}
	}
	return &yaml3.Node{Kind: yaml3.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v)}
}

// FromNode turns nodes back into JSON-shaped data: integers become int64 and
// other numbers float64, as unstructured objects require (an int would make
// their deep copy panic). Aliases are followed; non-string keys are written
// as their text.
func FromNode(n *yaml3.Node) (any, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml3.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return FromNode(n.Content[0])
	case yaml3.AliasNode:
		return FromNode(n.Alias)
	case yaml3.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := FromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml3.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := FromNode(c)
			if err != nil {
				return nil, err
			}
			l[i] = v
		}
		return l, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case float64, string, bool, nil:
		return x, nil
	}
	return n.Value, nil
}
