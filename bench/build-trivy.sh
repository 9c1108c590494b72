#!/usr/bin/env bash
# build-trivy.sh builds trivy v0.69.3 from the Go module proxy into
# .cache/bin/trivy, the peer that bench/compare.sh measures hoheit against.
#
# It builds through the wrapper module bench/trivy (its own go.mod and go.sum,
# never part of hoheit's module) the way trivy's release does: CGO off,
# GOEXPERIMENT=jsonv2, version stamped into the binary. Idempotent: it does
# nothing when the binary is already there (set FORCE=1 to rebuild).
#
# The build is large (hundreds of modules); start it early in the background:
#
#	nohup bench/build-trivy.sh > /tmp/trivy-build.log 2>&1 &
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="v0.69.3"
out="${TRIVY_BIN:-$root/.cache/bin/trivy}"

if [[ -x "$out" && "${FORCE:-0}" != 1 ]]; then
	echo "trivy already built: $out ($("$out" --version 2>/dev/null | head -1))"
	exit 0
fi

mkdir -p "$(dirname "$out")"
cd "$root/bench/trivy"
echo "building trivy $version into $out (this takes several minutes)"
start=$(date +%s)
# Build to a temporary name and rename, so an interrupted build never leaves a
# half-written binary that the idempotency check above would accept.
CGO_ENABLED=0 GOEXPERIMENT=jsonv2 GOFLAGS=-mod=mod \
	go build -trimpath \
	-ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${version#v}" \
	-o "$out.tmp" github.com/aquasecurity/trivy/cmd/trivy
mv "$out.tmp" "$out"
echo "built $out in $(($(date +%s) - start)) s: $("$out" --version | head -1)"
