package policy

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/resource"

	"go.yaml.in/yaml/v3"

	"github.com/kcp-dev/tmc/internal/limits"
)

// KustomizationFiles are the names kustomize reads a kustomization from.
var KustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// IsKustomizationFile reports whether a repo path names a kustomization file.
func IsKustomizationFile(rel string) bool {
	base := path.Base(rel)
	for _, k := range KustomizationFiles {
		if base == k {
			return true
		}
	}
	return false
}

// kustomizePathKeys are the fields of a kustomization, and of the builtin
// plugin configs it may name, whose values kustomize loads as files, bases or
// repositories. kustomize fetches any of them that is an http(s) URL and
// clones any that looks like a git repository; tmc refuses both.
var kustomizePathKeys = map[string]bool{
	"resources": true, "bases": true, "components": true, "crds": true, "configurations": true,
	"generators": true, "transformers": true, "validators": true, "patchesStrategicMerge": true,
	"path": true, "files": true, "envs": true, "env": true, "targetFilePath": true,
	"valuesFile": true, "additionalValuesFiles": true, "argsFromFile": true, "chartHome": true, "repo": true,
}

// inlineKeys hold strings that may be inline YAML documents (plugin
// configs) rather than paths; those are scanned as documents too.
var inlineKeys = map[string]bool{"generators": true, "transformers": true, "validators": true, "patchesStrategicMerge": true}

// RemoteKustomizeRefs reports every URL or remote repository named by a
// kustomization file, or by a document with apiVersion "builtin" (a kustomize
// plugin config) in any other file, with the line it is written on. Render
// never touches the network: such a reference is an error, not a fetch.
func RemoteKustomizeRefs(file string, data []byte) ErrorList {
	kust := IsKustomizationFile(file)
	if !kust && !bytes.Contains(data, []byte("builtin")) {
		return nil // no plugin config here: no need to parse
	}
	docs, err := limits.Documents(data)
	if err != nil {
		return nil // the loader or the manifest reader reports malformed YAML
	}
	var errs ErrorList
	for _, d := range docs {
		if !kust && !isBuiltinPluginConfig(d) {
			continue
		}
		scanRemote(file, d, "", &errs, 0)
	}
	return errs
}

func isBuiltinPluginConfig(n *yaml.Node) bool {
	av := lookup(n, "apiVersion")
	return av != nil && av.Value == "builtin"
}

func scanRemote(file string, n *yaml.Node, key string, errs *ErrorList, depth int) {
	if n == nil || depth > limits.MaxYAMLDepth {
		return
	}
	switch n.Kind {
	case yaml.AliasNode:
		scanRemote(file, n.Alias, key, errs, depth+1)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			scanRemote(file, n.Content[i+1], n.Content[i].Value, errs, depth+1)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			scanRemote(file, c, key, errs, depth+1)
		}
	case yaml.ScalarNode:
		if !kustomizePathKeys[key] {
			return
		}
		v := strings.TrimSpace(n.Value)
		if strings.Contains(v, "\n") {
			if inlineKeys[key] {
				if docs, err := limits.Documents([]byte(v)); err == nil {
					for _, d := range docs {
						scanRemote(file, d, "", errs, depth+1)
					}
				}
			}
			return
		}
		// configMapGenerator files may be written key=path.
		if key == "files" {
			if k, p, ok := strings.Cut(v, "="); ok && !strings.Contains(k, "/") {
				v = p
			}
		}
		if why := remoteRef(v); why != "" {
			*errs = append(*errs, &Error{Pos: Pos{File: file, Line: n.Line, Column: n.Column}, Field: key,
				Message: fmt.Sprintf("%q is %s; render never touches the network, so every file must be in the repo", v, why)})
		}
	}
}

// remoteRef says why a kustomize path would be fetched or cloned, or "".
// The git test is kustomize's own: resource.Origin.Append runs the parser
// (git.NewRepoSpecFromURL) its loader runs to decide whether to clone, so
// tmc refuses exactly what kustomize would hand to git — krusty builds its
// loader internally and offers no way to give it one that cannot clone.
// The host and suffix patterns after it are a second net for forms a later
// kustomize might clone that this version's parser does not name.
func remoteRef(v string) string {
	if u, err := url.Parse(v); err == nil && u.Scheme != "" && len(u.Scheme) > 1 {
		return fmt.Sprintf("a %s URL", u.Scheme)
	}
	if (&resource.Origin{}).Append(v).Repo != "" {
		return "a remote git repository"
	}
	lower := strings.ToLower(v)
	for _, p := range []string{"github.com/", "gitlab.com/", "bitbucket.org/", "git@", "git::", "ssh:", "gh:"} {
		if strings.HasPrefix(lower, p) {
			return "a remote git repository"
		}
	}
	if strings.Contains(lower, "?ref=") || strings.Contains(lower, "?version=") || strings.Contains(lower, ".git//") || strings.HasSuffix(lower, ".git") || strings.Contains(lower, "_git/") {
		return "a remote git repository"
	}
	return ""
}
