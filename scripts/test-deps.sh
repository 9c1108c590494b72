#!/usr/bin/env bash
# Installs what hoheit's integration tests need (Chromium, swtpm, SoftHSM,
# cryptsetup, etcd). Idempotent: installs only
# what is missing. Debian packages, plus kube-apiserver built from the Go
# module proxy (scripts/build-kube-apiserver.sh); nothing from elsewhere.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v jq >/dev/null 2>&1 || need+=(jq)
[ -x /usr/bin/time ] || need+=(time)
# attestation and key release: a TPM emulator, an HSM, LUKS2 volumes
command -v swtpm >/dev/null 2>&1 || need+=(swtpm)
command -v swtpm_setup >/dev/null 2>&1 || need+=(swtpm-tools)
command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
command -v cryptsetup >/dev/null 2>&1 || [ -x /usr/sbin/cryptsetup ] || need+=(cryptsetup-bin)
# segmentation enforced with nftables: the tests inspect the table with nft
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)
# the Kubernetes export test: etcd for the kube-apiserver built below
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# kube-apiserver from k8s.io/kubernetes (and Cilium's CRD), cached under
# .cache/: minutes the first time, instant afterwards.
"$(dirname "${BASH_SOURCE[0]}")/build-kube-apiserver.sh"
