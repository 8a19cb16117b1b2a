package policy

import (
	"strings"
	"testing"
)

// TestNotificationRoutesNameProvidersOnly: the repo's Config may route
// events to the operator's providers by name, never name a URL or a
// credential, and only known event types.
func TestNotificationRoutesNameProvidersOnly(t *testing.T) {
	cfg := func(routes string) map[string][]byte {
		return map[string][]byte{"config.yaml": []byte("apiVersion: tmc.kcp.io/v1alpha1\nkind: Config\nmetadata: {name: tmc}\nspec:\n  notifications:\n" + routes)}
	}
	p, err := LoadFiles(cfg("    - {provider: ops, events: [RevisionApplied, WaveHalted], workspaces: [web-app]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Config.Notifications; len(r) != 1 || r[0].Provider != "ops" || len(r[0].Events) != 2 {
		t.Errorf("routes %+v", r)
	}
	for routes, want := range map[string]string{
		"    - {provider: ops, url: 'https://attacker.example/hook'}\n": `unknown field "url"`,
		"    - {provider: ops, token: ghp_x}\n":                         `unknown field "token"`,
		"    - {provider: ops, secretFile: /etc/shadow}\n":              `unknown field "secretFile"`,
		"    - {provider: ops, events: [Everything]}\n":                 "Everything",
		"    - {events: [RevisionApplied]}\n":                           "provider",
	} {
		if _, err := LoadFiles(cfg(routes)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error with %q, got %v", strings.TrimSpace(routes), want, err)
		}
	}
}
