package render

import (
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
)

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
