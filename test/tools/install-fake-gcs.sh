#!/usr/bin/env bash
# Builds fake-gcs-server (the GCS backend of the storage-driver tests, DESIGN.md §3) from the Go module proxy
# into .cache/bin/fake-gcs-server. Skipped when the binary for the pinned version is already there.
# Go's default module and build caches (outside the clone) are shared by every checkout on the machine, so a
# fresh clone rebuilds from warm caches. The build runs under `nice`: the test machines are small and shared.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

# The newest release the module proxy serves (2026-08-24).
fake_gcs_module="github.com/fsouza/fake-gcs-server"
fake_gcs_version="v1.56.1"

bin_dir="$repo_root/.cache/bin"
fake_gcs_bin="$bin_dir/fake-gcs-server"
fake_gcs_stamp="$bin_dir/fake-gcs-server.version"

if [[ -x "$fake_gcs_bin" && -f "$fake_gcs_stamp" && "$(cat "$fake_gcs_stamp")" == "$fake_gcs_version" ]]; then
  echo "install-fake-gcs: fake-gcs-server $fake_gcs_version present"
  exit 0
fi

if ! command -v go >/dev/null; then
  echo "install-fake-gcs: the Go toolchain (go) is required to build fake-gcs-server" >&2
  exit 1
fi

echo "install-fake-gcs: building fake-gcs-server $fake_gcs_version"
mkdir -p "$bin_dir"
gobin="$(mktemp -d "$bin_dir/.gobin.XXXXXX")"
trap 'rm -rf "$gobin"' EXIT
# -trimpath and no debug info keep the binary small; -modcacherw keeps the module cache deletable.
GOBIN="$gobin" \
  GOFLAGS="-modcacherw -buildvcs=false" \
  GOTOOLCHAIN=local \
  CGO_ENABLED=0 \
  nice -n 10 go install -trimpath -ldflags="-s -w" "$fake_gcs_module@$fake_gcs_version"
mv -f "$gobin/fake-gcs-server" "$fake_gcs_bin"
echo "$fake_gcs_version" >"$fake_gcs_stamp"
rm -rf "$gobin"
trap - EXIT
echo "install-fake-gcs: done"
