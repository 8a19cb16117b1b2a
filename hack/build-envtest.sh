#!/usr/bin/env bash
# Builds the binaries of the test and demo clusters from the Go module proxy into
# $1 (default: bin/envtest): kube-apiserver, etcd and kubectl (envtest), and
# kube-controller-manager, kube-scheduler and kwok (clusters that run
# workloads: Deployments roll out on kwok's simulated Nodes). A no-op when all
# are present and were built from the current hack/envtest and hack/kwok modules.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bin/envtest}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
stamp="$out/.stamp"
want="$(sha256sum "$root/hack/envtest/go.mod" "$root/hack/envtest/go.sum" "$root/hack/envtest/etcd/main.go" "$root/hack/kwok/go.mod" "$root/hack/kwok/go.sum" | sha256sum | cut -d' ' -f1)"
bins=(kube-apiserver etcd kubectl kube-controller-manager kube-scheduler kwok)
present=1
for b in "${bins[@]}"; do [[ -x "$out/$b" ]] || present=0; done
if [[ $present == 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "envtest binaries up to date in $out"
  exit 0
fi
version=v1.37.2
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
cd "$root/hack/envtest"
echo "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $version, etcd and kwok into $out (the first build takes 10-20 minutes on 2 cores)..." >&2
start=$SECONDS
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcd" ./etcd
# kubectl, for the benchmarks and the test that compares tmc plan with kubectl diff --server-side.
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/kubectl" k8s.io/kubernetes/cmd/kubectl
# Controllers and scheduler, for clusters that run workloads (test/harness StartWorkloads).
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/kube-scheduler" k8s.io/kubernetes/cmd/kube-scheduler
# kwok simulates the Nodes' kubelets: its own module, as it pins other k8s.io versions.
cd "$root/hack/kwok"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok
echo "$want" > "$stamp"
echo "envtest binaries built in $((SECONDS - start))s" >&2
