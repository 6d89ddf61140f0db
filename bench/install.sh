#!/usr/bin/env bash
# Installs what `npm run bench` needs beyond the test harness's tools (test/tools/install-system.sh
# provides docker-registry, Distribution 2.8): wrk, the HTTP load generator for the manifest GET benchmark,
# curl, the timed client of the pull benchmark, and CNCF Distribution v3.1 (the second reference), built
# from the Go module proxy into .cache/bin/distribution-v3.
# Idempotent: apt-get runs only when a package is missing; the Go build only when distribution-v3 is
# missing or does not report the pinned version.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=test/tools/go-install.sh
source "$repo_root/test/tools/go-install.sh"

# The newest v3 release the module proxy serves (2026-12-03). It prints
# "... github.com/distribution/distribution/v3 v3.1.2+unknown" (no ldflags version stamp: built with go install).
distribution_v3_version=v3.1.2
distribution_v3="$repo_root/.cache/bin/distribution-v3"
if [[ -x "$distribution_v3" ]] && "$distribution_v3" --version 2>/dev/null | grep -q " ${distribution_v3_version}\b"; then
  echo "bench/install: distribution-v3 $distribution_v3_version present"
else
  go_install_pinned bench/install distribution-v3 registry \
    github.com/distribution/distribution/v3/cmd/registry "$distribution_v3_version" -trimpath
fi

apt_packages=(wrk curl)

missing=()
for pkg in "${apt_packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "bench/install: Debian packages present: ${apt_packages[*]}"
  exit 0
fi

sudo=()
if [[ "$(id -u)" != 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "bench/install: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "bench/install: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q "${missing[@]}"
