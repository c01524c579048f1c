#!/usr/bin/env bash
# bench/memory.sh — the service's memory across repeated concurrent-stream runs (bench/MEMORY.md): for each GC setting,
# bench/ChatSlices.Bench with --parts streams,throughput: five runs of 512 streams, one of 1024, then the non-streaming
# throughput; RSS before / peak / after each run, and after each run a probe of the GC's state. Loopback only, bounded.
#
# Usage:
#   bench/memory.sh                          the configurations below, one service start each
#   MEMORY_CONFIGS="published workstation" bench/memory.sh   some of them
#   BENCH_PUBLISHED=DIR bench/memory.sh      measure that publish instead of publishing the checkout
#   BENCH_DLL=PATH bench/memory.sh           use that build of ChatSlices.Bench instead of building it
#   MEMORY_RUNS=1 MEMORY_STREAMS=2048 MEMORY_PARTS=streams bench/memory.sh   one run of 2048, no throughput
#   MEMORY_PROBE='CMD' bench/memory.sh       the probe run after each run (env: BENCH_SERVICE_PID, BENCH_SERVICE_URL,
#                                            BENCH_RUN); default: a 2 s `dotnet-counters` snapshot of the GC (if installed)
#
# Each configuration is the publish as it is plus DOTNET_* variables for the service only (--service-env), so one publish
# serves them all; "published" is what the runtimeconfig says. Reports: bench/out/memory-<stamp>/<config>.md and .log.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "${BENCH_DIR}/.." && pwd -P)"
OUT="${BENCH_DIR}/out/memory-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
log() { printf '[bench/memory.sh] %s\n' "$*" >&2; }
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 PATH="${PATH}:${HOME}/.dotnet/tools"

declare -A CONFIGS=(
  [published]=""
  [server-static]="DOTNET_gcServer=1 DOTNET_GCDynamicAdaptationMode=0"
  [server-conserve]="DOTNET_gcServer=1 DOTNET_GCConserveMemory=5"
  [server-limit192]="DOTNET_gcServer=1 DOTNET_GCHeapHardLimit=0xC000000"
  [server-limit160]="DOTNET_gcServer=1 DOTNET_GCHeapHardLimit=0xA000000"
  [server-limit144]="DOTNET_gcServer=1 DOTNET_GCHeapHardLimit=0x9000000"
  [server-limit128]="DOTNET_gcServer=1 DOTNET_GCHeapHardLimit=0x8000000"
  [workstation]="DOTNET_gcServer=0 DOTNET_gcConcurrent=1"
  [workstation-nonconcurrent]="DOTNET_gcServer=0 DOTNET_gcConcurrent=0"
  [workstation-conserve]="DOTNET_gcServer=0 DOTNET_gcConcurrent=1 DOTNET_GCConserveMemory=5"
  [server-gen0-32]="DOTNET_gcServer=1 DOTNET_GCGen0MaxBudget=0x2000000"
  [server-gen0-16]="DOTNET_gcServer=1 DOTNET_GCGen0MaxBudget=0x1000000"
  [workstation-nonconcurrent-gen0-16]="DOTNET_gcServer=0 DOTNET_gcConcurrent=0 DOTNET_GCGen0MaxBudget=0x1000000"
)
ORDER="${MEMORY_CONFIGS:-published workstation-nonconcurrent server-gen0-16 server-limit160}"

eval "$(timeout 120 bash "${ROOT}/run.sh" --setup-only)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/chatslices-memory.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=bench/prepare.sh
source "${BENCH_DIR}/prepare.sh"
prepare_publish_and_bench "$WORK"

# A GC snapshot without forcing a collection: heap at the last GC, what it has committed, the process working set.
default_probe='command -v dotnet-counters >/dev/null || { grep VmRSS /proc/$BENCH_SERVICE_PID/status; exit 0; }
f=$(mktemp --suffix=.csv); dotnet-counters collect -p "$BENCH_SERVICE_PID" --counters System.Runtime --format csv \
  --refresh-interval 1 --duration 00:00:02 -o "$f" >/dev/null 2>&1
awk -F, '"'"'/working_set|committed_size|last_collection.heap.size/ { v[$3 " " $4] = $NF } END { for (k in v) printf "%s=%.1fMiB ", k, v[k] / 1048576; print "" }'"'"' "$f"; rm -f "$f"'
PROBE="${MEMORY_PROBE:-$default_probe}"

for name in $ORDER; do
  [[ -v "CONFIGS[$name]" ]] || { log "unknown configuration ${name}"; exit 2; }
  args=(--app "${PUBLISHED}/ChatSlices.dll" --workdir "$WORK" --parts "${MEMORY_PARTS:-streams,throughput}" --runs "${MEMORY_RUNS:-5}"
        --integrity-streams "${MEMORY_STREAMS:-512}" --more-streams "${MEMORY_MORE:-1024}" --quiet-wait-seconds "${MEMORY_QUIET_WAIT:-20}" --budget-seconds 400 --after-run "$PROBE"
        --out "${OUT}/${name}.md" --json "${OUT}/${name}.json" --git "$(git -C "$ROOT" rev-parse --short HEAD) ${name}")
  for kv in ${CONFIGS[$name]}; do args+=(--service-env "$kv"); done
  log "${name}: ${CONFIGS[$name]:-(as published)}"
  timeout --kill-after=30 600 dotnet "$BENCH_DLL" "${args[@]}" >/dev/null 2>"${OUT}/${name}.log" || log "${name} FAILED (see ${OUT}/${name}.log)"
  cp "${WORK}/chatslices.log" "${OUT}/${name}.service.log" 2>/dev/null || true
  grep -E 'streams (run|once)|after-run|throughput run' "${OUT}/${name}.log" >&2 || true
done
log "reports in ${OUT}"
