#!/usr/bin/env bash
# make demo: start three local API servers (prod-east, prod-west, edge-1) with
# controllers and simulated Nodes, plan and apply examples/policies, watch the
# rollout, aggregate; then take edge-1's Node away and aggregate again, write
# and commit the reports to a git repo of the policies, run tmc sync on it,
# cut prod-west and show the status API and page with only the workspace that
# targets prod-west in error.
# DEMO_KEEP=1 keeps the clusters running afterwards until Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d /tmp/tmc-demo.XXXXXX)"
kubeconfig="$work/kubeconfig"
bin/clusters -out "$kubeconfig" -ready-file "$work/ready" -cuttable prod-west prod-east=16 prod-west=8 edge-1=2 >"$work/clusters.log" 2>&1 &
pid=$!
syncpid=""
cleanup() {
  [[ -n "$syncpid" ]] && { kill "$syncpid" 2>/dev/null || true; wait "$syncpid" 2>/dev/null || true; }
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"
}
trap cleanup EXIT
echo "==> starting three local Kubernetes API servers (logs: $work/clusters.log)"
for _ in $(seq 120); do
  [[ -f "$work/ready" ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/clusters.log"; exit 1; }
  sleep 0.5
done
[[ -f "$work/ready" ]] || { echo "clusters did not start"; cat "$work/clusters.log"; exit 1; }
tmc() { bin/tmc "$@" --kubeconfig "$kubeconfig"; }
echo
echo "==> tmc plan examples/policies"
tmc plan examples/policies || true
echo
echo "==> tmc apply examples/policies"
tmc apply examples/policies
echo
echo "==> tmc plan examples/policies   (again: nothing left to do)"
tmc plan examples/policies --detailed-exitcode
echo
kubectl() { bin/envtest/kubectl --kubeconfig "$kubeconfig" "$@"; }
echo "==> the controllers roll the Deployment out on kwok's simulated Nodes"
for c in prod-east prod-west edge-1; do
  echo "$c: $(kubectl --context "$c" -n web rollout status deployment/web --timeout 120s)"
done
echo
echo "==> what edge-1 holds (1 replica, slim image, per-cluster ConfigMap names)"
kubectl --context edge-1 get deployments,replicasets,pods,configmaps,services -n web
echo
echo "==> tmc aggregate examples/policies   (health from the controllers' status)"
tmc aggregate examples/policies
echo
echo "==> edge-1 loses its Node (cordoned, its Pod gone, as a Node failure would leave it): the new Pod has nowhere to run"
kubectl --context edge-1 cordon "$(kubectl --context edge-1 get nodes -o name | head -1)" >/dev/null
kubectl --context edge-1 -n web delete pods --all --wait=false >/dev/null
for _ in $(seq 60); do
  [[ -z "$(kubectl --context edge-1 -n web get deployment web -o jsonpath='{.status.availableReplicas}')" ]] && break
  sleep 1
done
kubectl --context edge-1 -n web get pods
echo "==> tmc aggregate examples/policies   (the aggregated health follows: edge-1's instance is no longer healthy)"
tmc aggregate examples/policies
echo
repo="$work/repo"
cp -r examples/policies "$repo"
# A second workspace, on edge-1 only: prod-west going away is not its business.
cat >"$repo/workspaces/edge-tools.yaml" <<'YAML'
apiVersion: tmc.kcp.io/v1alpha1
kind: VirtualWorkspace
metadata: {name: edge-tools}
spec:
  placement: {clusters: [edge-1]}
  sources: [{path: apps/edge-tools}]
YAML
mkdir -p "$repo/apps/edge-tools"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: edge-tools, namespace: default}\ndata: {probe: "on"}\n' >"$repo/apps/edge-tools/cm.yaml"
git -C "$repo" init -q -b main && git -C "$repo" add -A && git -C "$repo" -c user.name=demo -c user.email=demo@localhost commit -qm "policies"
echo "==> tmc aggregate --write-reports --commit: the report is a file in the policy repo"
tmc aggregate "$repo" --write-reports --commit | tail -3
git -C "$repo" log --oneline -2
echo "--- reports/root:production/web-app/README.md (first lines)"
sed -n 1,22p "$repo/reports/root:production/web-app/README.md"
echo
port=$((20000 + RANDOM % 20000))
echo "==> tmc sync --repo $repo   (reconciles every 2s; HTTP on 127.0.0.1:$port)"
bin/tmc sync --repo "$repo" --branch main --kubeconfig "$kubeconfig" --workdir "$work/sync" --interval 2s \
  --health-interval 1s --listen "127.0.0.1:$port" --no-push-reports >"$work/sync.log" 2>&1 &
syncpid=$!
for _ in $(seq 120); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "tmc sync did not become ready:"; cat "$work/sync.log"; exit 1; }
workspaces() { curl -fs "http://127.0.0.1:$port/api/v1/workspaces" | sed '/"recentErrors"/,$d' | grep -E '^      "(name|status|message)"' | sed 's/^ *//' || true; }
workspaces
echo
echo "==> prod-west becomes unreachable (its proxy is cut)"
kill -USR1 "$pid"
sleep 5
echo "--- /api/v1/workspaces: the workspaces that target prod-west (web-app and podinfo) are in error"
workspaces
echo "--- the status page, as text"
curl -fs "http://127.0.0.1:$port/" | sed -e '/<style>/,/<\/style>/d' -e 's/<[^>]*>/ /g' -e 's/&#43;/+/g' -e 's/  */ /g' | grep -v '^ *$' | sed -n 1,30p || true
kill -USR2 "$pid"
echo
echo "==> memory per cluster (RSS, MiB)"
ps -eo rss=,comm= | awk '/kube-apiserver|etcd|kube-controller|kube-scheduler|kwok/ {m[$2]+=$1; n[$2]++} END {for (p in m) printf "  %-24s %6.0f per cluster\n", p, m[p]/n[p]/1024}' 
if [[ "${DEMO_KEEP:-}" == 1 ]]; then
  echo
  echo "clusters keep running; KUBECONFIG=$kubeconfig (Ctrl-C stops them)"
  wait "$pid"
fi
