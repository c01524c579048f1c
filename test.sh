#!/usr/bin/env bash
# test.sh — run ChatSlices' test suite against the private PostgreSQL cluster.
#
# Usage:
#   ./test.sh                         all tests
#   ./test.sh --filter 'FullyQualifiedName~Chat'   extra args go to `dotnet test`
#
# 1. ./run.sh --setup-only: packages, pgvector, the running cluster; its
#    `export` lines are evaluated here (ConnectionStrings__Postgres).
# 2. Debian `chromium` for the headless-browser test (found at /usr/bin/chromium, or at
#    $CHROMIUM_PATH when that is set), `qpdf` (at /usr/bin/qpdf) for the encrypted-PDF
#    fixtures (Support/TestPdf.cs) and `nginx` (at /usr/sbin/nginx) for the gateway in front of
#    two instances (Support/Gateway.cs), and Node.js with npm (for the openai npm client's test), installed
#    together when missing; then the npm client itself (`npm ci` in tests/NodeClient, from its lock file).
# 3. dotnet test, with a TRX report at .local/test-results/results.trx (read by .ci/run), and a hang
#    guard: a test running over 5 minutes ends the run (--blame-hang-timeout).
# Exits with dotnet test's exit code.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
cd "$ROOT"

log() { printf '[test.sh] %s\n' "$*" >&2; }
die() { printf '[test.sh] ERROR: %s\n' "$*" >&2; exit 1; }

RESULTS_DIR="${ROOT}/.local/test-results"
TRX_NAME="results.trx"
TEST_PROJECT="${ROOT}/tests/ChatSlices.Tests/ChatSlices.Tests.csproj"

# --- 1. Setup. Assign first, then eval: a failing run.sh stops here (eval "$(...)" would hide it).
setup_exports="$(bash "${ROOT}/run.sh" --setup-only)" || die "run.sh --setup-only failed"
eval "$setup_exports"
[[ -n "${ConnectionStrings__Postgres:-}" ]] || die "run.sh gave no ConnectionStrings__Postgres"

# --- 2. Debian packages the tests need, only those missing, with one apt-get update:
#        chromium for the headless-browser test, qpdf for the encrypted PDF fixtures (Support/TestPdf.cs).
missing=()
[[ -n "${CHROMIUM_PATH:-}" || -x /usr/bin/chromium ]] || missing+=(chromium fonts-liberation)
[[ -x /usr/bin/qpdf ]] || missing+=(qpdf)
[[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if ((${#missing[@]})); then
  if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=""
  else
    command -v sudo >/dev/null 2>&1 || die "installing ${missing[*]} needs root: run as root or install sudo"
    SUDO="sudo"
  fi
  log "installing Debian ${missing[*]}"
  $SUDO apt-get update -qq >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  [[ -n "${CHROMIUM_PATH:-}" || -x /usr/bin/chromium ]] || die "chromium is missing after install"
  [[ -x /usr/bin/qpdf ]] || die "qpdf is missing after install"
  [[ -x /usr/sbin/nginx ]] || die "nginx is missing after install"
  command -v npm >/dev/null 2>&1 || die "npm is missing after install"
fi
NODE_CLIENT="${ROOT}/tests/NodeClient"
if [[ ! -f "${NODE_CLIENT}/node_modules/.package-lock.json" || "${NODE_CLIENT}/package-lock.json" -nt "${NODE_CLIENT}/node_modules/.package-lock.json" ]]; then
  log "installing the openai npm client (npm ci in tests/NodeClient)"
  npm ci --prefix "$NODE_CLIENT" --no-audit --no-fund >&2 || die "npm ci in tests/NodeClient failed"
fi

# --- 3. Tests.
export DOTNET_NOLOGO="${DOTNET_NOLOGO:-1}"
export DOTNET_CLI_TELEMETRY_OPTOUT="${DOTNET_CLI_TELEMETRY_OPTOUT:-1}"
mkdir -p "$RESULTS_DIR"
rm -f "${RESULTS_DIR}/${TRX_NAME}"   # never report an old run

log "dotnet test ${TEST_PROJECT#"$ROOT"/} $*"
rc=0
# Hang guard: a test still running after 5 minutes (a stream that never ends) stops the run with a mini dump
# in the results directory and the test's name, instead of holding CI until its own limit.
dotnet test "$TEST_PROJECT" -c Release \
  --logger "trx;LogFileName=${TRX_NAME}" \
  --results-directory "$RESULTS_DIR" \
  --blame-hang-timeout 5m --blame-hang-dump-type mini \
  "$@" || rc=$?
log "dotnet test exited with ${rc}"
exit "$rc"
