#!/usr/bin/env bash
# Installs the system packages the test suite uses: Debian's AWS CLI (elbsim is
# checked against it as an independent client) and iproute2 (the end-to-end
# suite's second pass runs in a private network namespace). kubectl is optional.
# Idempotent; runs apt-get only when something is missing.
set -euo pipefail

need=()
dpkg -s awscli >/dev/null 2>&1 || need+=(awscli)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
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
