package cluster

import "testing"

// FuzzLoadRepoKubeconfig feeds arbitrary bytes as a kubeconfig from the
// policy repo: no panic, and one that loads names no file.
func FuzzLoadRepoKubeconfig(f *testing.F) {
	f.Add([]byte(kubeconfig))
	f.Add([]byte("apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {tokenFile: /etc/passwd}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Config\nclusters: &c\n- name: a\n  cluster: {server: x}\nusers: *c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := LoadRepoKubeconfig(data)
		if err != nil {
			return
		}
		for name, ai := range cfg.AuthInfos {
			if ai != nil && (ai.TokenFile != "" || ai.ClientCertificate != "" || ai.ClientKey != "") {
				t.Fatalf("user %s names a file: %+v", name, ai)
			}
		}
		for name, c := range cfg.Clusters {
			if c != nil && c.CertificateAuthority != "" {
				t.Fatalf("cluster %s names a file", name)
			}
		}
	})
}
