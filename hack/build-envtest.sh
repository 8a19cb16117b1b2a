#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl for envtest from the Go module proxy into
# $1 (default: bin/envtest). A no-op when both binaries are present and were
# built from the current hack/envtest/go.mod.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bin/envtest}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
stamp="$out/.stamp"
want="$(sha256sum "$root/hack/envtest/go.mod" "$root/hack/envtest/go.sum" "$root/hack/envtest/etcd/main.go" | sha256sum | cut -d' ' -f1)"
if [[ -x "$out/kube-apiserver" && -x "$out/etcd" && -x "$out/kubectl" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "envtest binaries up to date in $out"
  exit 0
fi
version=v1.37.2
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
cd "$root/hack/envtest"
echo "building kube-apiserver $version and etcd into $out (first build takes several minutes)..." >&2
start=$SECONDS
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcd" ./etcd
# kubectl, for the benchmarks and the test that compares tmc plan with kubectl diff --server-side.
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/kubectl" k8s.io/kubernetes/cmd/kubectl
echo "$want" > "$stamp"
echo "envtest binaries built in $((SECONDS - start))s" >&2
