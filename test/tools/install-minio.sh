#!/usr/bin/env bash
# Builds the MinIO server (the S3 backend of the storage-driver tests, DESIGN.md §3) from the Go module proxy
# into .cache/bin/minio. Skipped when the binary for the pinned version is already there.
# Module and build caches live under .cache (as in install-system.sh), so a rebuild after a version bump
# only compiles what changed. A cold build takes several minutes on a 2-core machine.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

# MinIO publishes no semver tags for the Go toolchain; this pseudo-version (master, 2026-02-12) is the
# build the module proxy serves as latest.
minio_module="github.com/minio/minio"
minio_version="v0.0.0-20260212201848-7aac2a2c5b7c"

bin_dir="$repo_root/.cache/bin"
minio_bin="$bin_dir/minio"
minio_stamp="$bin_dir/minio.version"

if [[ -x "$minio_bin" && -f "$minio_stamp" && "$(cat "$minio_stamp")" == "$minio_version" ]]; then
  echo "install-minio: minio $minio_version present"
  exit 0
fi

if ! command -v go >/dev/null; then
  echo "install-minio: the Go toolchain (go) is required to build MinIO" >&2
  exit 1
fi

echo "install-minio: building minio $minio_version (several minutes on a cold cache)"
mkdir -p "$bin_dir"
gobin="$(mktemp -d "$bin_dir/.gobin.XXXXXX")"
trap 'rm -rf "$gobin"' EXIT
# -trimpath and no debug info keep the binary small; -modcacherw keeps the module cache deletable. Go's default
# module and build caches are shared by every clone on the machine, so a fresh CI clone rebuilds in seconds.
GOBIN="$gobin" \
  GOFLAGS="-modcacherw -buildvcs=false" \
  GOTOOLCHAIN=local \
  CGO_ENABLED=0 \
  go install -trimpath -ldflags="-s -w" "$minio_module@$minio_version"
mv -f "$gobin/minio" "$minio_bin"
echo "$minio_version" >"$minio_stamp"
rm -rf "$gobin"
trap - EXIT
echo "install-minio: done"
