package clusterprofile

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kcp-dev/tmc/internal/policy"
)

const snapshot = `apiVersion: v1
kind: List
items:
- apiVersion: multicluster.x-k8s.io/v1alpha1
  kind: ClusterProfile
  metadata:
    name: east-1
    namespace: fleet
    labels: {x-k8s.io/cluster-manager: ocm, env: prod}
  spec:
    displayName: East 1
    clusterManager: {name: ocm}
  status:
    version: {kubernetes: v1.37.2}
    conditions:
    - {type: ControlPlaneHealthy, status: "True", reason: Ok, message: fine, lastTransitionTime: "2026-01-01T00:00:00Z"}
    properties:
    - {name: topology.kubernetes.io/region, value: eu}
    - {name: topology.kubernetes.io/zone, value: eu-1a}
    - {name: clusterset.k8s.io/cluster-id, value: 1f2e}
    accessProviders:
    - name: other
      cluster: {server: https://other.example:6443}
    - name: tmc-test
      cluster:
        server: https://east-1.example:6443
        certificate-authority-data: Q0E=
        extensions:
        - name: client.authentication.k8s.io/exec
          extension: {audience: east-1}
        - name: clusterprofiles.multicluster.x-k8s.io/exec/additional-args
          extension: ["--cluster", "east-1"]
        - name: clusterprofiles.multicluster.x-k8s.io/exec/additional-envs
          extension: {REGION: eu, HOME: /profile}
- apiVersion: multicluster.x-k8s.io/v1alpha2
  kind: ClusterProfile
  metadata: {name: west-1, namespace: fleet}
  spec: {clusterManager: {name: ocm}}
  status:
    conditions:
    - {type: ControlPlaneHealthy, status: "False", reason: Down, message: apiserver gone, lastTransitionTime: "2026-01-01T00:00:00Z"}
    credentialProviders:
    - name: tmc-test
      cluster: {server: https://west-1.example:6443}
`

func TestClusterInventorySnapshotReadsProfiles(t *testing.T) {
	ps, err := ParseSnapshot("fleet.yaml", []byte(snapshot), "")
	if err != nil {
		t.Fatal(err)
	}
	got := Clusters(ps)
	want := []*policy.InventoryCluster{
		{Name: "east-1", Namespace: "fleet", Source: "fleet.yaml", DisplayName: "East 1", ClusterManager: "ocm",
			Labels:            map[string]string{"x-k8s.io/cluster-manager": "ocm", "env": "prod"},
			Properties:        map[string]string{policy.PropertyRegion: "eu", policy.PropertyZone: "eu-1a", policy.PropertyClusterID: "1f2e"},
			KubernetesVersion: "v1.37.2", Healthy: ptr(true), HealthReason: "Ok", HealthMessage: "fine"},
		{Name: "west-1", Namespace: "fleet", Source: "fleet.yaml", ClusterManager: "ocm", Properties: map[string]string{},
			Healthy: ptr(false), HealthReason: "Down", HealthMessage: "apiserver gone"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("clusters (-want +got):\n%s", d)
	}
	if len(ps[0].Access) != 2 || ps[0].Access[1].Cluster.Server != "https://east-1.example:6443" || string(ps[0].Access[1].Cluster.CertificateAuthorityData) != "CA" {
		t.Errorf("access of east-1: %+v", ps[0].Access)
	}
	if len(ps[1].Access) != 1 || ps[1].Access[0].Name != "tmc-test" {
		t.Errorf("the deprecated credentialProviders are read too: %+v", ps[1].Access)
	}
	if why := ps[1].Cluster.Unhealthy(); !strings.Contains(why, "ClusterProfile fleet/west-1") || !strings.Contains(why, "Down") || !strings.Contains(why, "apiserver gone") {
		t.Errorf("unhealthy: %q", why)
	}

	for name, tc := range map[string]struct{ doc, ns, want string }{
		"two namespaces": {doc: snapshot + "---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ClusterProfile\nmetadata: {name: x, namespace: other}\nspec: {clusterManager: {name: m}}\n",
			want: "holds ClusterProfiles of namespaces fleet, other: choose the clusterset with --cluster-inventory-namespace"},
		"bad name":       {doc: "apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ClusterProfile\nmetadata: {name: Bad_Name, namespace: f}\n", want: `fleet.yaml:1: ClusterProfile f/Bad_Name: metadata.name "Bad_Name"`},
		"other kind":     {doc: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", want: "fleet.yaml:1: apiVersion \"v1\", kind \"ConfigMap\": want a ClusterProfile"},
		"duplicate":      {doc: snapshot + "---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ClusterProfile\nmetadata: {name: west-1, namespace: fleet}\n", want: "two ClusterProfiles named fleet/west-1"},
		"billion laughs": {doc: "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n", want: "fleet.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSnapshot("fleet.yaml", []byte(tc.doc), tc.ns)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to hold %q", err, tc.want)
			}
		})
	}
	if ps, err := ParseSnapshot("fleet.yaml", []byte(snapshot+"---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ClusterProfile\nmetadata: {name: x, namespace: other}\n"), "other"); err != nil || len(ps) != 1 || ps[0].Cluster.Name != "x" {
		t.Errorf("--cluster-inventory-namespace other: %v %v", ps, err)
	}
}

const providerFile = `{"providers": [
  {"name": "tmc-test", "execConfig": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/opt/plugin", "args": ["--fixed"], "env": [{"name": "HOME", "value": "/operator"}], "provideClusterInfo": true}},
  {"name": "other", "execConfig": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/opt/other"}}
]}`

func TestClusterInventoryAccessProvidersBuildConfig(t *testing.T) {
	ps, err := ParseSnapshot("fleet.yaml", []byte(snapshot), "fleet")
	if err != nil {
		t.Fatal(err)
	}
	prov, err := ParseProviders("providers.json", []byte(providerFile))
	if err != nil {
		t.Fatal(err)
	}
	// The provider file's order decides: tmc-test comes first there,
	// though the profile lists other first.
	cfg, err := prov.RESTConfig(ps[0])
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://east-1.example:6443" || string(cfg.CAData) != "CA" || cfg.ExecProvider.Command != "/opt/plugin" || !cfg.ExecProvider.ProvideClusterInfo || cfg.ExecProvider.InteractiveMode != "Never" {
		t.Errorf("config: host %s, CA %q, exec %+v", cfg.Host, cfg.CAData, cfg.ExecProvider)
	}
	// With the default (Ignore) policies the profile adds nothing to the plugin.
	if d := cmp.Diff([]string{"--fixed"}, cfg.ExecProvider.Args); d != "" {
		t.Errorf("args (-want +got):\n%s", d)
	}
	if len(cfg.ExecProvider.Env) != 1 || cfg.ExecProvider.Env[0].Value != "/operator" {
		t.Errorf("env: %+v", cfg.ExecProvider.Env)
	}
	if cfg.ExecProvider.Config == nil {
		t.Errorf("the exec extension is not handed to the plugin")
	}

	// The operator may let the profile's extensions add to the plugin.
	allow, err := ParseProviders("p.yaml", []byte(`providers:
- name: tmc-test
  execConfig: {apiVersion: client.authentication.k8s.io/v1, command: /opt/plugin, env: [{name: HOME, value: /operator}]}
  profileSourcedCLIArgsPolicy: Append
  profileSourcedEnvVarsPolicy: AppendIfNotExists
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = allow.RESTConfig(ps[0])
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"--cluster", "east-1"}, cfg.ExecProvider.Args); d != "" {
		t.Errorf("args (-want +got):\n%s", d)
	}
	env := map[string]string{}
	for _, e := range cfg.ExecProvider.Env {
		env[e.Name] = e.Value
	}
	if d := cmp.Diff(map[string]string{"HOME": "/operator", "REGION": "eu"}, env); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}

	none, _ := ParseProviders("p.json", []byte(`{"providers": [{"name": "gke", "execConfig": {"apiVersion": "client.authentication.k8s.io/v1", "command": "gke-auth"}}]}`))
	if _, err := none.RESTConfig(ps[0]); err == nil || !strings.Contains(err.Error(), "ClusterProfile fleet/east-1 offers access providers [other, tmc-test]; the provider file p.json has [gke]: none matches") {
		t.Errorf("no match: %v", err)
	}
	var nilProv *Providers
	if _, err := nilProv.RESTConfig(ps[0]); err == nil || !strings.Contains(err.Error(), "--cluster-access-providers") {
		t.Errorf("no providers: %v", err)
	}
	insecure := *ps[0]
	insecure.Access = []AccessProvider{{Name: "tmc-test"}}
	insecure.Access[0].Cluster.Server = "https://x"
	insecure.Access[0].Cluster.InsecureSkipTLSVerify = true
	if _, err := prov.RESTConfig(&insecure); err == nil || !strings.Contains(err.Error(), "skips TLS verification") {
		t.Errorf("insecure: %v", err)
	}
	for doc, want := range map[string]string{
		`{"providers": [{"name": "a"}]}`:                                 "execConfig.command is required",
		`{"providers": [{"name": "a", "execConfig": {"command": "x"}}]}`: "execConfig.apiVersion is required",
		`{"providers": [{"name": "a", "execConfig": {"apiVersion": "v", "command": "x"}, "profileSourcedCLIArgsPolicy": "All"}]}`: `profileSourcedCLIArgsPolicy "All"`,
		`{"providers": [], "extra": 1}`: "unknown field",
	} {
		if _, err := ParseProviders("p.json", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", doc, err, want)
		}
	}
}

func profile(name string) *Profile {
	return &Profile{Cluster: policy.InventoryCluster{Name: name, Namespace: "fleet"}}
}

func names(ps []*Profile) string {
	var out []string
	for _, p := range ps {
		n := p.Cluster.Name
		if p.Cluster.Departing {
			n += "(departing)"
		}
		out = append(out, n)
	}
	return strings.Join(out, ",")
}

// TestClusterInventoryRemovalRule: a failed or empty read keeps every
// cluster; a profile missing from one good read stays; missing from two
// reads spanning the grace it departs; Forget drops it; one that returns
// is present again.
func TestClusterInventoryRemovalRule(t *testing.T) {
	tr := &Tracker{Grace: 10 * time.Second}
	t0 := time.Unix(1_000_000, 0)
	step := func(read []*Profile, err error, at time.Duration, want string, note string) {
		t.Helper()
		got, n := tr.Observe(read, err, t0.Add(at))
		if names(got) != want {
			t.Errorf("at %s: clusters %s, want %s", at, names(got), want)
		}
		if !strings.Contains(n, note) || (note == "" && n != "") {
			t.Errorf("at %s: note %q, want %q", at, n, note)
		}
	}
	step([]*Profile{profile("a"), profile("b"), profile("c")}, nil, 0, "a,b,c", "")
	step(nil, errTest, time.Second, "a,b,c", "a failed read never prunes")
	step(nil, nil, 2*time.Second, "a,b,c", "an empty inventory never prunes")
	step([]*Profile{profile("a"), profile("b")}, nil, 3*time.Second, "a,b,c", "")
	if d := tr.Leaving(); len(d) != 1 || d[0] != "c" {
		t.Errorf("leaving: %v", d)
	}
	step([]*Profile{profile("a"), profile("b")}, nil, 5*time.Second, "a,b,c", "") // two reads, within the grace
	step(nil, errTest, 20*time.Second, "a,b,c", "never prunes")                   // a failed read counts for nothing
	step([]*Profile{profile("a"), profile("b")}, nil, 21*time.Second, "a,b,c(departing)", "")
	if d := tr.Departing(); len(d) != 1 || d[0] != "c" {
		t.Errorf("departing: %v", d)
	}
	step([]*Profile{profile("a")}, nil, 22*time.Second, "a,b,c(departing)", "")
	step([]*Profile{profile("a"), profile("b")}, nil, 40*time.Second, "a,b,c(departing)", "") // b came back
	tr.Forget("c")
	tr.Forget("a") // present: not forgotten
	step([]*Profile{profile("a"), profile("b")}, nil, 41*time.Second, "a,b", "")
	step([]*Profile{profile("a"), profile("b"), profile("c")}, nil, 42*time.Second, "a,b,c", "")
	// Emptied at once: nothing departs, however long it lasts.
	for i := range 5 {
		step(nil, nil, time.Duration(50+i*100)*time.Second, "a,b,c", "never prunes")
	}
}

var errTest = errTestT("hub unreachable")

type errTestT string

func (e errTestT) Error() string { return string(e) }
