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
# openssl: makes the token issuer's certificate (registry/auth/keypair.ts; `npm start` and the auth tests).
apt_packages=(docker.io skopeo podman docker-registry openssl wrk curl)

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
conformance_module="github.com/opencontainers/distribution-spec/conformance"
conformance_version="v0.0.0-20260831232431-97274622c111"

bin_dir="$repo_root/.cache/bin"
conformance_bin="$bin_dir/oci-conformance"
conformance_stamp="$bin_dir/oci-conformance.version"

if [[ -x "$conformance_bin" && -f "$conformance_stamp" && "$(cat "$conformance_stamp")" == "$conformance_version" ]]; then
  echo "install-system: oci-conformance $conformance_version present"
else
  if ! command -v go >/dev/null; then
    echo "install-system: the Go toolchain (go) is required to build the OCI conformance tool" >&2
    exit 1
  fi
  echo "install-system: building oci-conformance $conformance_version"
  mkdir -p "$bin_dir"
  gobin="$(mktemp -d "$bin_dir/.gobin.XXXXXX")"
  trap 'rm -rf "$gobin"' EXIT
  # Go's own module and build caches (outside the clone) are shared by every checkout on the machine, so a
  # fresh clone in CI rebuilds from warm caches; -modcacherw keeps the module cache deletable with rm -rf.
  GOBIN="$gobin" \
    GOFLAGS="-modcacherw -buildvcs=false" \
    GOTOOLCHAIN=local \
    CGO_ENABLED=0 \
    go install "$conformance_module@$conformance_version"
  mv -f "$gobin/conformance" "$conformance_bin"
  echo "$conformance_version" >"$conformance_stamp"
  rm -rf "$gobin"
  trap - EXIT
fi

bash "$repo_root/test/tools/install-minio.sh"
bash "$repo_root/test/tools/install-fake-gcs.sh"
bash "$repo_root/test/tools/install-control-plane.sh"

echo "install-system: done"
