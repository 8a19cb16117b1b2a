package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kcp-dev/tmc/internal/policy"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: plain
  cluster: {server: "https://127.0.0.1:6443"}
- name: insecure
  cluster: {server: "https://127.0.0.1:6444", insecure-skip-tls-verify: true}
users:
- name: token
  user: {token: abc}
- name: plugin
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/steal-credentials, interactiveMode: Never}
contexts:
- name: ok
  context: {cluster: plain, user: token}
- name: exec
  context: {cluster: plain, user: plugin}
- name: insecure
  context: {cluster: insecure, user: token}
current-context: ok
`

func TestConnectRefusesUnsafeKubeconfigs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.LoadFiles(map[string][]byte{"c.yaml": []byte(`apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: ok}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: exec}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: insecure}
---
apiVersion: tmc.kcp.io/v1alpha1
kind: Cluster
metadata: {name: nocontext}
`)})
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Kubeconfig = path
	set := Connect(context.Background(), p, opts)
	want := map[string]string{
		"ok":        "",
		"exec":      `kubeconfig user "plugin" runs a credential plugin; pass --allow-exec-plugins to allow it`,
		"insecure":  `kubeconfig cluster "insecure" skips TLS verification; pass --insecure-skip-tls-verify to allow it`,
		"nocontext": `kubeconfig has no context "nocontext" (set spec.kubeconfig.context; contexts: [exec insecure ok])`,
	}
	for name, msg := range want {
		c, err := set.Get(name)
		switch {
		case msg == "" && (err != nil || c == nil):
			t.Errorf("%s: %v", name, err)
		case msg != "" && (err == nil || !strings.Contains(err.Error(), msg)):
			t.Errorf("%s: error %v, want %q", name, err, msg)
		}
	}
	if c, _ := set.Get("ok"); c != nil && (c.Config.QPS != 200 || c.Config.Burst != 400) {
		t.Errorf("rate limits %v/%d, want 200/400", c.Config.QPS, c.Config.Burst)
	}
	opts.AllowExecPlugins, opts.InsecureSkipTLSVerify = true, true
	set = Connect(context.Background(), p, opts)
	for _, name := range []string{"exec", "insecure"} {
		if _, err := set.Get(name); err != nil {
			t.Errorf("%s with the flag: %v", name, err)
		}
	}
}
