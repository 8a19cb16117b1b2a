package cluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kcp-dev/tmc/internal/limits"
	"github.com/kcp-dev/tmc/internal/policy"
)

// repoKubeconfig loads a kubeconfig that a Cluster in the policy repo names.
// The repo is untrusted (docs/security.md), so the file must be inside the
// repo (no absolute path, no .., no symlink out of it), is size- and
// alias-bounded, and may not name any file itself: a token file, client
// certificate or key, or CA file would let the repo send any file of the
// runner to a server it chooses. Credentials must be inline (token,
// client-certificate-data, client-key-data, certificate-authority-data).
func repoKubeconfig(root, rel string) (*clientcmdapi.Config, error) {
	if root == "" {
		return nil, fmt.Errorf("kubeconfig.path %q needs a policy directory on disk", rel)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig.path %q: %v", rel, policy.UnwrapPathError(err))
	}
	full, err := policy.ResolveInRepo(realRoot, rel)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig.path: %w", err)
	}
	f, err := os.Open(full)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %v", rel, policy.UnwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limits.MaxKubeconfig+1))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %v", rel, err)
	}
	cfg, err := LoadRepoKubeconfig(data)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", rel, err)
	}
	return cfg, nil
}

// LoadRepoKubeconfig parses the content of a kubeconfig from the policy repo
// and refuses what such a kubeconfig may not hold: more than
// limits.MaxKubeconfig bytes, YAML beyond the alias and depth budgets, and
// references to files.
func LoadRepoKubeconfig(data []byte) (*clientcmdapi.Config, error) {
	if len(data) > limits.MaxKubeconfig {
		return nil, fmt.Errorf("larger than %d KiB", limits.MaxKubeconfig>>10)
	}
	if err := limits.CheckBytes(data); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, err
	}
	var refs []string
	for name, ai := range cfg.AuthInfos {
		if ai == nil {
			continue
		}
		for field, v := range map[string]string{"tokenFile": ai.TokenFile, "client-certificate": ai.ClientCertificate, "client-key": ai.ClientKey} {
			if v != "" {
				refs = append(refs, fmt.Sprintf("user %q %s %q", name, field, v))
			}
		}
	}
	for name, c := range cfg.Clusters {
		if c != nil && c.CertificateAuthority != "" {
			refs = append(refs, fmt.Sprintf("cluster %q certificate-authority %q", name, c.CertificateAuthority))
		}
	}
	if len(refs) > 0 {
		sort.Strings(refs)
		return nil, fmt.Errorf("a kubeconfig in the policy repo may not name files (%s); put credentials inline (token, client-certificate-data, client-key-data, certificate-authority-data)", strings.Join(refs, "; "))
	}
	return cfg, nil
}
