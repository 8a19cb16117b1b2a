// Package schema generates the JSON Schemas (draft 2020-12) of tmc's policy
// kinds from their Go types, so that editors running yaml-language-server
// validate and complete policy files. Descriptions come from the Go doc
// comments of the fields; enums, required fields, minimums and formats come
// from the same `tmc` struct tags the loader enforces.
//
//	files, err := schema.Generate("internal/policy")
//	// files["cluster.json"] = ...
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/kcp-dev/tmc/internal/policy"
)

// BaseURL is the $id prefix of the generated schemas.
const BaseURL = "https://tmc.kcp.io/schemas/v1alpha1/"

// Kinds maps each generated file name to an example value of its kind.
var Kinds = map[string]any{
	"cluster.json":           policy.Cluster{},
	"virtualworkspace.json":  policy.VirtualWorkspace{},
	"projectionpolicy.json":  policy.ProjectionPolicy{},
	"aggregationpolicy.json": policy.AggregationPolicy{},
	"config.json":            policy.Config{},
}

// Generate returns the schema files, keyed by file name. srcDir is the
// directory of package policy, whose doc comments become descriptions.
func Generate(srcDir string) (map[string][]byte, error) {
	docs, err := fieldDocs(srcDir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for file, v := range Kinds {
		t := reflect.TypeOf(v)
		g := &gen{docs: docs, defs: map[string]any{}}
		s := g.object(t)
		props := s["properties"].(map[string]any)
		props["apiVersion"] = map[string]any{"const": policy.APIVersion, "description": "tmc.kcp.io/v1alpha1"}
		props["kind"] = map[string]any{"const": t.Name(), "description": t.Name()}
		root := map[string]any{
			"$schema":     "https://json-schema.org/draft/2020-12/schema",
			"$id":         BaseURL + file,
			"title":       t.Name(),
			"description": docs[t.Name()+"."],
		}
		for k, v := range s {
			if k != "description" {
				root[k] = v
			}
		}
		if len(g.defs) > 0 {
			root["$defs"] = g.defs
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(root); err != nil {
			return nil, err
		}
		out[file] = buf.Bytes()
	}
	return out, nil
}

type gen struct {
	docs map[string]string
	defs map[string]any
}

// object describes a struct type.
func (g *gen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		opts := tagOpts(f.Tag.Get("tmc"))
		s := g.schema(f.Type, opts)
		if d := g.docs[t.Name()+"."+f.Name]; d != "" {
			s["description"] = d
		}
		props[name] = s
		if _, ok := opts["required"]; ok {
			required = append(required, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	if d := g.docs[t.Name()+"."]; d != "" {
		s["description"] = d
	}
	return s
}

func (g *gen) schema(t reflect.Type, opts map[string]string) map[string]any {
	if t == reflect.TypeFor[*policy.Value]() {
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem(), opts)
	case reflect.Struct:
		if _, ok := g.defs[t.Name()]; !ok {
			g.defs[t.Name()] = nil // reserve against recursion
			g.defs[t.Name()] = g.object(t)
		}
		return map[string]any{"$ref": "#/$defs/" + t.Name()}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem(), opts)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem(), nil)}
	case reflect.String:
		s := map[string]any{"type": "string"}
		if _, ok := opts["quantity"]; ok {
			s["type"] = []string{"string", "number"}
			s["pattern"] = `^[0-9.]+([numkMGTPE]|[KMGTPE]i)?$`
		}
		if _, ok := opts["intorpercent"]; ok {
			s["type"] = []string{"string", "integer"}
			s["pattern"] = `^[0-9]+%?$`
		}
		if _, ok := opts["duration"]; ok {
			s["pattern"] = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
		}
		if e, ok := opts["enum"]; ok {
			s["enum"] = strings.Split(e, "|")
		}
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return withMin(map[string]any{"type": "integer"}, opts)
	case reflect.Float64:
		return withMin(map[string]any{"type": "number"}, opts)
	}
	panic(fmt.Sprintf("schema: unsupported type %s", t))
}

func withMin(s map[string]any, opts map[string]string) map[string]any {
	if m, ok := opts["min"]; ok {
		var n json.Number = json.Number(m)
		s["minimum"] = n
	}
	return s
}

func tagOpts(tag string) map[string]string {
	m := map[string]string{}
	for _, o := range strings.Split(tag, ",") {
		if o != "" {
			k, v, _ := strings.Cut(o, "=")
			m[k] = v
		}
	}
	return m
}

// fieldDocs reads the doc comments of package policy's types ("Type.") and fields ("Type.Field").
func fieldDocs(dir string) (map[string]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(dir, "types.go"), nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range gd.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			doc := gd.Doc
			if ts.Doc != nil {
				doc = ts.Doc
			}
			docs[ts.Name.Name+"."] = clean(doc)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, fld := range st.Fields.List {
				for _, n := range fld.Names {
					docs[ts.Name.Name+"."+n.Name] = clean(fld.Doc)
				}
			}
		}
	}
	return docs, nil
}

func clean(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	return strings.Join(strings.Fields(cg.Text()), " ")
}
