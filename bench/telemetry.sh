#!/usr/bin/env bash
# bench/telemetry.sh — what telemetry costs (issue 19): the non-streaming throughput of bench/ChatSlices.Bench
# (`--parts throughput`: 64 closed-loop clients on POST /v1/chat/completions, stream false, the fake answering each after
# 20 ms) with telemetry as shipped (metrics on, /metrics served, no OTLP endpoint) and with Telemetry__Enabled=false,
# alternating on/off in rounds (a fresh service each time) so that the machine's drift falls on both alike. Loopback only.
#
# Usage:
#   bench/telemetry.sh                       3 rounds of on/off
#   TELEMETRY_ROUNDS=5 bench/telemetry.sh    more rounds
#   TELEMETRY_OTLP=1 bench/telemetry.sh      "on" also exports traces over OTLP/HTTP to a sink that accepts and drops them
#   BENCH_PUBLISHED=DIR / BENCH_DLL=PATH     reuse a publish of the service / a build of ChatSlices.Bench
# Two costs per round, then their medians: throughput, 1 − (on ÷ off) of ChatSlices' requests/s ÷ the fake's own (the
# bench's "÷ direct", measured in the same run); and CPU, (on ÷ off) − 1 of the service's CPU time per request (from
# /proc, during the measured seconds), which other load on the machine disturbs far less than throughput.
# Report: bench/out/telemetry-<stamp>/telemetry.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "${BENCH_DIR}/.." && pwd -P)"
OUT="${BENCH_DIR}/out/telemetry-$(date -u +%Y%m%dT%H%M%SZ)"
ROUNDS="${TELEMETRY_ROUNDS:-3}"
mkdir -p "$OUT"
log() { printf '[bench/telemetry.sh] %s\n' "$*" >&2; }
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

eval "$(timeout 120 bash "${ROOT}/run.sh" --setup-only)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/chatslices-telemetry.XXXXXX")"
SINK_PID=""
cleanup() { [[ -n "$SINK_PID" ]] && kill "$SINK_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
# shellcheck source=bench/prepare.sh
source "${BENCH_DIR}/prepare.sh"
prepare_publish_and_bench "$WORK"

ON_ENV=()
if [[ "${TELEMETRY_OTLP:-0}" == 1 ]]; then
  # A sink for OTLP/HTTP: answers 200 to every POST and keeps nothing (python3's http.server, one thread per request).
  SINK_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  python3 - "$SINK_PORT" >/dev/null 2>&1 <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
  SINK_PID=$!
  ON_ENV=(--service-env "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:${SINK_PORT}" --service-env OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)
fi

run() {  # run NAME ROUND [--service-env ...]
  local name="$1" round="$2"; shift 2
  timeout --kill-after=30 300 dotnet "$BENCH_DLL" --app "${PUBLISHED}/ChatSlices.dll" --workdir "$WORK" --parts throughput --runs 1 \
    --throughput-seconds "${TELEMETRY_SECONDS:-8}" --quiet-wait-seconds 10 --budget-seconds 200 --git "$(git -C "$ROOT" rev-parse --short HEAD) ${name}" \
    --out "${OUT}/${name}-${round}.md" --json "${OUT}/${name}-${round}.json" "$@" >/dev/null 2>"${OUT}/${name}-${round}.log"
  jq -r '(.throughput.targets.chatslices_completions | "\(.requests_per_s.median) \(.ratio_to_direct.median) \(.p50_ms.median) \(.p99_ms.median)")
          + " \(.service_cpu_ms_per_reply.throughput.median)"' "${OUT}/${name}-${round}.json"
}

{
  echo "| round | on req/s | off req/s | on ÷ direct | off ÷ direct | throughput cost | on CPU/request | off CPU/request | CPU cost | on p50 / p99 | off p50 / p99 |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"${OUT}/rounds.md"
costs=()
cpu_costs=()
for round in $(seq 1 "$ROUNDS"); do
  # Alternate which goes first, so that neither always meets a warmer (or busier) machine.
  if (( round % 2 )); then
    read -r on_rps on_ratio on_p50 on_p99 on_cpu < <(run on "$round" "${ON_ENV[@]}")
    read -r off_rps off_ratio off_p50 off_p99 off_cpu < <(run off "$round" --service-env Telemetry__Enabled=false)
  else
    read -r off_rps off_ratio off_p50 off_p99 off_cpu < <(run off "$round" --service-env Telemetry__Enabled=false)
    read -r on_rps on_ratio on_p50 on_p99 on_cpu < <(run on "$round" "${ON_ENV[@]}")
  fi
  cost="$(python3 -c "print(f'{(1 - ${on_ratio} / ${off_ratio}) * 100:.1f}')")"
  cpu_cost="$(python3 -c "print(f'{(${on_cpu} / ${off_cpu} - 1) * 100:.1f}')")"
  costs+=("$cost")
  cpu_costs+=("$cpu_cost")
  log "round ${round}: on ${on_rps} req/s (÷ direct ${on_ratio}, ${on_cpu} ms CPU each), off ${off_rps} req/s (÷ direct ${off_ratio}, ${off_cpu} ms CPU each): cost ${cost} % throughput, ${cpu_cost} % CPU"
  printf '| %s | %.0f | %.0f | %.3f | %.3f | %s %% | %.3f ms | %.3f ms | %s %% | %.1f / %.1f ms | %.1f / %.1f ms |\n' "$round" "$on_rps" "$off_rps" "$on_ratio" "$off_ratio" "$cost" \
    "$on_cpu" "$off_cpu" "$cpu_cost" "$on_p50" "$on_p99" "$off_p50" "$off_p99" >>"${OUT}/rounds.md"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
{
  echo "# Telemetry on ÷ off, non-streaming throughput"
  echo
  echo "$(date -u +'%Y-%m-%d %H:%M') UTC, commit $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) CPU, load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "\"on\": as shipped$([[ "${TELEMETRY_OTLP:-0}" == 1 ]] && echo ", plus traces over OTLP/HTTP to a sink"); \"off\": Telemetry__Enabled=false. Cost: 1 − (on ÷ direct) / (off ÷ direct) per round."
  echo
  cat "${OUT}/rounds.md"
  echo
  echo "Median over ${ROUNDS} rounds: **$(median "${costs[@]}") %** of throughput, **$(median "${cpu_costs[@]}") %** more CPU per request."
} >"${OUT}/telemetry.md"
cat "${OUT}/telemetry.md"
log "report: ${OUT}/telemetry.md"
