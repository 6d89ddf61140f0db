#!/usr/bin/env bash
# Installs what the real-parts tests need (DESIGN.md §3) on a Debian 12 machine:
#   - Debian packages: Docker engine + CLI, skopeo, podman, CNCF Distribution 2.8 (docker-registry)
#   - the OCI distribution-spec conformance tool, built from the Go module proxy into .cache/bin
# Idempotent and quick when everything is present: apt-get update runs only when a package is missing,
# and the Go build is skipped when the binary for the pinned version already exists.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

# --- Debian packages --------------------------------------------------------------------------------
# docker.io: engine (dockerd + containerd + runc) and the CLI; the tests start a private dockerd.
# The legacy builder (DOCKER_BUILDKIT=0) builds FROM scratch images, so docker-buildx is not needed.
# podman/skopeo pull in containers-common (policy.json, registries.conf); the tests run podman as root
# with vfs storage, which needs neither uidmap nor fuse-overlayfs.
# The single-node cluster (test/harness/cluster.ts): containerd + runc as the kubelet's runtime, the CNI
# plugins (bridge, host-local, loopback, portmap in /usr/lib/cni), iproute2 for its network namespace and
# veth pair, iptables + conntrack for kube-proxy, gcc + libc6-dev to compile the static pause binary, and
# busybox-static for the locally built Node base image of the Berth image.
apt_packages=(docker.io skopeo podman docker-registry wrk curl
  containerd runc containernetworking-plugins iproute2 iptables conntrack gcc libc6-dev busybox-static)

missing=()
for pkg in "${apt_packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    sudo=(sudo)
  fi
  echo "install-system: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q "${missing[@]}"
else
  echo "install-system: Debian packages present: ${apt_packages[*]}"
fi

# --- OCI conformance tool ---------------------------------------------------------------------------
# The conformance module has no release tags of its own; this pseudo-version (main, 2026-08-31) is the
# build the module proxy serves. It includes the referrers tests (OCI_API_REFERRER).
# shellcheck source=test/tools/go-install.sh
source "$repo_root/test/tools/go-install.sh"
go_install_pinned install-system oci-conformance conformance \
  github.com/opencontainers/distribution-spec/conformance v0.0.0-20260831232431-97274622c111

bash "$repo_root/test/tools/install-minio.sh"
bash "$repo_root/test/tools/install-fake-gcs.sh"
bash "$repo_root/test/tools/install-control-plane.sh"
bash "$repo_root/test/tools/install-cluster.sh"

echo "install-system: done"
