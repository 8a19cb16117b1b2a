package cluster

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kcp-dev/tmc/internal/policy"
)

// recordingServer is a TLS server answering /version that records every
// Authorization header; it returns the server, its CA as kubeconfig data,
// and what it has seen.
func recordingServer(t *testing.T) (*httptest.Server, string, func() []string) {
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"major":"1","minor":"37","gitVersion":"v1.37.2"}`))
	}))
	t.Cleanup(srv.Close)
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	return srv, ca, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), auths...)
	}
}

// TestRepoKubeconfigSendsNoOutsideCredential runs a local TLS server that
// records every Authorization header. A kubeconfig in the policy repo that
// names a token file outside the repo, or a kubeconfig path that leaves the
// repo, must be refused before any request; the canary token from outside
// the repo must never reach the server. An inline token does (so the test
// can see requests at all).
func TestRepoKubeconfigSendsNoOutsideCredential(t *testing.T) {
	srv, ca, seen := recordingServer(t)

	outside := t.TempDir()
	const canary = "CANARY-outside-the-repo"
	tokenFile := filepath.Join(outside, "token")
	if err := os.WriteFile(tokenFile, []byte(canary), 0o600); err != nil {
		t.Fatal(err)
	}
	kubeconfig := func(user string) string {
		return "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"" + srv.URL + "\", certificate-authority-data: " + ca + "}\n" +
			"users:\n- name: u\n  user: " + user + "\ncontexts:\n- name: c1\n  context: {cluster: c, user: u}\n"
	}
	if err := os.WriteFile(filepath.Join(outside, "kubeconfig"), []byte(kubeconfig("{tokenFile: "+tokenFile+"}")), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	files := map[string]string{
		"cluster.yaml":    "apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: c1}\nspec:\n  kubeconfig: {path: kube/config}\n",
		"kube/config":     kubeconfig("{token: inline-token}"),
		"kube/tokenfile":  kubeconfig("{tokenFile: " + tokenFile + "}"),
		"kube/relative":   kubeconfig("{tokenFile: ../../" + filepath.Base(outside) + "/token}"),
		"kube/clientcert": kubeconfig("{client-certificate: " + tokenFile + ", client-key: " + tokenFile + "}"),
		"kube/exec":       kubeconfig("{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, interactiveMode: Never}}"),
	}
	for name, content := range files {
		p := filepath.Join(repo, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(outside, "kubeconfig"), filepath.Join(repo, "kube", "link")); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.AllowExecPlugins = true // the flag trusts the given kubeconfig, never the repo's
	cases := []struct{ path, want string }{
		{"kube/tokenfile", `may not name files (user "u" tokenFile "` + tokenFile + `")`},
		{"kube/relative", `may not name files (user "u" tokenFile "../../`},
		{"kube/clientcert", `may not name files (user "u" client-certificate`},
		{"kube/exec", `a kubeconfig in the policy repo may not`},
		{"kube/link", `kubeconfig.path: path "kube/link" leaves the repo through a symlink`},
		{tokenFile, `kubeconfig.path: path "` + tokenFile + `" is absolute`},
		{"../" + filepath.Base(outside) + "/kubeconfig", `leaves the repo`},
		{"kube/config", ""},
	}
	for _, tc := range cases {
		p.Clusters[0].Spec.Kubeconfig.Path = tc.path
		set := Connect(context.Background(), p, opts)
		c, err := set.Get("c1")
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want %q", tc.path, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if _, err := c.Clientset.Discovery().ServerVersion(); err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
	}
	auths := seen()
	if len(auths) == 0 {
		t.Fatal("the inline-token kubeconfig made no request: the test cannot see requests")
	}
	for _, a := range auths {
		if strings.Contains(a, canary) {
			t.Fatalf("a credential from outside the repo reached the server: %q", a)
		}
		if a != "Bearer inline-token" {
			t.Errorf("unexpected Authorization %q", a)
		}
	}
}

// TestKubeconfigPathValidated: validate refuses kubeconfig paths that leave the repo.
func TestKubeconfigPathValidated(t *testing.T) {
	for path, want := range map[string]string{
		"/etc/kubernetes/admin.conf": `spec.kubeconfig.path: path "/etc/kubernetes/admin.conf" is absolute`,
		"../other/kubeconfig":        `spec.kubeconfig.path: path "../other/kubeconfig"`,
	} {
		_, err := policy.LoadFiles(map[string][]byte{"c.yaml": []byte("apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: c1}\nspec:\n  kubeconfig: {path: \"" + path + "\"}\n")})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
}

// TestSecretRefConfined: a Cluster's kubeconfig.secretRef may name a Secret
// only in tmc's namespace or one the operator allows, and the kubeconfig it
// holds follows the rules of a repo kubeconfig: a token file on the syncer's
// host is refused before any request, so the TLS server records none of it.
func TestSecretRefConfined(t *testing.T) {
	srv, ca, seen := recordingServer(t)
	const canary = "CANARY-host-file"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(canary), 0o600); err != nil {
		t.Fatal(err)
	}
	kubeconfig := func(user string) []byte {
		return []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"" + srv.URL + "\", certificate-authority-data: " + ca + "}\n" +
			"users:\n- name: u\n  user: " + user + "\ncontexts:\n- name: c1\n  context: {cluster: c, user: u}\n")
	}
	// The home cluster's Secrets, as the Manager would read them.
	secrets := map[string][]byte{
		"tmc-system/good":     kubeconfig("{token: inline-token}"),
		"tmc-system/file":     kubeconfig("{tokenFile: " + tokenFile + "}"),
		"tmc-system/exec":     kubeconfig("{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, interactiveMode: Never}}"),
		"team-c/kc":           kubeconfig("{token: team-c-token}"),
		"fleet-creds/allowed": kubeconfig("{token: inline-token}"),
	}
	var read []string
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "cluster.yaml"), []byte("apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: c1}\nspec:\n  kubeconfig: {secretRef: {name: good}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.AllowExecPlugins = true // trusts the given kubeconfig only
	opts.SecretNamespaces = []string{"tmc-system", "fleet-creds"}
	opts.SecretKubeconfig = func(_ context.Context, ns, name, _ string) ([]byte, error) {
		if ns == "" {
			ns = "tmc-system"
		}
		read = append(read, ns+"/"+name)
		return secrets[ns+"/"+name], nil
	}
	cases := []struct{ ns, name, want string }{
		{"team-c", "kc", `kubeconfig.secretRef team-c/kc: a Cluster may name a Secret only in tmc's own namespace or one the operator allows (tmc-system, fleet-creds)`},
		{"", "file", `may not name files (user "u" tokenFile "` + tokenFile + `")`},
		{"tmc-system", "exec", `a kubeconfig from a Secret the policy repo names may not`},
		{"fleet-creds", "allowed", ""},
		{"", "good", ""},
	}
	for _, tc := range cases {
		p.Clusters[0].Spec.Kubeconfig.SecretRef = &policy.SecretRef{Namespace: tc.ns, Name: tc.name, Key: "kubeconfig"}
		c, err := Connect(context.Background(), p, opts).Get("c1")
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s/%s: error %v, want %q", tc.ns, tc.name, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s/%s: %v", tc.ns, tc.name, err)
		}
		if _, err := c.Clientset.Discovery().ServerVersion(); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range read {
		if strings.HasPrefix(r, "team-c/") {
			t.Errorf("the Secret %s of another namespace was read", r)
		}
	}
	auths := seen()
	if len(auths) != 2 {
		t.Fatalf("requests: %q (want the two allowed kubeconfigs' only)", auths)
	}
	for _, a := range auths {
		if a != "Bearer inline-token" {
			t.Errorf("credential %q reached the server", a)
		}
	}
}

// TestResponsesBounded: a server (one the repo names, say) that answers the
// Node LIST with 80 MB is refused with an error naming the bound, instead of
// tmc decoding it; a server that ignores the page limit cannot get around
// it either. Paged Node LISTs stay well below the bound.
func TestResponsesBounded(t *testing.T) {
	var lists []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/version" {
			_, _ = w.Write([]byte(`{"major":"1","minor":"37","gitVersion":"v1.37.2"}`))
			return
		}
		lists = append(lists, r.URL.RawQuery)
		_, _ = w.Write([]byte(`{"kind":"NodeList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"n","annotations":{"a":"`))
		chunk := []byte(strings.Repeat("x", 1<<20))
		for range 80 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`"}}}]}`))
	}))
	defer srv.Close()
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	repo := t.TempDir()
	kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"" + srv.URL + "\", certificate-authority-data: " + ca + "}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c1\n  context: {cluster: c, user: u}\n"
	if err := os.WriteFile(filepath.Join(repo, "kc"), []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "cluster.yaml"), []byte("apiVersion: tmc.kcp.io/v1alpha1\nkind: Cluster\nmetadata: {name: c1}\nspec:\n  kubeconfig: {path: kc}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Connect(context.Background(), p, DefaultOptions()).Get("c1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Observe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "response larger than 64 MiB: refused") {
		t.Fatalf("observe error = %v", err)
	}
	if len(lists) != 1 || !strings.Contains(lists[0], "limit=500") {
		t.Errorf("Node LISTs %q: want one, paged", lists)
	}
}
