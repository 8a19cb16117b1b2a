package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/kcp-dev/tmc/internal/limits"
	"github.com/kcp-dev/tmc/internal/mask"
)

// Env is what every expression sees: `cluster`, `resource` and `workspace`.
type Env struct {
	// Cluster holds the facts of the cluster the expression runs for.
	Cluster ClusterFacts `expr:"cluster"`
	// Resource is the object the expression runs for, as a map (nil for placement).
	Resource map[string]any `expr:"resource"`
	// Workspace is the workspace the expression runs for.
	Workspace WorkspaceFacts `expr:"workspace"`
	// budget is what this run may still build; see exprbound.go.
	budget *exprBudget
}

// withBudget returns a copy of env with a fresh byte budget for one run, a
// Secret resource replaced by its masked view.
func withBudget(env *Env) *Env {
	e := *env
	e.budget = &exprBudget{left: limits.MaxExprBytes}
	e.Resource = mask.ExprView(e.Resource)
	return &e
}

// ClusterFacts are a cluster's facts: declared in its Cluster object, observed on the live cluster.
type ClusterFacts struct {
	Name              string            `expr:"name" json:"name"`
	Labels            map[string]string `expr:"labels" json:"labels,omitempty"`
	Type              string            `expr:"type" json:"type,omitempty"`
	Region            string            `expr:"region" json:"region,omitempty"`
	Zone              string            `expr:"zone" json:"zone,omitempty"`
	Priority          int               `expr:"priority" json:"priority"`
	LogicalCluster    string            `expr:"logicalCluster" json:"logicalCluster,omitempty"`
	Healthy           bool              `expr:"healthy" json:"healthy"`
	KubernetesVersion string            `expr:"kubernetesVersion" json:"kubernetesVersion,omitempty"`
	Capacity          CapacityFacts     `expr:"capacity" json:"capacity"`
	Nodes             int               `expr:"nodes" json:"nodes"`
	// Properties are the cluster inventory's properties of the cluster
	// (ClusterProfile status.properties, name → value), read as
	// cluster.properties["topology.kubernetes.io/zone"]; empty for a
	// cluster the inventory does not hold.
	Properties map[string]string `expr:"properties" json:"properties,omitempty"`
}

// CapacityFacts are numbers, so that `cluster.capacity.cpu > 4` compares cores.
type CapacityFacts struct {
	// CPU in cores.
	CPU float64 `expr:"cpu" json:"cpu"`
	// Memory in bytes.
	Memory float64 `expr:"memory" json:"memory"`
	// Pods is the number of pods.
	Pods float64 `expr:"pods" json:"pods"`
}

// WorkspaceFacts describe the workspace an expression runs for.
type WorkspaceFacts struct {
	Name           string `expr:"name" json:"name"`
	LogicalCluster string `expr:"logicalCluster" json:"logicalCluster"`
}

// Program is a compiled expression, safe to run from many goroutines.
type Program struct {
	// Source is the expression text.
	Source string
	// Pos is where the expression is written.
	Pos Pos
	// Object and Field name where it is written, for errors.
	Object, Field string
	// UsesResource is true when the expression reads `resource`.
	UsesResource bool
	prog         *vm.Program
	reads        []read
}

// read is one fact an expression reads, such as cluster.capacity.cpu, compiled on its own.
type read struct {
	path string
	prog *vm.Program
}

// Fact is a value an expression read, for explanations.
type Fact struct {
	// Path is what was read, e.g. cluster.capacity.cpu.
	Path string `json:"path"`
	// Value is what it held.
	Value any `json:"value"`
}

// Facts returns the values of everything the expression reads, in the order
// they first appear in it.
func (p *Program) Facts(env *Env) []Fact {
	if p == nil {
		return nil
	}
	out := make([]Fact, 0, len(p.reads))
	secret := mask.IsSecretObject(env.Resource)
	for _, r := range p.reads {
		if secret && readsSecretValue(r.path) {
			out = append(out, Fact{Path: r.path, Value: Masked})
			continue
		}
		m := vm.VM{MemoryBudget: limits.MaxExprMemory}
		v, err := m.Run(r.prog, withBudget(env))
		if err != nil {
			v = "<" + err.Error() + ">"
		}
		out = append(out, Fact{Path: r.path, Value: v})
	}
	return out
}

// Bool runs a boolean program. A nil program is true.
func (p *Program) Bool(env *Env) (bool, error) {
	if p == nil {
		return true, nil
	}
	out, err := p.Run(env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, p.errorf("evaluates to %T, not a boolean", out)
	}
	return b, nil
}

// Run runs the program and returns its value. A Secret is seen through
// mask.ExprView: its values read as "***", so no outcome depends on them.
func (p *Program) Run(env *Env) (any, error) {
	m := vm.VM{MemoryBudget: limits.MaxExprMemory}
	out, err := m.Run(p.prog, withBudget(env))
	if err != nil {
		if mask.IsSecretObject(env.Resource) && p.UsesResource {
			// expr's runtime errors quote the values they failed on
			// (int("s3cret"), a regexp built from a password): withhold them.
			return nil, p.errorf("failed on a Secret (the error is withheld: it may quote a Secret value)")
		}
		return nil, p.errorf("%v", err)
	}
	return out, nil
}

func (p *Program) errorf(format string, args ...any) error {
	return &Error{Pos: p.Pos, Object: p.Object, Field: p.Field, Message: fmt.Sprintf("expression %q: ", p.Source) + fmt.Sprintf(format, args...)}
}

// exprScope says which variables an expression may use.
type exprScope int

const (
	scopeCluster  exprScope = iota // cluster and workspace
	scopeResource                  // cluster, workspace and resource
)

// pathOf returns "cluster.capacity.cpu" for a member chain rooted at one of
// the Env's variables, or "".
func pathOf(n ast.Node) string {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		if x.Value == "cluster" || x.Value == "workspace" || x.Value == "resource" {
			return x.Value
		}
	case *ast.MemberNode:
		if prop, ok := x.Property.(*ast.StringNode); ok {
			if base := pathOf(x.Node); base != "" {
				if isIdent(prop.Value) {
					return base + "." + prop.Value
				}
				return base + "[" + strconv.Quote(prop.Value) + "]" // cluster.properties["topology.kubernetes.io/zone"]
			}
		}
	}
	return ""
}

// isIdent reports whether s can follow a dot in expr-lang (a.b).
func isIdent(s string) bool {
	for i, r := range s {
		if r != '_' && !unicode.IsLetter(r) && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return s != ""
}

type readCollector struct{ paths []string }

func (c *readCollector) Visit(n *ast.Node) {
	if p := pathOf(*n); p != "" && !slices.Contains(c.paths, p) {
		c.paths = append(c.paths, p)
	}
}

// longest drops every path that is a prefix of another (cluster.capacity of cluster.capacity.cpu).
func (c *readCollector) longest() []string {
	var out []string
	for _, p := range c.paths {
		prefix := false
		for _, q := range c.paths {
			if strings.HasPrefix(q, p+".") || strings.HasPrefix(q, p+"[") {
				prefix = true
				break
			}
		}
		if !prefix {
			out = append(out, p)
		}
	}
	return out
}

// compileExpr compiles src for the given scope; the error text is expr's
// message with its caret snippet.
func compileExpr(src string, scope exprScope) (*Program, error) {
	bo := &boundOps{}
	opts := []expr.Option{expr.Env(Env{}), expr.MaxNodes(limits.MaxExprNodes), expr.AsBool(), expr.Patch(bo)}
	prog, err := expr.Compile(src, opts...)
	if len(bo.refused) > 0 {
		fe := bo.refused[0]
		return nil, fe.Bind(file.NewSource(src))
	}
	if err != nil {
		return nil, err
	}
	rc := &readCollector{}
	root := prog.Node()
	ast.Walk(&root, rc)
	p := &Program{Source: src, prog: prog}
	for _, path := range rc.longest() {
		if strings.HasPrefix(path, "resource") {
			p.UsesResource = true
		}
		rp, err := expr.Compile(path, expr.Env(Env{}))
		if err != nil {
			continue // a path expr accepts inside the whole may not stand alone (e.g. a method)
		}
		p.reads = append(p.reads, read{path: path, prog: rp})
	}
	if rc.usesRoot("resource") {
		p.UsesResource = true
	}
	if scope == scopeCluster && p.UsesResource {
		return nil, fmt.Errorf("`resource` is not available here: placement and policy conditionals choose clusters, before any object is read; only `cluster` and `workspace` are")
	}
	return p, nil
}

func (c *readCollector) usesRoot(name string) bool {
	for _, p := range c.paths {
		if p == name || strings.HasPrefix(p, name+".") || strings.HasPrefix(p, name+"[") {
			return true
		}
	}
	return false
}

// Masked replaces a Secret value wherever tmc would otherwise show it.
const Masked = mask.Value

// readsSecretValue reports whether a `resource` path of a Secret may hold a
// value of it: everything but its kind, apiVersion, type, name, namespace
// and labels (annotations may hold last-applied-configuration, data and all).
func readsSecretValue(path string) bool {
	if path != "resource" && !strings.HasPrefix(path, "resource.") && !strings.HasPrefix(path, "resource[") {
		return false
	}
	for _, safe := range []string{"resource.kind", "resource.apiVersion", "resource.type", "resource.metadata.name", "resource.metadata.namespace", "resource.metadata.labels"} {
		if path == safe || strings.HasPrefix(path, safe+".") || strings.HasPrefix(path, safe+"[") {
			return false
		}
	}
	return true
}
