package policy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm/runtime"

	"github.com/kcp-dev/tmc/internal/limits"
)

// Expressions come from the untrusted repo. expr-lang's memory budget counts
// list items and loop iterations but not the bytes a string or list
// operation builds, so `let a = s + s` doubled 27 times, repeat, replace or
// join can allocate gigabytes within budget. tmc rewrites each such
// operation, when an expression compiles, into a call of a method below that
// charges the bytes it is about to build to a per-run budget
// (limits.MaxExprBytes) and fails cleanly when the budget is spent.
//
// Builtins that read the clock or the machine's time zone (now, date,
// timezone) are refused: renders must be byte-identical from run to run.

// exprBudget is what one run of an expression may still build, in bytes.
type exprBudget struct{ left int }

var errExprBytes = fmt.Errorf("expression builds more than %d KiB of strings and lists", limits.MaxExprBytes>>10)

func (e Env) charge(n int) error {
	if e.budget == nil {
		return nil
	}
	if n < 0 || n > e.budget.left {
		e.budget.left = 0
		return errExprBytes
	}
	e.budget.left -= n
	return nil
}

// nondeterministic are the builtins refused at compile time.
var nondeterministic = map[string]string{
	"now":      "now() reads the clock",
	"date":     "date() depends on the clock and the machine's time zone",
	"timezone": "timezone() depends on the machine's time zone data",
}

// bounded maps the builtins that build data to the Env methods that charge for it.
var bounded = map[string]string{
	"repeat": "TmcRepeat", "replace": "TmcReplace", "join": "TmcJoin", "split": "TmcSplit",
	"splitAfter": "TmcSplitAfter", "concat": "TmcConcat", "flatten": "TmcFlatten",
	"upper": "TmcUpper", "lower": "TmcLower", "toJSON": "TmcToJSON", "toBase64": "TmcToBase64",
}

// boundOps is the compile-time patch that rewrites growing operations and
// records refused builtins.
type boundOps struct {
	refused []*file.Error
}

func (b *boundOps) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.BinaryNode:
		if x.Operator == "+" && !(numeric(x.Left.Type()) && numeric(x.Right.Type())) {
			ast.Patch(n, &ast.CallNode{Callee: &ast.IdentifierNode{Value: "TmcAdd"}, Arguments: []ast.Node{x.Left, x.Right}})
		}
	case *ast.BuiltinNode:
		if why, ok := nondeterministic[x.Name]; ok {
			loc := x.Location()
			b.refused = append(b.refused, &file.Error{Location: loc, Message: fmt.Sprintf("%s is not allowed: %s, and renders must be the same on every run", x.Name, why)})
			return
		}
		if m, ok := bounded[x.Name]; ok {
			ast.Patch(n, &ast.CallNode{Callee: &ast.IdentifierNode{Value: m}, Arguments: x.Arguments})
		}
	}
}

func numeric(t reflect.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// TmcAdd is + for strings and lists, charged; numbers add as usual.
func (e Env) TmcAdd(a, b any) (any, error) {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		if err := e.charge(len(as) + len(bs)); err != nil {
			return nil, err
		}
		return as + bs, nil
	}
	if la, lb := listLen(a), listLen(b); la >= 0 && lb >= 0 {
		if err := e.charge(16 * (la + lb)); err != nil {
			return nil, err
		}
	}
	return runtime.Add(a, b), nil
}

func listLen(v any) int {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return rv.Len()
	}
	return -1
}

// TmcRepeat is repeat(s, n), charged.
func (e Env) TmcRepeat(s string, n int) (string, error) {
	if n < 0 {
		return "", fmt.Errorf("repeat: negative count %d", n)
	}
	if len(s) > 0 && n > limits.MaxExprBytes/len(s) {
		return "", errExprBytes
	}
	if err := e.charge(len(s) * n); err != nil {
		return "", err
	}
	return strings.Repeat(s, n), nil
}

// TmcReplace is replace(s, old, new), charged for what it builds.
func (e Env) TmcReplace(s, old, new string) (string, error) {
	n := strings.Count(s, old)
	if n > 0 && len(new) > len(old) && (len(new)-len(old)) > (limits.MaxExprBytes-len(s))/n {
		return "", errExprBytes
	}
	if err := e.charge(len(s) + n*max(0, len(new)-len(old))); err != nil {
		return "", err
	}
	return strings.ReplaceAll(s, old, new), nil
}

// TmcJoin is join(list[, glue]), charged.
func (e Env) TmcJoin(list any, glue ...string) (string, error) {
	sep := ""
	if len(glue) > 0 {
		sep = glue[0]
	}
	rv := reflect.ValueOf(list)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return "", fmt.Errorf("join: %T is not a list", list)
	}
	parts := make([]string, rv.Len())
	total := 0
	for i := range parts {
		s, ok := rv.Index(i).Interface().(string)
		if !ok {
			return "", fmt.Errorf("join: item %d is %T, not a string", i, rv.Index(i).Interface())
		}
		parts[i] = s
		if total += len(s) + len(sep); total > limits.MaxExprBytes {
			return "", errExprBytes
		}
	}
	if err := e.charge(total); err != nil {
		return "", err
	}
	return strings.Join(parts, sep), nil
}

// TmcSplit is split(s, sep[, n]), charged for the list it builds.
func (e Env) TmcSplit(s, sep string, n ...int) ([]string, error) {
	return e.split(strings.SplitN, s, sep, n)
}

// TmcSplitAfter is splitAfter(s, sep[, n]), charged for the list it builds.
func (e Env) TmcSplitAfter(s, sep string, n ...int) ([]string, error) {
	return e.split(strings.SplitAfterN, s, sep, n)
}

func (e Env) split(f func(string, string, int) []string, s, sep string, n []int) ([]string, error) {
	count := -1
	if len(n) > 0 {
		count = n[0]
	}
	parts := strings.Count(s, sep) + 1
	if sep == "" {
		parts = len(s)
	}
	if count >= 0 {
		parts = min(parts, count)
	}
	if err := e.charge(16*parts + len(s)); err != nil {
		return nil, err
	}
	return f(s, sep, count), nil
}

// TmcConcat is concat(lists...), charged.
func (e Env) TmcConcat(lists ...any) ([]any, error) {
	total := 0
	for _, l := range lists {
		n := listLen(l)
		if n < 0 {
			return nil, fmt.Errorf("concat: %T is not a list", l)
		}
		total += n
	}
	if err := e.charge(16 * total); err != nil {
		return nil, err
	}
	out := make([]any, 0, total)
	for _, l := range lists {
		rv := reflect.ValueOf(l)
		for i := range rv.Len() {
			out = append(out, rv.Index(i).Interface())
		}
	}
	return out, nil
}

// TmcFlatten is flatten(list), charged.
func (e Env) TmcFlatten(list any) ([]any, error) {
	if listLen(list) < 0 {
		return nil, fmt.Errorf("flatten: %T is not a list", list)
	}
	var out []any
	var walk func(v reflect.Value) error
	walk = func(v reflect.Value) error {
		for i := range v.Len() {
			item := v.Index(i)
			if item.Kind() == reflect.Interface {
				item = item.Elem()
			}
			if item.Kind() == reflect.Slice || item.Kind() == reflect.Array {
				if err := walk(item); err != nil {
					return err
				}
				continue
			}
			if err := e.charge(16); err != nil {
				return err
			}
			out = append(out, item.Interface())
		}
		return nil
	}
	if err := walk(reflect.ValueOf(list)); err != nil {
		return nil, err
	}
	return out, nil
}

// TmcUpper is upper(s), charged.
func (e Env) TmcUpper(s string) (string, error) {
	if err := e.charge(len(s)); err != nil {
		return "", err
	}
	return strings.ToUpper(s), nil
}

// TmcLower is lower(s), charged.
func (e Env) TmcLower(s string) (string, error) {
	if err := e.charge(len(s)); err != nil {
		return "", err
	}
	return strings.ToLower(s), nil
}

// TmcToBase64 is toBase64(s), charged.
func (e Env) TmcToBase64(s string) (string, error) {
	if err := e.charge(base64.StdEncoding.EncodedLen(len(s))); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// TmcToJSON is toJSON(v), charged for an estimate of its output made before
// encoding (a list that holds one large string many times is large).
func (e Env) TmcToJSON(v any) (string, error) {
	size, ok := jsonSize(reflect.ValueOf(v), 0, e.left())
	if !ok {
		return "", errExprBytes
	}
	if err := e.charge(size); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (e Env) left() int {
	if e.budget == nil {
		return limits.MaxExprBytes
	}
	return e.budget.left
}

// jsonSize estimates the indented JSON size of v, giving up (false) past limit.
func jsonSize(v reflect.Value, depth, limit int) (int, bool) {
	if depth > limits.MaxYAMLDepth {
		return 0, false
	}
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return 4, true
		}
		v = v.Elem()
	}
	indent := 2*depth + 2
	size := 0
	switch v.Kind() {
	case reflect.String:
		size = len(v.String())*2 + 2
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			n, ok := jsonSize(v.Index(i), depth+1, limit-size)
			if !ok {
				return 0, false
			}
			if size += n + indent; size > limit {
				return 0, false
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			n, ok := jsonSize(it.Value(), depth+1, limit-size)
			if !ok {
				return 0, false
			}
			if size += n + indent + len(fmt.Sprint(it.Key().Interface()))*2 + 4; size > limit {
				return 0, false
			}
		}
	case reflect.Struct:
		size = 256 * v.NumField()
	default:
		size = 32
	}
	return size + 2, size <= limit
}
