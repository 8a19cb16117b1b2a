package policy

import (
	"fmt"
	"strings"
	"text/template"
)

// TemplateFuncs is the fixed function set of Template transformations: pure
// string helpers, nothing that reads the environment, files or the network.
var TemplateFuncs = template.FuncMap{
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"trim":       strings.TrimSpace,
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
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
	"quote": func(s string) string { return fmt.Sprintf("%q", s) },
}

// parseTemplate parses a Template transformation's text.
func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Funcs(TemplateFuncs).Parse(text)
}

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}
