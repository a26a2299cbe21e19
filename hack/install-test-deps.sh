#!/usr/bin/env bash
# Installs the system packages the test suite uses: Debian's AWS CLI (elbsim is
# checked against it as an independent client), iproute2 (the end-to-end
# suite's second pass runs in a private network namespace) and Prometheus (the
# local environment's --with-prometheus and its tests run Debian's server; the
# package's service is not needed and, where policy-rc.d forbids it, not
# started), then builds Argo Rollouts' kubectl plugin and controller into the
# cache (hack/argo-rollouts-build.sh plugin controller).
# kubectl is optional. Idempotent; runs apt-get and the build only when
# something is missing.
set -euo pipefail

need=()
dpkg -s awscli >/dev/null 2>&1 || need+=(awscli)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
dpkg -s prometheus >/dev/null 2>&1 || need+=(prometheus)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-test-deps: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "install-test-deps: apt-get install ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Argo Rollouts' kubectl plugin, for test/e2e's plugin scenarios, and its
# controller, for the migration test (test/e2e/migration_test.go): built once
# from the Go module proxy at the pinned version and cached outside the
# repository (build times: docs/argo-conformance.md).
"$(dirname "$0")/argo-rollouts-build.sh" plugin controller >/dev/null
