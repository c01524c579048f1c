#!/usr/bin/env bash
# bench/load/run.sh — "no data lost under load" (issue 10): 200 users × 20 turns at once against the published service
# and the in-process fake upstream, mixing streamed and non-streaming turns with random client aborts; then every stored
# row is checked against what the clients saw. Exits non-zero on any violation. Loopback only.
#
# Usage:
#   bench/load/run.sh [--out load.md] [--json load.json]       (≈ 1–2 minutes on 2 cores)
#   LOAD_CLIENTS=20 LOAD_TURNS=5 bench/load/run.sh             a smaller run
# Environment:
#   ConnectionStrings__Postgres  an admin-capable connection string; unset: ../../run.sh --setup-only provides one
#   BENCH_PUBLISHED=DIR          the service already published in DIR (bench/run.sh passes its own); else published here
#   LOAD_BENCH_DLL=FILE          LoadBench already built (bench/run.sh builds it with the other benches); else built here
#   BENCH_GIT                    what the build under test is, for the report (bench/run.sh passes its own); else HEAD's commit
#   LOAD_CLIENTS, LOAD_TURNS, LOAD_ABORT_PERCENT, LOAD_SEED   the scenario (defaults 200, 20, 10, 10)
#   LOAD_TIMEOUT                 hard limit of the whole script in seconds (default 170)
# The service's database `chatslices_load` is dropped and created anew; everything started is stopped at the end.
set -euo pipefail

LOAD_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "${LOAD_DIR}/../.." && pwd -P)"
LOAD_TIMEOUT="${LOAD_TIMEOUT:-170}"
START_EPOCH="$(date +%s)"

log() { printf '[bench/load] %s\n' "$*" >&2; }
die() { printf '[bench/load] ERROR: %s\n' "$*" >&2; exit 1; }
bounded() {  # bounded SECONDS CMD...: at most SECONDS, and never past LOAD_TIMEOUT
  local limit="$1" left; shift
  left=$(( LOAD_TIMEOUT - ($(date +%s) - START_EPOCH) ))
  (( left > 5 )) || die "out of time (LOAD_TIMEOUT=${LOAD_TIMEOUT} s)"
  (( limit < left )) || limit="$left"
  timeout --kill-after=10 "$limit" "$@"
}

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
TMP="$(mktemp -d "${TMPDIR:-/tmp}/chatslices-load.XXXXXX")"
# shellcheck disable=SC2317  # run by the EXIT trap
LOAD_PID=""
cleanup() {
  local rc=$? pid name
  trap - EXIT INT TERM
  if [[ -n "$LOAD_PID" ]] && kill -0 "$LOAD_PID" 2>/dev/null; then  # LoadBench stops its service itself when asked
    kill -TERM "$LOAD_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$LOAD_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  # The service LoadBench started, if LoadBench itself was killed before it could stop it.
  while read -r pid name; do
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q ChatSlices.dll; then
      log "stopping ${name} (pid ${pid})"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"${TMP}/pids"
  if (( rc == 0 )); then rm -rf "$TMP"; else log "kept ${TMP} (the service's log: chatslices-load.log)"; fi
  exit "$rc"
}
: >"${TMP}/pids"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z "${ConnectionStrings__Postgres:-}" ]]; then
  setup_exports="$(bounded 300 bash "${ROOT}/run.sh" --setup-only)" || die "run.sh --setup-only failed"
  eval "$setup_exports"
fi
[[ -n "${ConnectionStrings__Postgres:-}" ]] || die "no ConnectionStrings__Postgres"

APP="${BENCH_PUBLISHED:-${TMP}/publish}/ChatSlices.dll"
if [[ -z "${BENCH_PUBLISHED:-}" ]]; then
  log "publishing the service (Release) into ${TMP}/publish"
  bounded 240 dotnet publish "${ROOT}/ChatSlices.csproj" -c Release -o "${TMP}/publish" --artifacts-path "${TMP}/artifacts" --nologo -v q >&2 ||
    die "dotnet publish failed"
fi
[[ -f "$APP" ]] || die "no ${APP}"
LOAD_DLL="${LOAD_BENCH_DLL:-${TMP}/artifacts/bin/LoadBench/release/LoadBench.dll}"
if [[ -z "${LOAD_BENCH_DLL:-}" ]]; then
  log "building bench/load/LoadBench (Release)"
  bounded 180 dotnet build "${LOAD_DIR}/LoadBench/LoadBench.csproj" -c Release --artifacts-path "${TMP}/artifacts" --nologo -v q >&2 ||
    die "building LoadBench failed"
fi
[[ -f "$LOAD_DLL" ]] || die "no ${LOAD_DLL}"

GIT_INFO="${BENCH_GIT:-commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
log "running: ${LOAD_CLIENTS:-200} clients × ${LOAD_TURNS:-20} turns"
left=$(( LOAD_TIMEOUT - ($(date +%s) - START_EPOCH) ))
(( left > 5 )) || die "out of time (LOAD_TIMEOUT=${LOAD_TIMEOUT} s)"
timeout --kill-after=10 "$left" dotnet "$LOAD_DLL" --app "$APP" --workdir "$TMP" --pidfile "${TMP}/pids" --git "$GIT_INFO" \
  --clients "${LOAD_CLIENTS:-200}" --turns "${LOAD_TURNS:-20}" --abort-percent "${LOAD_ABORT_PERCENT:-10}" --seed "${LOAD_SEED:-10}" "$@" &
LOAD_PID=$!  # timeout's pid, in the background: a TERM from bench/run.sh runs the trap at once, which passes it on
wait "$LOAD_PID"
log "done in $(( $(date +%s) - START_EPOCH )) s"
