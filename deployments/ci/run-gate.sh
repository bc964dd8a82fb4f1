#!/usr/bin/env bash
# The gate step of the smoke action (deployments/ci/action.yml), kept in a file so the
# tests run exactly what the action runs.
#
# Runs `smoke gate` with the action's inputs (SMOKE_INPUT_* variables). In GitHub
# Actions `smoke gate` writes the job summary, the annotations and the step outputs
# itself; when it ended before it had a result (a configuration error found before the
# run, a crash), `python -m smoke.github` writes them from its exit code and last
# message. Always exits 0: the action fails the job in its last step, after the report
# folder is uploaded.
set -uo pipefail

: "${SMOKE_INPUT_ENVIRONMENT:?the environment input is required}"
: "${SMOKE_BIN:?SMOKE_BIN must name the smoke command}"
: "${SMOKE_PYTHON:?SMOKE_PYTHON must name the Python of the smoke environment}"
report_dir="${SMOKE_INPUT_REPORT_DIR:-smoke-report}"
# A runner is a new machine: without PREFECT_API_URL, Prefect's temporary server first
# migrates a new database, which can outlast its default 20 s start-up wait.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="${PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS:-180}"

args=(gate --env "$SMOKE_INPUT_ENVIRONMENT" --report-dir "$report_dir")
[[ -n "${SMOKE_INPUT_VERSION:-}" ]] && args+=(--version "$SMOKE_INPUT_VERSION")
[[ -n "${SMOKE_INPUT_JOURNEYS:-}" ]] && args+=(--journeys "$SMOKE_INPUT_JOURNEYS")
[[ -n "${SMOKE_INPUT_DEADLINE:-}" ]] && args+=(--deadline "$SMOKE_INPUT_DEADLINE")
[[ -n "${SMOKE_INPUT_MODE:-}" ]] && args+=(--mode "$SMOKE_INPUT_MODE")
[[ "${SMOKE_INPUT_FAIL_ON_FLAKY:-false}" == "true" ]] && args+=(--fail-on-flaky)
[[ "${SMOKE_INPUT_VIA_DEPLOYMENT:-false}" == "true" ]] && args+=(--via-deployment)
read -r -a extra <<<"${SMOKE_INPUT_EXTRA_ARGS:-}"

stderr_file="$(mktemp)"
trap 'rm -f "$stderr_file"' EXIT
"$SMOKE_BIN" "${args[@]}" "${extra[@]}" 2>"$stderr_file"
code=$?
cat "$stderr_file" >&2

if [[ -n "${GITHUB_OUTPUT:-}" ]] && ! grep -q '^exit-code=' "$GITHUB_OUTPUT" 2>/dev/null; then
  "$SMOKE_PYTHON" -m smoke.github --exit-code "$code" --environment "$SMOKE_INPUT_ENVIRONMENT" \
    --version "${SMOKE_INPUT_VERSION:-}" --report-dir "$report_dir" --stderr-file "$stderr_file"
fi
echo "smoke gate exited $code"
exit 0
