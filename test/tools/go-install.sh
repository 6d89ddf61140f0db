#!/usr/bin/env bash
# Sourced by the install scripts: builds one Go tool at a pinned module version into .cache/bin, unless the
# binary for that version is already there (a `<tool>.version` stamp beside it).
#
#   go_install_pinned LABEL TOOL BUILT_NAME MODULE VERSION [go install flags...]
#
# TOOL is the name in .cache/bin, BUILT_NAME the name `go install` gives the binary. Go's default module and
# build caches (outside the clone) are shared by every checkout on the machine, so a fresh CI clone rebuilds
# from warm caches; -modcacherw keeps the module cache deletable with rm -rf. Builds run under `nice`: the
# test machines are small and shared.

go_install_pinned() {
  local label="$1" tool="$2" built="$3" module="$4" version="$5"
  shift 5
  local bin_dir="$repo_root/.cache/bin"
  local out="$bin_dir/$tool"
  local stamp="$bin_dir/$tool.version"

  if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
    echo "$label: $tool $version present"
    return 0
  fi
  if ! command -v go >/dev/null; then
    echo "$label: the Go toolchain (go) is required to build $tool" >&2
    return 1
  fi

  echo "$label: building $tool $version"
  mkdir -p "$bin_dir"
  local gobin
  gobin="$(mktemp -d "$bin_dir/.gobin.XXXXXX")"
  if ! GOBIN="$gobin" \
    GOFLAGS="-modcacherw -buildvcs=false" \
    GOTOOLCHAIN=local \
    CGO_ENABLED=0 \
    nice -n 10 go install "$@" "$module@$version"; then
    rm -rf "$gobin"
    return 1
  fi
  mv -f "$gobin/$built" "$out"
  echo "$version" >"$stamp"
  rm -rf "$gobin"
}
