#!/usr/bin/env bash
# build-kube-apiserver.sh builds kube-apiserver v1.37.2 from the Go module
# proxy into .cache/bin/kube-apiserver, for the integration test that proves
# `hoheit segment export` output valid against a real API server
# (internal/segment/export_apiserver_test.go). etcd comes from Debian's
# etcd-server package (scripts/test-deps.sh). It also copies Cilium's
# CiliumNetworkPolicy CRD out of the github.com/cilium/cilium module (from the
# module proxy, cilium v1.20.2) to .cache/kube/ciliumnetworkpolicies.yaml, so
# the test validates the Cilium export against Cilium's own schema.
#
# It builds through the wrapper module bench/kube-apiserver (its own go.mod and
# go.sum, never part of hoheit's module), CGO off, version stamped the way
# Kubernetes' own build does. Idempotent: it does nothing when the binary of
# this version is already there (set FORCE=1 to rebuild).
#
# The first build takes several minutes on 2 cores; start it early:
#
#	nohup scripts/build-kube-apiserver.sh > /tmp/kube-apiserver-build.log 2>&1 &
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="v1.37.2"
out="${KUBE_APISERVER_BIN:-$root/.cache/bin/kube-apiserver}"
cilium_version="v1.20.2"
crd="$root/.cache/kube/ciliumnetworkpolicies.yaml"

if [[ ! -s "$crd" || "${FORCE:-0}" == 1 ]]; then
	mkdir -p "$(dirname "$crd")"
	# Outside any module, so nothing is added to a go.mod or go.sum.
	tmp="$(mktemp -d)"
	dir="$(cd "$tmp" && GOFLAGS= go mod download -json "github.com/cilium/cilium@$cilium_version" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	rmdir "$tmp"
	src="$dir/pkg/k8s/apis/cilium.io/client/crds/v2/ciliumnetworkpolicies.yaml"
	[[ -s "$src" ]] || { echo "Cilium's CRD not found in github.com/cilium/cilium@$cilium_version ($src)" >&2; exit 1; }
	cp "$src" "$crd.tmp" && mv "$crd.tmp" "$crd"
	echo "copied the CiliumNetworkPolicy CRD of cilium $cilium_version to $crd"
fi

if [[ -x "$out" && "${FORCE:-0}" != 1 ]] && "$out" --version 2>/dev/null | grep -qx "Kubernetes $version"; then
	echo "kube-apiserver already built: $out ($version)"
	exit 0
fi

mkdir -p "$(dirname "$out")"
cd "$root/bench/kube-apiserver"
echo "building kube-apiserver $version into $out (the first build takes several minutes)"
start=$(date +%s)
pkg=k8s.io/component-base/version
minor="${version#v1.}"
minor="${minor%%.*}"
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
# Build to a temporary name and rename, so an interrupted build never leaves a
# half-written binary that the idempotency check above would accept.
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$out.tmp" "$out"
echo "built $out in $(($(date +%s) - start)) s: $("$out" --version)"
