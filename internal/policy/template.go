package policy

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/kcp-dev/tmc/internal/limits"
)

// TemplateData is what a Template transformation sees.
type TemplateData struct {
	// OriginalName is the object's name as written in git.
	OriginalName string
	// Namespace is the object's namespace ("" for cluster-scoped objects).
	Namespace string
	// Kind is the object's kind.
	Kind string
	// TargetCluster is the name of the cluster the object is rendered for.
	TargetCluster string
	// SourceCluster is the cluster a live source object was read from (the
	// seed labels projections with it: projected-from); "" for objects in git.
	SourceCluster string
	// Cluster holds the target cluster's facts.
	Cluster ClusterFacts
	// Workspace is the workspace being rendered.
	Workspace WorkspaceFacts
}

// hugeWidth matches a printf width or precision of five digits or more.
var hugeWidth = regexp.MustCompile(`%[-+# 0]*\d{5,}|\.\d{5,}`)

// printfWidth matches the width and precision of each printf verb.
var printfWidth = regexp.MustCompile(`%[-+# 0]*(\d*)(?:\.(\d*))?`)

var errTemplateTooLong = fmt.Errorf("template function output would be longer than %d KiB", limits.MaxTemplateOutput>>10)

// templateBound fails when a function is about to build more than a template may output.
func templateBound(n int) error {
	if n > limits.MaxTemplateOutput || n < 0 {
		return errTemplateTooLong
	}
	return nil
}

// TemplateFuncs is the fixed function set of Template transformations: pure
// string helpers, nothing that reads the environment, files or the network.
// Each refuses, before it allocates, to build a string longer than
// limits.MaxTemplateOutput, so nested calls cannot build large strings that
// the output cap would only see afterwards.
var TemplateFuncs = template.FuncMap{
	"lower":      func(s string) (string, error) { return checked(strings.ToLower(s)) },
	"upper":      func(s string) (string, error) { return checked(strings.ToUpper(s)) },
	"trim":       strings.TrimSpace,
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	"replace": func(old, new, s string) (string, error) {
		n := strings.Count(s, old)
		if err := templateBound(len(s) + n*max(0, len(new)-len(old))); err != nil {
			return "", err
		}
		return strings.ReplaceAll(s, old, new), nil
	},
	"trunc": func(n int, s string) string {
		if n >= 0 && len(s) > n {
			return s[:n]
		}
		return s
	},
	"default": func(def string, v any) any {
		if v == nil || v == "" {
			return def
		}
		return v
	},
	"quote": func(s string) (string, error) {
		if err := templateBound(4*len(s) + 2); err != nil {
			return "", err
		}
		return fmt.Sprintf("%q", s), nil
	},
	"printf": func(format string, args ...any) (string, error) {
		if hugeWidth.MatchString(format) {
			return "", fmt.Errorf("printf width or precision too large in %q", format)
		}
		// An upper bound of the output: the format, every argument quoted,
		// and every width and precision written in the format.
		size := len(format)
		for _, m := range printfWidth.FindAllStringSubmatch(format, -1) {
			for _, d := range m[1:] {
				if w, err := strconv.Atoi(d); err == nil {
					size += w
				}
			}
		}
		for _, a := range args {
			if s, ok := a.(string); ok {
				size += 4*len(s) + 2
			} else {
				size += 64
			}
		}
		if err := templateBound(size); err != nil {
			return "", err
		}
		return fmt.Sprintf(format, args...), nil
	},
}

// checked returns s when it is within the template output cap.
func checked(s string) (string, error) {
	if err := templateBound(len(s)); err != nil {
		return "", err
	}
	return s, nil
}

// parseTemplate parses a Template transformation's text and checks that it
// cannot loop without bound: `range` may only walk a map or list of the
// template data (such as .Cluster.Labels), and templates may not define or
// call other templates.
func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(TemplateFuncs).Parse(text)
	if err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 {
		return nil, fmt.Errorf("define and block are not allowed in transformation templates")
	}
	if err := checkTemplate(t.Tree.Root); err != nil {
		return nil, err
	}
	return t, nil
}

var templateDataType = reflect.TypeFor[TemplateData]()

func checkTemplate(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkTemplate(c); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return fmt.Errorf("{{template %q}} is not allowed in transformation templates", n.Name)
	case *parse.RangeNode:
		if err := checkRange(n.Pipe); err != nil {
			return err
		}
		if err := checkTemplate(n.List); err != nil {
			return err
		}
		return checkTemplate(n.ElseList)
	case *parse.IfNode:
		if err := checkTemplate(n.List); err != nil {
			return err
		}
		return checkTemplate(n.ElseList)
	case *parse.WithNode:
		if err := checkTemplate(n.List); err != nil {
			return err
		}
		return checkTemplate(n.ElseList)
	}
	return nil
}

// checkRange allows `range` only over a field of TemplateData that is a map or a slice.
func checkRange(p *parse.PipeNode) error {
	msg := fmt.Errorf("range %s: range may only walk a map or list of the template data, such as .Cluster.Labels", p)
	if len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return msg
	}
	f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
	if !ok {
		return msg
	}
	t := templateDataType
	for _, id := range f.Ident {
		if t.Kind() != reflect.Struct {
			return msg
		}
		sf, ok := t.FieldByName(id)
		if !ok {
			return fmt.Errorf("range %s: the template data has no field %s", p, id)
		}
		t = sf.Type
	}
	if t.Kind() != reflect.Map && t.Kind() != reflect.Slice {
		return msg
	}
	return nil
}

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}
