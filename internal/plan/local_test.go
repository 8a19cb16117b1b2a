package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kcp-dev/tmc/internal/cluster"
	"github.com/kcp-dev/tmc/internal/policy"
	"github.com/kcp-dev/tmc/test/harness"
)

// step changes the live state before a case is decided.
type step struct {
	verb    string // apply (server-side apply, force), patch (merge patch: an Update), status (merge patch of the status subresource), delete
	manager string
	obj     string // YAML; for patch and status the patch body, with apiVersion/kind/name
}

// desiredObject decodes YAML the way plan's toUnstructured does (JSON numbers as float64).
func desiredObject(t testing.TB, s string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(j, &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func run(ctx context.Context, t testing.TB, c client.Client, ns string, s step) {
	t.Helper()
	u := desiredObject(t, s.obj)
	if u.GetKind() != "CustomResourceDefinition" && u.GetKind() != "Namespace" {
		u.SetNamespace(ns)
	}
	var err error
	switch s.verb {
	case "apply":
		err = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(s.manager), client.ForceOwnership)
	case "patch", "status":
		body, _ := json.Marshal(u.Object)
		if s.verb == "status" {
			err = c.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, body), client.FieldOwner(s.manager))
		} else {
			err = c.Patch(ctx, u, client.RawPatch(types.MergePatchType, body), client.FieldOwner(s.manager))
		}
	case "delete":
		err = c.Delete(ctx, u)
	}
	if err != nil {
		t.Fatalf("%s %s as %s: %v", s.verb, u.GetName(), s.manager, err)
	}
}

// serverSaysUnchanged is what plan decided before the local rule: a
// server-side dry-run as tmc, no conflict, and no drift against the live object.
func serverSaysUnchanged(ctx context.Context, t testing.TB, c *cluster.Client, desired, live *unstructured.Unstructured) bool {
	t.Helper()
	dry, err := dryRun(ctx, c, desired, false)
	if apierrors.IsConflict(err) {
		return false
	}
	if err != nil {
		t.Fatalf("dry-run %s: %v", desired.GetName(), err)
	}
	return !drifted(live, dry)
}

func liveOf(ctx context.Context, t testing.TB, c client.Client, desired *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(desired.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		t.Fatalf("get %s: %v", desired.GetName(), err)
	}
	return live
}

const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.eq.tmc.kcp.io}
spec:
  group: eq.tmc.kcp.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, default: 3}
              color: {type: string}
              port: {x-kubernetes-int-or-string: true}
              tags: {type: array, x-kubernetes-list-type: set, items: {type: string}}
              items:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items: {type: object, required: [name], properties: {name: {type: string}, value: {type: string}}}
          status:
            type: object
            properties:
              ready: {type: boolean}
`

const deploy = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        args: [--a, --b]
        ports: [{containerPort: 80}]
        resources: {limits: {memory: %s, cpu: %s}}
`

// TestLocalDecisionAgreesWithTheServer sets up live objects as tmc and other
// field managers leave them, then decides each desired object locally and
// with the server's dry-run. A local "unchanged" the server disagrees with
// fails the test (a hidden change); a dry-run the server calls unchanged is
// only a cost, but fails for the cases the rule is built to decide (local).
func TestLocalDecisionAgreesWithTheServer(t *testing.T) {
	ctx := context.Background()
	cs := harness.StartT(t, "eq")
	hc := cs.Get("eq")
	c, err := cluster.NewClient(&policy.Cluster{Metadata: policy.ObjectMeta{Name: "eq"}}, hc.Config, cluster.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	run(ctx, t, hc.Client, "", step{"apply", "setup", crd})
	waitForKind(ctx, t, hc.Client)

	cm := func(data string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, labels: {l: '1'}}\ndata: " + data
	}
	dep := func(mem, cpu string) string { return fmt.Sprintf(deploy, mem, cpu) }
	svc := func(port string) string {
		return "apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: " + port + "}]}"
	}
	w := func(spec string) string {
		return "apiVersion: eq.tmc.kcp.io/v1\nkind: Widget\nmetadata: {name: w}\nspec: " + spec
	}
	tmc := func(obj string) step { return step{"apply", FieldManager, obj} }
	cases := []struct {
		name    string
		steps   []step
		desired string
		local   bool // the rule is built to decide this one without a dry-run
	}{
		{"configmap unchanged", []step{tmc(cm("{a: '1'}"))}, cm("{a: '1'}"), true},
		{"owned value changed in git", []step{tmc(cm("{a: '1'}"))}, cm("{a: '2'}"), false},
		{"key added in git", []step{tmc(cm("{a: '1'}"))}, cm("{a: '1', b: '2'}"), false},
		{"key removed from git that tmc owned", []step{tmc(cm("{a: '1', b: '2'}"))}, cm("{a: '1'}"), false},
		{"field added by another manager (update)", []step{tmc(cm("{a: '1'}")), {"patch", "kubectl-edit", cm("{c: '3'}")}}, cm("{a: '1'}"), true},
		{"label added by another manager (apply)", []step{tmc(cm("{a: '1'}")), {"apply", "other", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, labels: {x: 'y'}}"}}, cm("{a: '1'}"), true},
		{"owned field edited by hand", []step{tmc(cm("{a: '1'}")), {"patch", "kubectl-edit", cm("{a: '9'}")}}, cm("{a: '1'}"), false},
		{"owned field edited back by hand", []step{tmc(cm("{a: '1'}")), {"patch", "kubectl-edit", cm("{a: '9'}")}, {"patch", "kubectl-edit", cm("{a: '1'}")}}, cm("{a: '1'}"), false},
		{"field co-owned with the same value", []step{tmc(cm("{a: '1'}")), {"apply", "other", cm("{a: '1'}")}}, cm("{a: '1'}"), false},
		{"label removed by hand", []step{tmc(cm("{a: '1'}")), {"patch", "kubectl-edit", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, labels: {l: null}}"}}, cm("{a: '1'}"), false},
		{"annotation null in git", []step{tmc(cm("{a: '1'}"))}, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, labels: {l: '1'}, annotations: null}\ndata: {a: '1'}", false},
		{"adopted: created by another tool", []step{{"apply", "kubectl", cm("{a: '1'}")}}, cm("{a: '1'}"), false},
		{"being deleted", []step{tmc("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, finalizers: [eq.tmc.kcp.io/hold]}\ndata: {a: '1'}"), {"delete", "", cm("{}")}}, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, finalizers: [eq.tmc.kcp.io/hold]}\ndata: {a: '1'}", false},

		{"deployment with server defaults", []step{tmc(dep("1Gi", "500m"))}, dep("1Gi", "500m"), true},
		{"deployment status by a controller", []step{tmc(dep("1Gi", "500m")), {"status", "kube-controller-manager", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nstatus: {replicas: 1, readyReplicas: 1, observedGeneration: 1}"}}, dep("1Gi", "500m"), true},
		{"deployment scaled by hand", []step{tmc(dep("1Gi", "500m")), {"patch", "kubectl-scale", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 5}"}}, dep("1Gi", "500m"), true},
		{"atomic args changed by hand", []step{tmc(dep("1Gi", "500m")), {"patch", "kubectl-edit", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: [{name: web, image: nginx:1.27, args: [--a, --b, --c], ports: [{containerPort: 80}]}]}}}"}}, dep("1Gi", "500m"), false},
		{"sidecar container added by another manager", []step{tmc(dep("1Gi", "500m")), {"apply", "injector", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: [{name: proxy, image: envoy}]}}}"}}, dep("1Gi", "500m"), false},
		{"quantity 1024Mi stored as 1Gi", []step{tmc(dep("1024Mi", "500m"))}, dep("1024Mi", "500m"), false},
		{"quantity 1000m stored as 1", []step{tmc(dep("1Gi", "1000m"))}, dep("1Gi", "1000m"), false},
		{"quantity changed in git", []step{tmc(dep("1Gi", "500m"))}, dep("2Gi", "500m"), false},
		{"explicit default in git", []step{tmc(strings.Replace(dep("1Gi", "500m"), "spec:\n  selector", "spec:\n  revisionHistoryLimit: 10\n  selector", 1))}, strings.Replace(dep("1Gi", "500m"), "spec:\n  selector", "spec:\n  revisionHistoryLimit: 10\n  selector", 1), true},
		{"default dropped from git that tmc owned", []step{tmc(strings.Replace(dep("1Gi", "500m"), "spec:\n  selector", "spec:\n  revisionHistoryLimit: 10\n  selector", 1))}, dep("1Gi", "500m"), false},

		{"int-or-string as int", []step{tmc(svc("8080"))}, svc("8080"), true},
		{"int-or-string as name", []step{tmc(svc("http"))}, svc("http"), true},
		{"int-or-string changed", []step{tmc(svc("8080"))}, svc("http"), false},

		{"secret data", []step{tmc("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: dmFsdWU=}")}, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: dmFsdWU=}", true},
		{"secret stringData", []step{tmc("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: value}")}, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: value}", false},
		{"secret stringData changed", []step{tmc("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: value}")}, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: other}", false},

		{"custom resource with a schema default", []step{tmc(w("{color: red}"))}, w("{color: red}"), true},
		{"custom resource changed", []step{tmc(w("{color: red}"))}, w("{color: blue}"), false},
		{"custom resource int-or-string", []step{tmc(w("{port: 8080}"))}, w("{port: 8080}"), true},
		{"set list unchanged", []step{tmc(w("{tags: [a, b]}"))}, w("{tags: [a, b]}"), true},
		{"set list item added by another manager", []step{tmc(w("{tags: [a, b]}")), {"apply", "other", w("{tags: [c]}")}}, w("{tags: [a, b]}"), false},
		{"map list item added by another manager", []step{tmc(w("{items: [{name: a, value: '1'}]}")), {"apply", "other", w("{items: [{name: b, value: '2'}]}")}}, w("{items: [{name: a, value: '1'}]}"), false},
		{"map list item value edited by hand", []step{tmc(w("{items: [{name: a, value: '1'}]}")), {"patch", "kubectl-edit", w("{items: [{name: a, value: '2'}]}")}}, w("{items: [{name: a, value: '1'}]}"), false},
		{"custom resource status", []step{tmc(w("{color: red}")), {"status", "widget-controller", "apiVersion: eq.tmc.kcp.io/v1\nkind: Widget\nmetadata: {name: w}\nstatus: {ready: true}"}}, w("{color: red}"), true},
		{"status in git", []step{tmc(w("{color: red}"))}, "apiVersion: eq.tmc.kcp.io/v1\nkind: Widget\nmetadata: {name: w}\nspec: {color: red}\nstatus: {ready: true}", false},
	}
	var local, fallbacks int
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			desired, live := setUp(ctx, t, hc.Client, fmt.Sprintf("eq-%d", i), tc.steps, tc.desired)
			why := unchangedLocally(desired, live)
			server := serverSaysUnchanged(ctx, t, c, desired, live)
			switch {
			case why == "" && !server:
				t.Errorf("DISAGREEMENT: decided unchanged locally, the server's dry-run changes it")
			case why == "":
				local++
			case server:
				fallbacks++
				t.Logf("dry-run needed (%s); the server found no change", why)
			}
			if tc.local && why != "" {
				t.Errorf("the rule is built to decide this case locally, but it asks the server: %s", why)
			}
		})
	}
	t.Logf("%d cases: %d decided locally, %d needless dry-runs, 0 disagreements unless reported above", len(cases), local, fallbacks)
}

// setUp runs a case's steps in a namespace of its own and returns its
// desired object (as plan decodes it) and the live object they left.
func setUp(ctx context.Context, t *testing.T, c client.Client, ns string, steps []step, desiredYAML string) (desired, live *unstructured.Unstructured) {
	t.Helper()
	run(ctx, t, c, "", step{"apply", "setup", "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}"})
	for _, s := range steps {
		run(ctx, t, c, ns, s)
	}
	desired = desiredObject(t, desiredYAML)
	desired.SetNamespace(ns)
	return desired, liveOf(ctx, t, c, desired)
}

func waitForKind(ctx context.Context, t testing.TB, c client.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := &unstructured.UnstructuredList{}
		l.SetAPIVersion("eq.tmc.kcp.io/v1")
		l.SetKind("WidgetList")
		err := c.List(ctx, l)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Widget kind not served: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLocalDecisionRandomized generates ConfigMap histories — git changes,
// drops and adds keys, hand edits of owned and new fields, other appliers,
// labels removed and added — and requires the local decision never to call
// unchanged what the server changes. TMC_RANDOM_SEED replays a run.
func TestLocalDecisionRandomized(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TMC_RANDOM_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("TMC_RANDOM_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	hc := harness.StartT(t, "rnd").Get("rnd")
	c, err := cluster.NewClient(&policy.Cluster{Metadata: policy.ObjectMeta{Name: "rnd"}}, hc.Config, cluster.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	run(ctx, t, hc.Client, "", step{"apply", "setup", "apiVersion: v1\nkind: Namespace\nmetadata: {name: rnd}"})
	keys := []string{"a", "b", "c", "d"}
	data := func() map[string]string {
		m := map[string]string{}
		for _, k := range keys {
			if rng.IntN(2) == 0 {
				m[k] = strconv.Itoa(rng.IntN(2))
			}
		}
		return m
	}
	obj := func(name string, d map[string]string, labels map[string]string) string {
		b, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name, "labels": labels}, "data": d})
		return string(b)
	}
	const n = 60
	local := 0
	for i := range n {
		name := fmt.Sprintf("cm-%d", i)
		applied := data()
		steps := []step{{"apply", FieldManager, obj(name, applied, map[string]string{"l": "1"})}}
		for range rng.IntN(3) {
			switch rng.IntN(4) {
			case 0:
				steps = append(steps, step{"patch", "kubectl-edit", obj(name, data(), nil)})
			case 1:
				steps = append(steps, step{"apply", "other", obj(name, data(), nil)})
			case 2:
				steps = append(steps, step{"patch", "kubectl-edit", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `","labels":{"l":null}}}`})
			case 3:
				steps = append(steps, step{"patch", "kubectl-label", obj(name, nil, map[string]string{"x": "y"})})
			}
		}
		desiredData := applied
		if rng.IntN(2) == 0 {
			desiredData = data()
		}
		for _, s := range steps {
			run(ctx, t, hc.Client, "rnd", s)
		}
		desired := desiredObject(t, obj(name, desiredData, map[string]string{"l": "1"}))
		desired.SetNamespace("rnd")
		live := liveOf(ctx, t, hc.Client, desired)
		why := unchangedLocally(desired, live)
		if why == "" {
			local++
			if !serverSaysUnchanged(ctx, t, c, desired, live) {
				t.Errorf("DISAGREEMENT on %s (seed %d): steps %v, desired %v: decided unchanged locally, the server changes it", name, seed, steps, desiredData)
			}
		}
	}
	t.Logf("%d random cases, %d decided locally", n, local)
	if local == 0 {
		t.Error("no random case was decided locally: the rule proves nothing")
	}
}

// TestDriftNamesTheManager: an update that reverts someone else's edit names
// the manager and time; edits of fields git does not set, status written by
// a controller, and objects tmc never applied are not drift.
func TestDriftNamesTheManager(t *testing.T) {
	ctx := context.Background()
	hc := harness.StartT(t, "drift").Get("drift")
	cm := func(data string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, labels: {app.kubernetes.io/managed-by: tmc}}\ndata: " + data
	}
	tmc := func(obj string) step { return step{"apply", FieldManager, obj} }
	cases := []struct {
		name        string
		steps       []step
		desired     string
		wantManager string // "" for no drift
	}{
		{"hand edit of an owned field", []step{tmc(cm("{a: '1'}")), {"patch", "kubectl-edit", cm("{a: '9'}")}}, cm("{a: '1'}"), "kubectl-edit"},
		{"another tool's apply of an owned field", []step{tmc(cm("{a: '1'}")), {"apply", "helm", cm("{a: '7'}")}}, cm("{a: '1'}"), "helm"},
		{"hand edit of a field git does not set", []step{tmc(cm("{a: '1'}")), {"patch", "kubectl-edit", cm("{b: '2'}")}}, cm("{a: '2'}"), ""},
		{"scaled by hand, now set in git", []step{tmc(fmt.Sprintf(deploy, "1Gi", "500m")), {"patch", "kubectl-scale", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 5}"}},
			strings.Replace(fmt.Sprintf(deploy, "1Gi", "500m"), "spec:\n  selector", "spec:\n  replicas: 2\n  selector", 1), "kubectl-scale"},
		{"status by a controller", []step{tmc(fmt.Sprintf(deploy, "1Gi", "500m")), {"status", "kube-controller-manager", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nstatus: {replicas: 1}"}},
			fmt.Sprintf(deploy, "2Gi", "500m"), ""},
		{"never applied by tmc", []step{{"apply", "kubectl", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: '1'}"}}, cm("{a: '2'}"), ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := driftOf(setUp(ctx, t, hc.Client, fmt.Sprintf("drift-%d", i), tc.steps, tc.desired))
			switch {
			case tc.wantManager == "" && d != nil:
				t.Errorf("drift %+v, want none", d)
			case tc.wantManager != "" && (d == nil || d.Manager != tc.wantManager || d.Time == ""):
				t.Errorf("drift %+v, want by %s", d, tc.wantManager)
			}
		})
	}
}
