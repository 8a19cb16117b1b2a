package chart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testKey = []byte("an operator key of 32 bytes, ok!")

func renderTestdata(t *testing.T, values map[string]any, kube string, key []byte) (*Result, error) {
	t.Helper()
	files, _, _, err := Read("testdata", "web")
	if err != nil {
		t.Fatal(err)
	}
	if values == nil {
		values = map[string]any{}
	}
	return Render(context.Background(), &Request{Files: files, Values: values, Release: "shop", Namespace: "shop", KubeVersion: kube, Cluster: "east", Key: key, Source: "web"})
}

func joined(res *Result) string {
	var b strings.Builder
	for _, m := range res.Manifests {
		b.WriteString("# " + m.Template + " " + m.Hook + "\n" + m.Content + "\n")
	}
	return b.String()
}

// TestHelmChartRendersWithHelmSemantics: .Release, .Chart, .Values (the
// chart's under the user's), .Capabilities.KubeVersion, include, tpl, a
// vendored subchart, CRDs from crds/ first, a pre-install hook before the
// rest, the test hook dropped, NOTES.txt ignored.
func TestHelmChartRendersWithHelmSemantics(t *testing.T) {
	res, err := renderTestdata(t, map[string]any{"replicaCount": 3}, "v1.31.4", testKey)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range res.Manifests {
		order = append(order, m.Template+" "+m.Hook)
	}
	want := []string{"web/crds/widgets.yaml ", "web/templates/job.yaml pre-install,pre-upgrade", "web/charts/redis/templates/service.yaml ", "web/templates/deployment.yaml "}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("manifests (-want +got):\n%s", diff)
	}
	out := joined(res)
	for _, s := range []string{"name: shop-web", `chart: "web-1.2.3"`, "replicas: 3", `value: "v1.31.4"`, `value: "web.example.com"`, "ports: [{port: 6379}]"} {
		if !strings.Contains(out, s) {
			t.Errorf("render lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "Thanks for installing") || strings.Contains(out, "__tmc_at") || strings.Contains(out, "kind: Pod") {
		t.Errorf("NOTES.txt, the marker or the test hook in the render:\n%s", out)
	}
	if len(res.Dropped) != 1 || !strings.Contains(res.Dropped[0], "web/templates/test-pod.yaml: Pod/shop-test-") {
		t.Errorf("dropped %v", res.Dropped)
	}
}

// TestHelmChartValuesSchemaNamesThePath: values.schema.json is enforced,
// its errors naming the value's path.
func TestHelmChartValuesSchemaNamesThePath(t *testing.T) {
	_, err := renderTestdata(t, map[string]any{"replicaCount": "three"}, "", testKey)
	if err == nil || !strings.Contains(err.Error(), "values.schema.json: at /replicaCount:") {
		t.Fatalf("want a schema error naming /replicaCount, got %v", err)
	}
}

// TestHelmChartRandomnessIsDeterministic: a chart calling randAlphaNum
// renders byte-identically twice; another cluster or key draws other
// values; without an operator key a drawn value may land only in a test
// hook (dropped), never in an applied object.
func TestHelmChartRandomnessIsDeterministic(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"templates/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: pw}\nstringData:\n  password: {{ randAlphaNum 16 | quote }}\n  id: {{ uuidv4 | quote }}\n  at: {{ now | date \"2006\" | quote }}\n",
	})
	render := func(cluster string, key []byte) (string, error) {
		files, _, _, err := Read(dir, ".")
		if err != nil {
			t.Fatal(err)
		}
		res, err := Render(context.Background(), &Request{Files: files, Values: map[string]any{}, Release: "r", Namespace: "n", Cluster: cluster, Key: key, Source: "c"})
		if err != nil {
			return "", err
		}
		return joined(res), nil
	}
	a, err := render("east", testKey)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := render("east", testKey)
	if a != b {
		t.Errorf("two renders differ:\n%s\n%s", a, b)
	}
	c, _ := render("west", testKey)
	d, _ := render("east", []byte("another operator key, 32 bytes.."))
	if c == a || d == a {
		t.Errorf("another cluster or key must draw other values")
	}
	if !strings.Contains(a, `at: "1970"`) {
		t.Errorf("now is not fixed:\n%s", a)
	}
	if _, err := render("east", nil); err == nil || !strings.Contains(err.Error(), "c/templates/secret.yaml: ") || !strings.Contains(err.Error(), "draws a random value that lands in an object tmc applies") {
		t.Errorf("unkeyed randomness in an applied object: %v", err)
	}
	// The podinfo pattern: randomness only in a test hook is fine without a key.
	if _, err := renderTestdata(t, nil, "", nil); err != nil {
		t.Errorf("randomness in a test hook only: %v", err)
	}
}

func writeChart(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["Chart.yaml"]; !ok {
		files["Chart.yaml"] = "apiVersion: v2\nname: c\nversion: 0.1.0\n"
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestHelmChartHostileChartsEndInClearErrors: each hostile chart ends in an
// error naming the chart and, where the render reaches it, the template —
// never a hang, a read outside the chart, a fetch or a cluster call.
func TestHelmChartHostileChartsEndInClearErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		link  [2]string // symlink name → target
		want  string
	}{
		{"a template looping for ever", map[string]string{"templates/loop.yaml": "{{ range $i := until 100000 }}{{ range $j := until 100000 }}{{ range $k := until 100000 }}{{ end }}{{ end }}{{ end }}"},
			[2]string{}, "did not end within 3s in template c/templates/loop.yaml"},
		{"a string doubled until it is gigabytes", map[string]string{"templates/big.yaml": "{{ $s := \"xxxxxxxx\" }}{{ range until 40 }}{{ $s = printf \"%s%s\" $s $s }}{{ end }}{{ $s }}"},
			[2]string{}, "in template c/templates/big.yaml"},
		{"repeat asked for gigabytes", map[string]string{"templates/rep.yaml": "{{ repeat 1000000000 \"x\" }}"}, [2]string{}, "c/templates/rep.yaml:1:"},
		{"a recursive include", map[string]string{"templates/_r.tpl": "{{ define \"r\" }}{{ include \"r\" . }}{{ end }}", "templates/rec.yaml": "{{ include \"r\" . }}"},
			[2]string{}, "nested reference name: r"},
		{".Files.Get of /etc/passwd", map[string]string{"templates/cm.yaml": "data: {{ .Files.Get \"../../etc/passwd\" | quote }}"}, [2]string{},
			`c/templates/cm.yaml:1: .Files.Get "../../etc/passwd": a chart's files are its own`},
		{"a symlink out of the chart", map[string]string{"templates/ok.yaml": "a: b"}, [2]string{"files/passwd", "/etc/passwd"}, "files/passwd is a symlink to /etc/passwd, outside the chart"},
		{"a dependency pointing at a URL", map[string]string{"Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies: [{name: evil, version: 1.0.0, repository: \"https://attacker.example/charts\"}]\n"},
			[2]string{}, `dependency "evil" (repository https://attacker.example/charts) of Chart.yaml is not vendored under charts/`},
		{"lookup", map[string]string{"templates/l.yaml": "x: {{ lookup \"v1\" \"Secret\" \"kube-system\" \"admin\" }}"}, [2]string{},
			"c/templates/l.yaml:1:6: executing \"c/templates/l.yaml\" at <lookup \"v1\" \"Secret\" \"kube-system\" \"admin\">: error calling lookup: lookup v1 Secret kube-system/admin: tmc renders charts without a cluster"},
		{"a schema fetching a URL", map[string]string{"values.schema.json": `{"$ref": "https://attacker.example/schema.json"}`}, [2]string{}, "tmc loads no file or URL for a schema"},
		{"required", map[string]string{"templates/r.yaml": "x: {{ required \"set .Values.host\" .Values.host }}"}, [2]string{}, "execution error at (c/templates/r.yaml:1:6): set .Values.host"},
		{"fail", map[string]string{"templates/f.yaml": "\n\n{{ fail \"this chart needs a license key\" }}"}, [2]string{}, "execution error at (c/templates/f.yaml:3:3): this chart needs a license key"},
		{"genCA", map[string]string{"templates/ca.yaml": "x: {{ (genCA \"ca\" 365).Cert }}"}, [2]string{}, "genCA generates a key or certificate at render time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeChart(t, tc.files)
			if tc.link[0] != "" {
				_ = os.MkdirAll(filepath.Join(dir, filepath.Dir(tc.link[0])), 0o755)
				if err := os.Symlink(tc.link[1], filepath.Join(dir, tc.link[0])); err != nil {
					t.Fatal(err)
				}
			}
			files, _, _, err := Read(dir, ".")
			if err == nil {
				_, err = Render(context.Background(), &Request{Files: files, Values: map[string]any{}, Release: "r", Namespace: "n", Cluster: "east", Key: testKey, Source: "charts/c"})
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
			if strings.Contains(err.Error(), "root:") {
				t.Errorf("the error quotes /etc/passwd: %v", err)
			}
		})
	}
}

// TestHelmChartPackagedArchive: a packaged chart (.tgz, as helm package
// makes it) in the repo renders as its directory does.
func TestHelmChartPackagedArchive(t *testing.T) {
	files, _, _, err := Read("testdata", "web")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "web/" + f.Name, Mode: 0o644, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(f.Data)
	}
	_ = tw.Close()
	_ = gz.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "web-1.2.3.tgz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, archive, digest, err := Read(dir, "web-1.2.3.tgz")
	if err != nil || archive == nil || digest == "" {
		t.Fatalf("read the archive: %v", err)
	}
	req := func(files []File, archive []byte) *Request {
		return &Request{Files: files, Archive: archive, Values: map[string]any{"replicaCount": 2}, Release: "shop", Namespace: "shop", Cluster: "east", Key: testKey, Source: "web"}
	}
	fromArchive, err := Render(context.Background(), req(nil, archive))
	if err != nil {
		t.Fatal(err)
	}
	fromDir, err := Render(context.Background(), req(files, nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(joined(fromDir), joined(fromArchive)); diff != "" {
		t.Errorf("archive and directory render differently (-dir +archive):\n%s", diff)
	}
	if _, _, _, err := Read(dir, "missing.tgz"); err == nil {
		t.Error("a missing archive must be an error")
	}
}
