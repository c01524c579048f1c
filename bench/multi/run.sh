#!/usr/bin/env bash
# bench/multi/run.sh — many instances (issue 17): two instances sharing Redis behind nginx against one without Redis
# (turns/s), Redis commands per turn, and the first event of a resumed stream through the instance that runs it and
# through the other one. Loopback only; ≈ 2 minutes on 2 cores. Prints a Markdown section (and writes it to --out FILE).
#
# Usage:
#   bench/multi/run.sh [--out multi.md] [--runs 3] [--seconds 5] [--clients 64] [--resumes 20]
# Environment:
#   ConnectionStrings__Postgres  an admin-capable connection string; unset: ../../run.sh --setup-only provides one
#   BENCH_PUBLISHED=DIR          the service already published in DIR; else published here
set -euo pipefail

MULTI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "${MULTI_DIR}/../.." && pwd -P)"
log() { printf '[bench/multi] %s\n' "$*" >&2; }
die() { printf '[bench/multi] ERROR: %s\n' "$*" >&2; exit 1; }

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
TMP="$(mktemp -d "${TMPDIR:-/tmp}/chatslices-multi.XXXXXX")"
trap 'rc=$?; pkill -f "$TMP" 2>/dev/null || true; (( rc == 0 )) && rm -rf "$TMP" || log "kept ${TMP}"; exit $rc' EXIT

if [[ -z "${ConnectionStrings__Postgres:-}" ]]; then
  setup_exports="$(bash "${ROOT}/run.sh" --setup-only)" || die "run.sh --setup-only failed"
  eval "$setup_exports"
fi
[[ -x /usr/sbin/nginx ]] || die "nginx is missing: ./test.sh installs it (apt-get install nginx)"
command -v redis-server >/dev/null || die "redis-server is missing: ./run.sh installs it"

APP="${BENCH_PUBLISHED:-${TMP}/publish}/ChatSlices.dll"
if [[ -z "${BENCH_PUBLISHED:-}" ]]; then
  log "publishing the service (Release)"
  dotnet publish "${ROOT}/ChatSlices.csproj" -c Release -o "${TMP}/publish" --artifacts-path "${TMP}/artifacts" --nologo -v q >&2 || die "dotnet publish failed"
fi
log "building bench/multi/MultiBench (Release)"
dotnet build "${MULTI_DIR}/MultiBench/MultiBench.csproj" -c Release --artifacts-path "${TMP}/artifacts" --nologo -v q >&2 || die "building MultiBench failed"
timeout --kill-after=10 600 dotnet "${TMP}/artifacts/bin/MultiBench/release/MultiBench.dll" --app "$APP" --workdir "$TMP" "$@"
