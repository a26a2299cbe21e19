#!/usr/bin/env bash
# Builds Argo Rollouts' kubectl plugin (kubectl-argo-rollouts), with `controller`
# its controller (rollouts-controller, for test/e2e's migration test) and, with
# `e2e`, its e2e test binary (argo-e2e.test), at a pinned version fetched through
# the Go module proxy, into a cache folder outside the repository:
#   $ALBROLLOUTS_CACHE/argo-rollouts-<version>/src   Argo's source (a writable copy)
#   $ALBROLLOUTS_CACHE/argo-rollouts-<version>/bin   the binaries
# A binary that is already there is not rebuilt.
#
# Usage: hack/argo-rollouts-build.sh [plugin|controller|e2e|all]...   (default: all)
# Prints the bin folder on stdout as its last line.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# The pinned version is in hack/argo-rollouts-version (test/e2e reads it too).
ARGO_ROLLOUTS_VERSION="${ARGO_ROLLOUTS_VERSION:-$(cat "$here/argo-rollouts-version")}"
targets=("${@:-all}")
for what in "${targets[@]}"; do
  case "$what" in plugin|controller|e2e|all) ;; *) echo "usage: $0 [plugin|controller|e2e|all]..." >&2; exit 2 ;; esac
done
wanted() { # target: asked for by name or by `all`
  local t
  for t in "${targets[@]}"; do [[ "$t" == "$1" || "$t" == all ]] && return 0; done
  return 1
}

cache="${ALBROLLOUTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/albrollouts}"
root="$cache/argo-rollouts-${ARGO_ROLLOUTS_VERSION}"
src="$root/src" bin="$root/bin"
mkdir -p "$bin"

fetch_source() {
  [[ -f "$src/go.mod" ]] && return
  echo "argo-rollouts: fetching github.com/argoproj/argo-rollouts@${ARGO_ROLLOUTS_VERSION} through the module proxy" >&2
  local dir
  dir="$(cd "$cache" && GOFLAGS=-mod=mod go mod download -json "github.com/argoproj/argo-rollouts@${ARGO_ROLLOUTS_VERSION}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  if [[ -z "$dir" || ! -f "$dir/go.mod" ]]; then
    echo "argo-rollouts: go mod download gave no source directory" >&2
    exit 1
  fi
  rm -rf "$src.tmp"
  cp -r "$dir" "$src.tmp"
  chmod -R u+w "$src.tmp"
  # The dashboard (ui/) is built by yarn, not here; the server embeds
  # static/* and needs a file there to compile.
  mkdir -p "$src.tmp/server/static"
  [[ -e "$src.tmp/server/static/index.html" ]] ||
    echo '<html><body>dashboard not built (albrollouts conformance build)</body></html>' >"$src.tmp/server/static/index.html"
  mv "$src.tmp" "$src"
}

build() { # name package go-command...
  local name="$1" pkg="$2"; shift 2
  if [[ -x "$bin/$name" ]]; then
    echo "argo-rollouts: $name present in $bin" >&2
    return
  fi
  fetch_source
  echo "argo-rollouts: building $name ${ARGO_ROLLOUTS_VERSION} (first time only; a few minutes)" >&2
  local start=$SECONDS
  (cd "$src" && GOFLAGS="-mod=mod -buildvcs=false" nice "$@" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
  echo "argo-rollouts: built $name in $((SECONDS - start))s" >&2
}

if wanted plugin; then
  build kubectl-argo-rollouts ./cmd/kubectl-argo-rollouts go build -trimpath \
    -ldflags "-X github.com/argoproj/argo-rollouts/utils/version.version=${ARGO_ROLLOUTS_VERSION#v}"
fi
if wanted controller; then
  build rollouts-controller ./cmd/rollouts-controller go build -trimpath \
    -ldflags "-X github.com/argoproj/argo-rollouts/utils/version.version=${ARGO_ROLLOUTS_VERSION#v}"
fi
if wanted e2e; then
  # Argo's e2e tests carry the `e2e` build tag.
  build argo-e2e.test ./test/e2e go test -c -tags e2e
fi
echo "$bin"
