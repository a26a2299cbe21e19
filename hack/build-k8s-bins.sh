#!/usr/bin/env bash
# Builds the control-plane binaries used by tests and the local environment
# (etcd, kube-apiserver, kube-controller-manager) from the Go module proxy into a
# cache folder outside the repository. Skips any binary that is already there.
#
# Prints the folder on stdout as its last line.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
K8S_VERSION="v1.37.2"
ETCD_VERSION="v3.6.16"
cache="${ALBROLLOUTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/albrollouts}"
out="${K8S_BINS:-$cache/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}}"
mkdir -p "$out"

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
ldk8s=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldk8s+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
done

build() { # name module-dir package ldflags
  local name="$1" dir="$2" pkg="$3" ld="$4"
  if [[ -x "$out/$name" ]]; then
    echo "k8s-bins: $name present in $out" >&2
    return
  fi
  echo "k8s-bins: building $name (first time only; takes a few minutes)" >&2
  local start=$SECONDS
  (cd "$here/$dir" && go build -trimpath -ldflags "-s -w $ld" -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "k8s-bins: built $name in $((SECONDS - start))s" >&2
}

build etcd etcd go.etcd.io/etcd/server/v3 ""
build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver "$ldk8s"
build kube-controller-manager k8s k8s.io/kubernetes/cmd/kube-controller-manager "$ldk8s"
echo "$out"
