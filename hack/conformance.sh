#!/usr/bin/env bash
# Argo conformance: runs Argo Rollouts' own e2e suites (AWS/ALB, canary,
# blue-green, functional, analysis) against albrollouts in the local environment and
# compares the outcome with hack/conformance/expectations.txt.
#
#  1. builds Argo's e2e test binary and kubectl plugin at a pinned version
#     (hack/argo-rollouts-build.sh; cached, built once);
#  2. starts the local environment (`albrollouts local up`: control plane,
#     elbsim, node agent, local ALB controller) and the controller
#     (`albrollouts controller --instance-id argo-rollouts-e2e
#     --aws-verify-target-group`, metrics on Argo's port 8090);
#  3. runs each suite in its own namespace (CONFORMANCE_PARALLEL at a time);
#  4. fails on any failure not in the expectations file and on any listed
#     test that passes now (so the list only shrinks).
#
# Knobs (environment):
#   CONFORMANCE_SUITES      suites to run (default: the five below)
#   CONFORMANCE_RUN         only tests whose Suite/Test name matches this regexp
#                           (for iterating; the expectations of tests not run are
#                           not checked)
#   CONFORMANCE_PARALLEL    suites run at once (default 4)
#   CONFORMANCE_TIME_SCALE  local environment time scale (default 1: Argo's tests
#                           set deadlines and sleep in real time, so pods must be
#                           probed and hooked in real time too; see
#                           docs/argo-conformance.md)
#   CONFORMANCE_RUN_SKIPPED=1  also run the tests listed as skip (expected to fail)
#   CONFORMANCE_WAIT        Argo's E2E_WAIT_TIMEOUT in seconds (default 90)
#   CONFORMANCE_DIR         work directory for logs (default: a new /tmp dir)
#   CONFORMANCE_METRICS     the controller's metrics address (default Argo's 127.0.0.1:8090;
#                           another lets two runs share a machine)
#   ARGO_ROLLOUTS_VERSION   Argo Rollouts version (default: see argo-rollouts-build.sh)
set -euo pipefail

start_time=$SECONDS
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
expectations="${CONFORMANCE_EXPECTATIONS:-$here/conformance/expectations.txt}"
suites=(${CONFORMANCE_SUITES:-TestFunctionalSuite TestCanarySuite TestAWSSuite TestBlueGreenSuite TestAnalysisSuite})
run_filter="${CONFORMANCE_RUN:-}"
parallel="${CONFORMANCE_PARALLEL:-4}"
time_scale="${CONFORMANCE_TIME_SCALE:-1}"
wait_timeout="${CONFORMANCE_WAIT:-90}"
metrics_addr="${CONFORMANCE_METRICS:-127.0.0.1:8090}"
instance_id="argo-rollouts-e2e"
albrollouts="${ALBROLLOUTS_BIN:-$repo/bin/albrollouts}"

log() { echo "conformance: $*" >&2; }

command -v kubectl >/dev/null || { log "kubectl is not on PATH (Argo's fixtures run kubectl apply)"; exit 1; }
[[ -x "$albrollouts" ]] || { log "$albrollouts is missing (make build)"; exit 1; }
[[ -f "$expectations" ]] || { log "no expectations file $expectations"; exit 1; }

argo_bin="$("$here/argo-rollouts-build.sh" all | tail -n1)"
argo_src="$(dirname "$argo_bin")/src"
e2e_test="$argo_bin/argo-e2e.test"

work="${CONFORMANCE_DIR:-$(mktemp -d /tmp/albrollouts-conformance-XXXXXX)}"
mkdir -p "$work"
log "logs in $work"

# --- expectations -----------------------------------------------------------
# Lines: <Suite/Test> <expect> <category> <reason...>; expect is fail (runs,
# must not pass) or skip (not run: needs what this environment lacks).
declare -A exp_expect exp_category exp_reason
while read -r name expect category reason; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  case "$expect" in fail|skip) ;; *) log "$expectations: $name: expect must be fail or skip, not '$expect'"; exit 1 ;; esac
  case "$category" in not-implemented|by-design|local-environment|analysis) ;;
    *) log "$expectations: $name: unknown category '$category'"; exit 1 ;; esac
  [[ -n "${exp_expect[$name]:-}" ]] && { log "$expectations: $name is listed twice"; exit 1; }
  # CONFORMANCE_RUN_SKIPPED=1: run the skip entries too, as expected failures.
  [[ "$expect" == skip && -n "${CONFORMANCE_RUN_SKIPPED:-}" ]] && expect=fail
  exp_expect[$name]="$expect" exp_category[$name]="$category" exp_reason[$name]="$reason"
done <"$expectations"

# --- environment ------------------------------------------------------------
pids=()
cleanup() {
  local rc=$?
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    for _ in $(seq 90); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 1; done
    kill -KILL "${pids[i]}" 2>/dev/null || true
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting the local environment (time scale $time_scale)"
env_start=$SECONDS
nice "$albrollouts" local up --dir "$work/env" --elbsim-listen 127.0.0.1:0 --time-scale "$time_scale" \
  --pod-cidr 127.3.0.0/16 >"$work/local-up.log" 2>&1 &
pids+=($!)
for ((i = 0; ; i++)); do
  grep -q 'local environment is up' "$work/local-up.log" 2>/dev/null && break
  if ! kill -0 "${pids[0]}" 2>/dev/null || ((i > 300)); then
    log "the local environment did not start:"; tail -n 30 "$work/local-up.log" >&2; exit 1
  fi
  sleep 1
done
kubeconfig="$work/env/kubeconfig"
endpoint="$(sed -n 's/.*ELBv2 API (elbsim): *\(http[^ ]*\).*/\1/p' "$work/local-up.log" | head -n1)"
[[ -f "$kubeconfig" && -n "$endpoint" ]] || { log "no kubeconfig or elbsim endpoint in $work/local-up.log"; exit 1; }
log "local environment up in $((SECONDS - env_start))s; elbsim at $endpoint"

AWS_ACCESS_KEY_ID=AKIALOCALALBROLLOUTS AWS_SECRET_ACCESS_KEY=local-albrollouts-secret AWS_REGION=us-east-1 \
  nice "$albrollouts" controller --kubeconfig "$kubeconfig" --instance-id "$instance_id" \
  --aws-verify-target-group --aws-region us-east-1 --aws-endpoint-url "$endpoint" \
  --metrics-bind-address "$metrics_addr" --health-probe-bind-address 0 >"$work/controller.log" 2>&1 &
pids+=($!)
sleep 2
kill -0 "${pids[1]}" 2>/dev/null || { log "the controller exited:"; tail -n 30 "$work/controller.log" >&2; exit 1; }
log "controller started (--instance-id $instance_id --aws-verify-target-group)"

# --- run the suites ---------------------------------------------------------
run_suite() { # suite
  local suite="$1" ns skip="" name
  ns="argo-e2e-$(tr '[:upper:]' '[:lower:]' <<<"${suite#Test}")"
  ns="${ns%suite}"
  KUBECONFIG="$kubeconfig" kubectl create namespace "$ns" >/dev/null
  cp "$kubeconfig" "$work/kubeconfig-$ns"
  KUBECONFIG="$work/kubeconfig-$ns" kubectl config set-context --current --namespace "$ns" >/dev/null
  for name in "${!exp_expect[@]}"; do
    [[ "${exp_expect[$name]}" == skip && "$name" == "$suite/"* && -z "${CONFORMANCE_RUN_SKIPPED:-}" ]] && skip+="${skip:+|}^${suite}\$/^${name#*/}\$"
  done
  local args=(-test.v -test.timeout 90m -test.run "^${suite}\$")
  [[ -n "$skip" ]] && args+=(-test.skip "$skip")
  log "running $suite in namespace $ns"
  local t0=$SECONDS rc=0
  (cd "$argo_src/test/e2e" &&
    KUBECONFIG="$work/kubeconfig-$ns" E2E_INSTANCE_ID="$instance_id" E2E_WAIT_TIMEOUT="$wait_timeout" \
      E2E_ALB_INGESS_ANNOTATIONS='{"alb.ingress.kubernetes.io/scheme":"internal"}' \
      nice "$e2e_test" "${args[@]}" ${run_filter:+-testify.m "$run_filter"} >"$work/$suite.log" 2>&1) || rc=$?
  log "$suite finished in $((SECONDS - t0))s (exit $rc)"
}

suite_pids=()
for suite in "${suites[@]}"; do
  # At most $parallel suites at once (the environment's processes are
  # children too, so wait for suite runners by pid).
  while (($(jobs -pr | grep -cxFf <(printf '%s\n' "${suite_pids[@]:-}")) >= parallel)); do sleep 2; done
  run_suite "$suite" &
  suite_pids+=($!)
done
for pid in "${suite_pids[@]}"; do wait "$pid" || true; done

# --- compare ----------------------------------------------------------------
declare -A result
for suite in "${suites[@]}"; do
  while read -r status name; do
    result[$name]="$status"
  done < <(sed -n 's/^[[:space:]]*--- \(PASS\|FAIL\|SKIP\): \([^ /]*\/[^ /]*\) .*/\1 \2/p' "$work/$suite.log")
  if grep -q '^panic: test timed out\|^panic: ' "$work/$suite.log"; then
    log "$suite panicked (see $work/$suite.log); tests after it have no result"
  fi
done

pass=0 expected_fail=0 unexpected_fail=0 skipped=0 problems=()
in_run() { [[ -z "$run_filter" ]] || [[ "${1#*/}" =~ $run_filter ]]; }
for name in $(printf '%s\n' "${!result[@]}" | sort); do
  status="${result[$name]}" expect="${exp_expect[$name]:-}"
  case "$status:$expect" in
    PASS:) pass=$((pass + 1)) ;;
    PASS:fail) pass=$((pass + 1)); problems+=("now passes (remove it from the expectations): $name") ;;
    FAIL:fail) expected_fail=$((expected_fail + 1)) ;;
    FAIL:) unexpected_fail=$((unexpected_fail + 1)); problems+=("unexpected failure: $name") ;;
    SKIP:*) problems+=("skipped itself (list it with 'skip' and a reason): $name") ;;
    *) problems+=("$status $name: listed as $expect") ;;
  esac
done
for name in $(printf '%s\n' "${!exp_expect[@]}" | sort); do
  suite="${name%%/*}"
  [[ " ${suites[*]} " == *" $suite "* ]] && in_run "$name" || continue
  if [[ "${exp_expect[$name]}" == skip ]]; then
    skipped=$((skipped + 1))
  elif [[ -z "${result[$name]:-}" ]]; then
    problems+=("listed but got no result (renamed, or the suite crashed?): $name")
  fi
done

total=$((pass + expected_fail + unexpected_fail + skipped))
{
  echo
  echo "Argo Rollouts $(basename "$(dirname "$argo_bin")" | sed 's/^argo-rollouts-//') e2e suites (${suites[*]}) against albrollouts"
  printf '  %-19s %s\n' "passed" "$pass"
  printf '  %-19s %s\n' "expected failures" "$expected_fail"
  printf '  %-19s %s\n' "unexpected failures" "$unexpected_fail"
  printf '  %-19s %s\n' "skipped (listed)" "$skipped"
  printf '  %-19s %s\n' "total" "$total"
  for cat in not-implemented by-design local-environment analysis; do
    n=0
    for name in "${!exp_expect[@]}"; do
      [[ "${exp_category[$name]}" == "$cat" && " ${suites[*]} " == *" ${name%%/*} "* ]] && in_run "$name" && n=$((n + 1))
    done
    printf '    listed %-18s %s\n' "$cat" "$n"
  done
  echo "  took $((SECONDS - start_time))s; logs in $work"
} | tee "$work/summary.txt"
if ((${#problems[@]})); then
  printf 'conformance: %s\n' "${problems[@]}" | tee -a "$work/summary.txt" >&2
  echo "conformance: FAILED: ${#problems[@]} difference(s) from $expectations" >&2
  exit 1
fi
echo "conformance: OK: $pass of $total pass ($((pass + expected_fail + unexpected_fail)) run) in $((SECONDS - start_time))s; every other test is listed in $expectations"
