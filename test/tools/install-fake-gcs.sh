#!/usr/bin/env bash
# Builds fake-gcs-server (the GCS backend of the storage-driver tests, DESIGN.md §3) from the Go module proxy
# into .cache/bin/fake-gcs-server. Skipped when the binary for the pinned version is already there.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
# shellcheck source=test/tools/go-install.sh
source "$repo_root/test/tools/go-install.sh"

# The newest release the module proxy serves (2026-08-24). -trimpath and no debug info keep the binary small.
go_install_pinned install-fake-gcs fake-gcs-server fake-gcs-server \
  github.com/fsouza/fake-gcs-server v1.56.1 \
  -trimpath -ldflags="-s -w"
