#!/usr/bin/env bash
# Installs the parts of the single-node test cluster (test/harness/cluster.ts, `npm run cluster`) that
# install-control-plane.sh does not build (it builds kubelet, kube-controller-manager, kube-scheduler,
# kube-proxy and copies pause.c):
#   - CoreDNS, from the Go module proxy (github.com/coredns/coredns), the cluster's DNS
#   - Traefik v3, from the Go module proxy, the Ingress controller (IngressClass traefik)
#   - pause, the pod sandbox's process: Kubernetes' pause.c compiled static (it becomes a FROM scratch image)
# into .cache/bin. containerd, runc and the CNI plugins are Debian packages (install-system.sh).
# Idempotent: a binary whose version stamp matches the pin is not rebuilt.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"
bin_dir="$repo_root/.cache/bin"
mkdir -p "$bin_dir"

log() { echo "install-cluster: $*"; }
die() {
  echo "install-cluster: $*" >&2
  exit 1
}
stamp_ok() { # binary, version
  [[ -x "$1" && -f "$1.version" && "$(cat "$1.version")" == "$2" ]]
}

# --- pins ---------------------------------------------------------------------------------------------
# CoreDNS v1.14.7 and Traefik v3.6.12 build with this machine's Go (both declare go 1.25).
coredns_version="v1.14.7"
traefik_version="v3.6.12"

# shellcheck source=test/tools/go-install.sh
source "$repo_root/test/tools/go-install.sh"
go_install_pinned install-cluster coredns coredns github.com/coredns/coredns "$coredns_version" \
  -trimpath "-ldflags=-s -w"

# --- Traefik --------------------------------------------------------------------------------------------
# Traefik's go.mod has replace directives (forks of gorilla/mux, go-http-auth, minheap) and an exclude that
# `go install module@version` ignores, so it is built from a build module that repeats them. Its link step
# peaks at ~3 GB of memory.
build_traefik() {
  local out="$bin_dir/traefik"
  if stamp_ok "$out" "$traefik_version"; then
    log "traefik $traefik_version present"
    return
  fi
  command -v go >/dev/null || die "the Go toolchain is required to build traefik"
  log "building traefik $traefik_version (~8 min on 2 cores)"
  local dir
  dir="$(mktemp -d "$bin_dir/.traefik-build.XXXXXX")"
  trap 'rm -rf "$dir"' RETURN
  local go_env=(GOFLAGS="-modcacherw -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0)
  local info mod_file
  info="$(cd "$dir" && env "${go_env[@]}" go mod download -json "github.com/traefik/traefik/v3@$traefik_version")" ||
    die "cannot download github.com/traefik/traefik/v3@$traefik_version"
  mod_file="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  [[ -f "$mod_file" ]] || die "no go.mod for traefik in: $info"
  {
    printf 'module berth.test/traefik-build\n\ngo 1.25.0\n\nrequire github.com/traefik/traefik/v3 %s\n\n' \
      "$traefik_version"
    # the replace block and exclude lines, as Traefik's own go.mod has them
    sed -n '/^replace (/,/^)/p; /^replace [^(]/p; /^exclude /p' "$mod_file"
  } >"$dir/go.mod"
  local start=$SECONDS
  (
    cd "$dir"
    env "${go_env[@]}" nice -n 10 go build -mod=mod -p "${BERTH_GO_BUILD_P:-2}" -trimpath \
      -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$traefik_version" \
      -o "$dir/traefik" github.com/traefik/traefik/v3/cmd/traefik
  )
  log "go build traefik: $((SECONDS - start)) s"
  mv -f "$dir/traefik" "$out"
  echo "$traefik_version" >"$out.version"
}
build_traefik

# --- pause --------------------------------------------------------------------------------------------
# Every pod's sandbox runs it; the harness wraps it in a FROM scratch image, so it must be static.
build_pause() {
  local src="$bin_dir/pause.c" out="$bin_dir/pause"
  [[ -f "$src" ]] || die "$src is missing: run test/tools/install-control-plane.sh first"
  local want
  want="$(cat "$src.version")"
  if stamp_ok "$out" "$want"; then
    log "pause $want present"
    return
  fi
  command -v gcc >/dev/null || die "gcc (Debian packages gcc, libc6-dev) is required to build pause"
  gcc -Os -Wall -Werror -static -DVERSION="$want" -o "$out.tmp" "$src"
  strip "$out.tmp"
  mv -f "$out.tmp" "$out"
  echo "$want" >"$out.version"
  log "built pause $want (static)"
}
build_pause

log "done"
