package policy

import (
	"fmt"
	"math"
	"path"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kcp-dev/tmc/internal/fieldpath"
	"github.com/kcp-dev/tmc/internal/limits"
)

// maxDecodeSteps bounds the nodes visited decoding one document, so that
// alias chains ("billion laughs") cannot make a load hang.
const maxDecodeSteps = 200000

// Value is a YAML value of any type, kept as written so that `value: 3`
// stays an integer and `value: "3"` a string.
type Value struct {
	// Node is the YAML node as parsed.
	Node *yaml.Node
}

// Interface returns the value as plain Go data (string, int, float64, bool, map, slice, nil).
func (v *Value) Interface() (any, error) {
	if v == nil || v.Node == nil {
		return nil, nil
	}
	var out any
	err := v.Node.Decode(&out)
	return out, err
}

// Expanded returns a copy of the value with its aliases expanded, ready to be
// set into an object with fieldpath.Set; a value that expands past
// limits.MaxValueNodes is refused before it is copied.
func (v *Value) Expanded() (*yaml.Node, error) {
	if v == nil || v.Node == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	budget := limits.MaxValueNodes
	if !countNodes(v.Node, &budget) {
		return nil, fmt.Errorf("value expands to more than %d YAML nodes", limits.MaxValueNodes)
	}
	return fieldpath.CopyValue(v.Node), nil
}

func countNodes(n *yaml.Node, budget *int) bool {
	if n == nil {
		return true
	}
	if *budget--; *budget < 0 {
		return false
	}
	if n.Kind == yaml.AliasNode {
		return countNodes(n.Alias, budget)
	}
	for _, c := range n.Content {
		if !countNodes(c, budget) {
			return false
		}
	}
	return true
}

// String returns the scalar text of the value, or "" when it is not a scalar.
func (v *Value) String() string {
	if v == nil || v.Node == nil || v.Node.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Node.Value
}

// positions maps a field path of one object ("spec.placement.conditional") to where its value is.
type positions map[string]Pos

// decoder decodes one YAML document into a Go value strictly, recording the
// position of every field and an error for every problem.
type decoder struct {
	file  string
	pos   positions
	errs  *ErrorList
	obj   string // Kind/name prefix for error fields
	steps int
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	p := Pos{File: d.file}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	*d.errs = append(*d.errs, &Error{Pos: p, Object: d.obj, Field: field, Message: fmt.Sprintf(format, args...)})
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func tagOf(f reflect.StructField) (name string, opts map[string]string) {
	name, _, _ = strings.Cut(f.Tag.Get("json"), ",")
	opts = map[string]string{}
	for _, o := range strings.Split(f.Tag.Get("tmc"), ",") {
		if o == "" {
			continue
		}
		k, v, _ := strings.Cut(o, "=")
		opts[k] = v
	}
	return name, opts
}

var valueType = reflect.TypeFor[*Value]()

func (d *decoder) decode(n *yaml.Node, v reflect.Value, fpath string, opts map[string]string) {
	d.steps++
	if d.steps > maxDecodeSteps {
		if d.steps == maxDecodeSteps+1 {
			d.errorf(n, fpath, "document is too large or has too many aliases (more than %d nodes)", maxDecodeSteps)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.pos[fpath] = Pos{File: d.file, Line: n.Line, Column: n.Column}
	if v.Type() == valueType {
		v.Set(reflect.ValueOf(&Value{Node: n}))
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // null leaves the zero value
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.decode(n, e.Elem(), fpath, opts)
		v.Set(e)
	case reflect.Struct:
		d.decodeStruct(n, v, fpath)
	case reflect.Map:
		d.decodeMap(n, v, fpath)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, fpath, "must be a list, not %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", fpath, i), opts)
		}
		v.Set(s)
	default:
		d.decodeScalar(n, v, fpath, opts)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, fpath string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, fpath, "must be a mapping, not %s", describe(n))
		return
	}
	t := v.Type()
	byName := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, _ := tagOf(t.Field(i))
		if name != "" && name != "-" {
			byName[name] = i
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := byName[k.Value]
		if !ok {
			d.errorf(k, join(fpath, k.Value), "unknown field %q%s", k.Value, suggest(k.Value, byName))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, join(fpath, k.Value), "field %q is set twice", k.Value)
			continue
		}
		seen[k.Value] = true
		_, opts := tagOf(t.Field(idx))
		d.decode(val, v.Field(idx), join(fpath, k.Value), opts)
	}
	for i := 0; i < t.NumField(); i++ {
		name, opts := tagOf(t.Field(i))
		if _, req := opts["required"]; req && !seen[name] {
			d.errorf(n, join(fpath, name), "required field %q is missing", name)
		}
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, fpath string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, fpath, "must be a mapping, not %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := fpath + "['" + k.Value + "']"
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.errorf(k, kp, "key %q is set twice", k.Value)
			continue
		}
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, e, kp, nil)
		m.SetMapIndex(reflect.ValueOf(k.Value), e)
	}
	v.Set(m)
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, fpath string, opts map[string]string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, fpath, "must be a %s, not %s", kindName(v.Kind()), describe(n))
		return
	}
	_, isQuantity := opts["quantity"]
	_, isIntOrPercent := opts["intorpercent"]
	switch v.Kind() {
	case reflect.String:
		if n.Tag != "!!str" && !(isQuantity && (n.Tag == "!!int" || n.Tag == "!!float")) && !(isIntOrPercent && n.Tag == "!!int") {
			d.errorf(n, fpath, "must be a string, not %s (quote it: %q)", describe(n), n.Value)
			return
		}
		v.SetString(n.Value)
		d.checkString(n, fpath, n.Value, opts)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Tag != "!!bool" || err != nil {
			d.errorf(n, fpath, "must be true or false, not %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Tag != "!!int" || err != nil {
			d.errorf(n, fpath, "must be an integer, not %s", describe(n))
			return
		}
		v.SetInt(i)
		d.checkMin(n, fpath, float64(i), opts)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if (n.Tag != "!!int" && n.Tag != "!!float") || err != nil {
			d.errorf(n, fpath, "must be a number, not %s", describe(n))
			return
		}
		v.SetFloat(f)
		d.checkMin(n, fpath, f, opts)
	default:
		d.errorf(n, fpath, "unsupported field type %s", v.Type())
	}
}

func (d *decoder) checkMin(n *yaml.Node, fpath string, f float64, opts map[string]string) {
	if m, ok := opts["min"]; ok {
		if lim, _ := strconv.ParseFloat(m, 64); f < lim {
			d.errorf(n, fpath, "must be at least %s, not %s", m, n.Value)
		}
	}
}

// checkString runs the field-local checks a `tmc` struct tag names.
func (d *decoder) checkString(n *yaml.Node, fpath, s string, opts map[string]string) {
	if e, ok := opts["enum"]; ok && s != "" {
		allowed := strings.Split(e, "|")
		if !contains(allowed, s) {
			d.errorf(n, fpath, "invalid value %q: must be one of %s", s, strings.Join(allowed, ", "))
		}
	}
	if _, ok := opts["intorpercent"]; ok && s != "" {
		if _, _, err := ParseIntOrPercent(s); err != nil {
			d.errorf(n, fpath, "%v", err)
		}
	}
	if _, ok := opts["duration"]; ok && s != "" {
		if dur, err := time.ParseDuration(s); err != nil {
			d.errorf(n, fpath, "invalid duration %q: use a Go duration such as 30s, 5m or 1h", s)
		} else if dur <= 0 {
			d.errorf(n, fpath, "duration %q must be positive", s)
		}
	}
	if _, ok := opts["quantity"]; ok && s != "" {
		if q, err := resource.ParseQuantity(s); err != nil {
			d.errorf(n, fpath, "invalid quantity %q: use a Kubernetes quantity such as 8, 7500m or 32Gi", s)
		} else if q.Sign() < 0 {
			d.errorf(n, fpath, "quantity %q must not be negative", s)
		} else if f := q.AsApproximateFloat64(); math.IsInf(f, 0) || math.IsNaN(f) || f > limits.MaxCapacity {
			d.errorf(n, fpath, "quantity %q is out of range (at most %g)", s, float64(limits.MaxCapacity))
		}
	}
	if _, ok := opts["path"]; ok && s != "" {
		if _, err := fieldpath.Parse(s); err != nil {
			d.errorf(n, fpath, "invalid jsonPath %q: %s", s, err.(*fieldpath.Error).Message)
		}
	}
	if _, ok := opts["glob"]; ok && s != "" {
		if _, err := path.Match(s, ""); err != nil {
			d.errorf(n, fpath, "invalid glob %q: %v", s, err)
		}
	}
	if _, ok := opts["fieldselector"]; ok && s != "" {
		if _, err := ParseFieldSelector(s); err != nil {
			d.errorf(n, fpath, "invalid fieldSelector %q: %v", s, err)
		}
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("%s %q", n.Tag, n.Value)
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	}
	return k.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest names the known field closest to an unknown one, when one is close.
func suggest(s string, known map[string]int) string {
	best, bestD := "", 3
	for k := range known {
		if dist := levenshtein(strings.ToLower(s), strings.ToLower(k)); dist < bestD || dist == bestD && k < best {
			best, bestD = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ParseIntOrPercent reads a count (3) or a percent (50%) of something, at
// least 1 and at most 100%.
func ParseIntOrPercent(s string) (n int, percent bool, err error) {
	t, percent := strings.CutSuffix(s, "%")
	n, err = strconv.Atoi(t)
	switch {
	case err != nil || n < 1:
		return 0, false, fmt.Errorf("invalid value %q: a count such as 2 or a percent such as 25%%, at least 1", s)
	case percent && n > 100:
		return 0, false, fmt.Errorf("invalid value %q: a percent is at most 100%%", s)
	}
	return n, percent, nil
}

// OfCount resolves a count or percent (ParseIntOrPercent) against total,
// rounding a percent up; def when s is empty.
func OfCount(s string, total, def int) int {
	if s == "" {
		return def
	}
	n, percent, err := ParseIntOrPercent(s)
	if err != nil {
		return def
	}
	if percent {
		n = (n*total + 99) / 100
	}
	return max(1, min(n, max(total, 1)))
}
