package clusterprofile

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	clientcmdlatest "k8s.io/client-go/tools/clientcmd/api/latest"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/limits"
)

// Extensions of an access provider's cluster that KEP-5339 reserves.
const (
	// ExtensionExec is passed to the exec plugin as ExecCredential.spec.cluster.config.
	ExtensionExec = "client.authentication.k8s.io/exec"
	// ExtensionArgs and ExtensionEnvs add arguments and environment
	// variables to the plugin, when the operator's provider allows it.
	ExtensionArgs = "clusterprofiles.multicluster.x-k8s.io/exec/additional-args"
	ExtensionEnvs = "clusterprofiles.multicluster.x-k8s.io/exec/additional-envs"
)

// Provider is one entry of the operator's provider file (KEP-5339): the
// exec plugin that obtains credentials for clusters whose profile offers an
// access provider of this name.
type Provider struct {
	Name       string                   `json:"name"`
	ExecConfig *clientcmdapi.ExecConfig `json:"execConfig"`
	// ProfileSourcedCLIArgsPolicy is Append or Ignore (the default): whether
	// a profile's additional-args extension reaches the plugin.
	ProfileSourcedCLIArgsPolicy string `json:"profileSourcedCLIArgsPolicy,omitempty"`
	// ProfileSourcedEnvVarsPolicy is AppendIfNotExists, Replace or Ignore
	// (the default): whether a profile's additional-envs extension does.
	ProfileSourcedEnvVarsPolicy string `json:"profileSourcedEnvVarsPolicy,omitempty"`
}

// Providers is the operator's provider file: {"providers": [...]}.
type Providers struct {
	Providers []Provider `json:"providers"`
	// Source is the file read.
	Source string `json:"-"`
}

// MaxProviderFile bounds the provider file.
const MaxProviderFile = 1 << 20

// ReadProviders reads the operator's provider file (JSON or YAML, strict).
func ReadProviders(path string) (*Providers, error) {
	data, err := readBounded("access providers", path, MaxProviderFile)
	if err != nil {
		return nil, err
	}
	return ParseProviders(path, data)
}

// readBounded reads a file of at most limit bytes; what names it in errors.
func readBounded(what, path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s %s: larger than %d KiB", what, path, limit>>10)
	}
	return data, nil
}

// ParseProviders parses a provider file's content; name stands for it in errors.
func ParseProviders(name string, data []byte) (*Providers, error) {
	if err := limits.CheckBytes(data); err != nil {
		return nil, fmt.Errorf("access providers %s: %w", name, err)
	}
	var ps Providers
	if err := sigsyaml.UnmarshalStrict(data, &ps); err != nil {
		return nil, fmt.Errorf("access providers %s: %w", name, err)
	}
	seen := map[string]bool{}
	for i, p := range ps.Providers {
		at := fmt.Sprintf("access providers %s: providers[%d]", name, i)
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("%s: name is required", at)
		case seen[p.Name]:
			return nil, fmt.Errorf("%s: provider %q is listed twice", at, p.Name)
		case p.ExecConfig == nil || p.ExecConfig.Command == "":
			return nil, fmt.Errorf("%s (%s): execConfig.command is required", at, p.Name)
		case p.ExecConfig.APIVersion == "":
			return nil, fmt.Errorf("%s (%s): execConfig.apiVersion is required, e.g. client.authentication.k8s.io/v1", at, p.Name)
		}
		if !slices.Contains([]string{"", "Append", "Ignore"}, p.ProfileSourcedCLIArgsPolicy) {
			return nil, fmt.Errorf("%s (%s): profileSourcedCLIArgsPolicy %q: must be Append or Ignore", at, p.Name, p.ProfileSourcedCLIArgsPolicy)
		}
		if !slices.Contains([]string{"", "AppendIfNotExists", "Replace", "Ignore"}, p.ProfileSourcedEnvVarsPolicy) {
			return nil, fmt.Errorf("%s (%s): profileSourcedEnvVarsPolicy %q: must be AppendIfNotExists, Replace or Ignore", at, p.Name, p.ProfileSourcedEnvVarsPolicy)
		}
		seen[p.Name] = true
	}
	ps.Source = name
	return &ps, nil
}

// Names lists the providers, in the file's order.
func (ps *Providers) Names() []string {
	var out []string
	if ps != nil {
		for _, p := range ps.Providers {
			out = append(out, p.Name)
		}
	}
	return out
}

// RESTConfig builds the config that reaches the profile's cluster: the
// first provider of the operator's file (in its order) that the profile
// offers gives the exec plugin; the profile gives the server, its CA, the
// proxy and the plugin's cluster config. Nothing of the plugin — command,
// arguments, environment — comes from the profile unless the provider's
// policies let its extensions add to them.
func (ps *Providers) RESTConfig(p *Profile) (*rest.Config, error) {
	ref := p.Cluster.Ref()
	if ps == nil || len(ps.Providers) == 0 {
		return nil, fmt.Errorf("%s: no access providers configured (pass --cluster-access-providers, the operator's provider file)", ref)
	}
	var prov *Provider
	var ap *AccessProvider
	for i := range ps.Providers {
		for j := range p.Access {
			if p.Access[j].Name == ps.Providers[i].Name {
				prov, ap = &ps.Providers[i], &p.Access[j]
				break
			}
		}
		if prov != nil {
			break
		}
	}
	if prov == nil {
		var offered []string
		for _, a := range p.Access {
			offered = append(offered, a.Name)
		}
		return nil, fmt.Errorf("%s offers access providers [%s]; the provider file %s has [%s]: none matches", ref,
			strings.Join(offered, ", "), ps.Source, strings.Join(ps.Names(), ", "))
	}
	if ap.Cluster.Server == "" {
		return nil, fmt.Errorf("%s: access provider %q has no cluster.server", ref, ap.Name)
	}
	if ap.Cluster.InsecureSkipTLSVerify {
		return nil, fmt.Errorf("%s: access provider %q skips TLS verification: tmc sends the operator's credentials only to a verified server", ref, ap.Name)
	}
	exec := prov.ExecConfig.DeepCopy()
	exec.InteractiveMode = clientcmdapi.NeverExecInteractiveMode
	exec.StdinUnavailable = true
	internal := clientcmdapi.NewCluster()
	if err := clientcmdlatest.Scheme.Convert(&ap.Cluster, internal, nil); err != nil {
		return nil, fmt.Errorf("%s: access provider %q: %w", ref, ap.Name, err)
	}
	for _, ext := range ap.Cluster.Extensions {
		var err error
		switch ext.Name {
		case ExtensionArgs:
			err = addArgs(exec, ext.Extension.Raw, prov.ProfileSourcedCLIArgsPolicy)
		case ExtensionEnvs:
			err = addEnvs(exec, ext.Extension.Raw, prov.ProfileSourcedEnvVarsPolicy)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: access provider %q: extension %s: %w", ref, ap.Name, ext.Name, err)
		}
	}
	if cfg, ok := internal.Extensions[ExtensionExec]; ok {
		exec.Config = cfg
	}
	cfg := &rest.Config{
		Host:            ap.Cluster.Server,
		TLSClientConfig: rest.TLSClientConfig{CAData: ap.Cluster.CertificateAuthorityData, ServerName: ap.Cluster.TLSServerName},
		ExecProvider:    exec,
	}
	if ap.Cluster.ProxyURL != "" {
		u, err := url.Parse(ap.Cluster.ProxyURL)
		if err != nil {
			return nil, fmt.Errorf("%s: access provider %q: proxy-url: %w", ref, ap.Name, err)
		}
		cfg.Proxy = http.ProxyURL(u)
	}
	return cfg, nil
}

func addArgs(exec *clientcmdapi.ExecConfig, raw []byte, policy string) error {
	if policy != "Append" {
		return nil // Ignore (the default): the profile adds nothing to the plugin
	}
	var args []string
	if err := sigsyaml.Unmarshal(raw, &args); err != nil {
		return err
	}
	exec.Args = append(exec.Args, args...)
	return nil
}

func addEnvs(exec *clientcmdapi.ExecConfig, raw []byte, policy string) error {
	if policy == "" || policy == "Ignore" {
		return nil
	}
	var envs map[string]string
	if err := sigsyaml.Unmarshal(raw, &envs); err != nil {
		return err
	}
	have := map[string]int{}
	for i, e := range exec.Env {
		have[e.Name] = i
	}
	for _, k := range slices.Sorted(maps.Keys(envs)) {
		i, ok := have[k]
		switch {
		case !ok:
			exec.Env = append(exec.Env, clientcmdapi.ExecEnvVar{Name: k, Value: envs[k]})
		case policy == "Replace":
			exec.Env[i].Value = envs[k]
		}
	}
	return nil
}
