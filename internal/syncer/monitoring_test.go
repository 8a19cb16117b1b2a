package syncer

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"
)

const monitoring = "../../deploy/monitoring"

// promtool finds promtool (Debian's prometheus package; make tools installs it).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: `make tools` installs Debian's prometheus package")
	}
	return p
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert string `json:"alert"`
			Expr  string `json:"expr"`
		} `json:"rules"`
	} `json:"groups"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestAlertRules checks the rules with promtool, runs their unit tests,
// requires a firing test for every alert, and keeps the PrometheusRule
// object equal to the rule file.
func TestAlertRules(t *testing.T) {
	pt := promtool(t)
	for _, args := range [][]string{{"check", "rules", "tmc-rules.yaml"}, {"test", "rules", "tmc-rules.test.yaml"}} {
		cmd := exec.Command(pt, args...)
		cmd.Dir = monitoring
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
	var rules ruleFile
	readYAML(t, filepath.Join(monitoring, "tmc-rules.yaml"), &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	readYAML(t, filepath.Join(monitoring, "tmc-rules.test.yaml"), &tests)
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if !fires[r.Alert] {
				t.Errorf("alert %s has no test that makes it fire", r.Alert)
			}
		}
	}
	if len(alerts) < 6 {
		t.Errorf("alerts: %v", alerts)
	}
	var pr struct {
		Kind string   `json:"kind"`
		Spec ruleFile `json:"spec"`
	}
	readYAML(t, filepath.Join(monitoring, "prometheusrule.yaml"), &pr)
	var rawRules, rawPR map[string]any
	readYAML(t, filepath.Join(monitoring, "tmc-rules.yaml"), &rawRules)
	readYAML(t, filepath.Join(monitoring, "prometheusrule.yaml"), &rawPR)
	if diff := cmp.Diff(rawRules["groups"], rawPR["spec"].(map[string]any)["groups"]); pr.Kind != "PrometheusRule" || diff != "" {
		t.Errorf("prometheusrule.yaml differs from tmc-rules.yaml (-rules +PrometheusRule):\n%s", diff)
	}
}

// exported are the names of the metrics the syncer exports, from the
// collectors' descriptors (histograms with their series suffixes).
func exported(t *testing.T) map[string]bool {
	m := NewMetrics()
	names := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range []prometheus.Collector{m.Workspaces, m.AggregatedResources, m.ProjectedResources, m.AggregationDuration,
			m.ProjectionDuration, m.AggregationLatency, m.ProjectionLatency, m.ClusterHealth, m.Reconciles, m.APIRequests, m.WorkspaceStatus, m.SyncInterval, m.LastSync, m.DriftCorrections, m.RolloutWave, m.RolloutState, m.RolloutHalted, m.DivergentFields,
			m.GitFetches, m.WebhookRequests, m.Notifications, m.InventoryClusters, m.InventoryReads, m.UnownedWorkspaces, m.ShardReplicas, m.ShardOwned, m.ShardReconciles} {
			c.Describe(ch)
		}
		close(ch)
	}()
	for d := range ch {
		if mm := fq.FindStringSubmatch(d.String()); mm != nil {
			for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
				names[mm[1]+suffix] = true
			}
		}
	}
	return names
}

// TestMonitoringNamesOnlyExportedMetrics: every tmc_* metric the dashboard
// and the rules query is one the syncer exports, and every dashboard query
// is valid PromQL (promtool checks them as recording rules).
func TestMonitoringNamesOnlyExportedMetrics(t *testing.T) {
	names := exported(t)
	b, err := os.ReadFile(filepath.Join(monitoring, "tmc-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	var rules ruleFile
	readYAML(t, filepath.Join(monitoring, "tmc-rules.yaml"), &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	metric := regexp.MustCompile(`\btmc_[a-z_]+`)
	used := map[string]bool{}
	for _, e := range exprs {
		for _, n := range metric.FindAllString(e, -1) {
			used[n] = true
			if !names[n] {
				t.Errorf("%q queries %s, which tmc does not export", e, n)
			}
		}
	}
	for _, want := range []string{"tmc_virtual_workspaces_total", "tmc_cluster_health", "tmc_aggregated_resources_total", "tmc_projected_resources_total",
		"tmc_aggregation_latency_seconds_bucket", "tmc_projection_latency_seconds_bucket", "tmc_reconciles_total", "tmc_api_requests_total",
		"tmc_drift_corrections_total"} {
		if !used[want] {
			t.Errorf("the dashboard and rules never query %s", want)
		}
	}
	// Each dashboard query as a recording rule, with Grafana's variables filled in.
	var rf strings.Builder
	rf.WriteString("groups:\n- name: dashboard\n  rules:\n")
	for i, e := range exprs {
		e = strings.NewReplacer("$__rate_interval", "5m", "$job", ".*").Replace(e)
		q, _ := json.Marshal(e)
		fmt.Fprintf(&rf, "  - record: dashboard_query_%d\n    expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	if err := os.WriteFile(path, []byte(rf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool(t), "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("dashboard queries are not valid PromQL: %v\n%s", err, out)
	}
	if !slices.Contains(exprs, "absent(tmc_last_sync_timestamp_seconds)") {
		t.Error("no alert for a syncer that is gone")
	}
}
