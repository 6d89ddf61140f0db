#!/usr/bin/env bash
# Installs what `npm run bench` needs beyond the test harness's tools (test/tools/install-system.sh
# provides docker-registry): wrk, the HTTP load generator for the manifest GET benchmark, and curl, the
# timed client of the pull benchmark.
# Idempotent: apt-get runs only when a package is missing.
set -euo pipefail

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
