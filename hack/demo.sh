#!/usr/bin/env bash
# make demo: start three local API servers (prod-east, prod-west, edge-1),
# then plan and apply examples/policies against them and show the result.
# DEMO_KEEP=1 keeps the clusters running afterwards until Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d /tmp/tmc-demo.XXXXXX)"
kubeconfig="$work/kubeconfig"
bin/clusters -out "$kubeconfig" -ready-file "$work/ready" prod-east=16 prod-west=8 edge-1=2 >"$work/clusters.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
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
echo "==> memory per cluster (RSS, MiB)"
ps -eo rss=,comm= | awk '/kube-apiserver|etcd|kube-controller|kube-scheduler|kwok/ {m[$2]+=$1; n[$2]++} END {for (p in m) printf "  %-24s %6.0f per cluster\n", p, m[p]/n[p]/1024}' 
if [[ "${DEMO_KEEP:-}" == 1 ]]; then
  echo
  echo "clusters keep running; KUBECONFIG=$kubeconfig (Ctrl-C stops them)"
  wait "$pid"
fi
