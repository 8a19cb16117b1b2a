package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium (make tools installs it); $CHROMIUM overrides.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: `make tools` installs Debian's chromium (or set $CHROMIUM)")
	return ""
}

// artifacts is where tests write files for people to look at: $TMC_TEST_ARTIFACTS, else bin/test-artifacts.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TMC_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "bin", "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStatusPageInABrowser drives a headless chromium against tmc sync on
// three API servers: the page lists the workspace with every cluster
// healthy; prod-west is cut off, and within a health interval its cell
// shows it unreachable while prod-east and edge-1 stay healthy. The canary
// Secret value appears nowhere in the page; a screenshot is kept.
func TestStatusPageInABrowser(t *testing.T) {
	browser := chromium(t)
	f := newFixture(t)
	gitInit(t, f.dir)
	addr := freePort(t)
	startTMC(t, "tmc sync", "sync", "--repo", f.dir, "--branch", "main", "--kubeconfig", f.kubeconfig, "--workdir", t.TempDir(),
		"--interval", "2s", "--health-interval", "1s", "--listen", addr, "--request-timeout", "3s", "--no-push-reports")
	waitReady(t, addr)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelT()

	cellRE := regexp.MustCompile(`<td class="(healthy|unhealthy|unreachable)"[^>]*>`)
	// matrix returns the web-app row's cell states in the order of the header's clusters.
	matrix := func() (map[string]string, string) {
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/"), chromedp.WaitVisible("#matrix")); err != nil {
			t.Fatal(err)
		}
		html, err := chromedp.Run(ctx, chromedp.OuterHTML("html"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html, canary) {
			t.Fatalf("the status page shows the canary Secret value")
		}
		header := regexp.MustCompile(`(?s)<table id="matrix">\s*(?:<tbody>)?<tr>(.*?)</tr>`).FindStringSubmatch(html)
		row := regexp.MustCompile(`(?s)<tr>\s*<td>root:production/web-app</td>(.*?)</tr>`).FindStringSubmatch(html)
		if header == nil || row == nil {
			return nil, html
		}
		clusters := regexp.MustCompile(`<th>([a-z0-9-]+)</th>`).FindAllStringSubmatch(header[1], -1)
		cells := cellRE.FindAllStringSubmatch(row[1], -1)
		got := map[string]string{}
		for i, c := range clusters[2:] { // after "workspace" and "phase"
			if i < len(cells) {
				got[c[1]] = cells[i][1]
			}
		}
		return got, html
	}
	allHealthy := map[string]string{"edge-1": "healthy", "prod-east": "healthy", "prod-west": "healthy"}
	eventually(t, "the page shows web-app healthy on every cluster", 60*time.Second, func() (bool, string) {
		got, _ := matrix()
		return equalMaps(got, allHealthy), strings.TrimSpace(strings.ReplaceAll(fmtMap(got), "\n", " "))
	})

	f.proxy.Cut()
	cut := time.Now()
	want := map[string]string{"edge-1": "healthy", "prod-east": "healthy", "prod-west": "unreachable"}
	var html string
	eventually(t, "the matrix shows prod-west unreachable and the others healthy", 30*time.Second, func() (bool, string) {
		var got map[string]string
		got, html = matrix()
		return equalMaps(got, want), fmtMap(got)
	})
	t.Logf("prod-west shown unreachable %s after the cut (health interval 1s, request timeout 3s)", time.Since(cut).Round(100*time.Millisecond))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts(t), "status-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	if !strings.Contains(html, "Recent errors") || strings.Contains(html, canary) {
		t.Errorf("page after the cut lacks its sections or leaks the canary")
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func fmtMap(m map[string]string) string {
	var parts []string
	for _, k := range []string{"edge-1", "prod-east", "prod-west"} {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}
