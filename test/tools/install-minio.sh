#!/usr/bin/env bash
# Builds the MinIO server (the S3 backend of the storage-driver tests, DESIGN.md §3) from the Go module proxy
# into .cache/bin/minio. Skipped when the binary for the pinned version is already there. A cold build takes
# several minutes on a 2-core machine.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
# shellcheck source=test/tools/go-install.sh
source "$repo_root/test/tools/go-install.sh"

# MinIO publishes no semver tags for the Go toolchain; this pseudo-version (master, 2026-02-12) is the
# build the module proxy serves as latest. -trimpath and no debug info keep the binary small.
go_install_pinned install-minio minio minio \
  github.com/minio/minio v0.0.0-20260212201848-7aac2a2c5b7c \
  -trimpath -ldflags="-s -w"
