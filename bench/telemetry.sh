#!/usr/bin/env bash
# bench/telemetry.sh — what telemetry costs (issue 19): two services side by side on one database, "off"
# (Telemetry__Enabled=false, A) and "on" (as shipped, B: bench/ChatSlices.Bench --compare-env), and the non-streaming
# throughput part of bench/ChatSlices.Bench (64 closed-loop clients on POST /v1/chat/completions, stream false, the fake
# answering each after 20 ms) measuring both in every run, each as often just after the other. Other load on the
# machine then falls on both alike; the first runs, where the "on" service still compiles its telemetry code, are not
# counted.
# Per counted run: CPU, (on ÷ off) − 1 of the service's CPU time per request (from /proc, over the measured seconds),
# and throughput, 1 − (on ÷ off) of requests/s; then the median of each. Loopback only.
#
# Usage:
#   bench/telemetry.sh                             12 runs of 4 s each per service, the first 2 not counted
#   TELEMETRY_RUNS=20 TELEMETRY_WARMUP_RUNS=3 ...  more runs / more not counted
#   TELEMETRY_OTLP=1 bench/telemetry.sh            "on" also exports traces, metrics and logs over OTLP/HTTP to a sink
#   TELEMETRY_SAMPLE_RATIO=0.1 ...                 "on" with Telemetry__TraceSampleRatio (with TELEMETRY_OTLP=1)
#   TELEMETRY_CONTROL=1 bench/telemetry.sh         "on" is off too: an A/A run, the method's own noise
#   TELEMETRY_SPIN=1 bench/telemetry.sh            keep the thread pool's spin-waiting (see below)
#   BENCH_PUBLISHED=DIR / BENCH_DLL=PATH           reuse a publish of the service / a build of ChatSlices.Bench
# Both services run with DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 unless TELEMETRY_SPIN=1: idle pool threads that
# spin before they sleep burn CPU in proportion to how the machine's load times their wake-ups, not to the work done,
# and on a shared 2-core machine that was the largest part of the run-to-run spread of CPU per request.
# Report: bench/out/telemetry-<stamp>/telemetry.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "${BENCH_DIR}/.." && pwd -P)"
OUT="${BENCH_DIR}/out/telemetry-$(date -u +%Y%m%dT%H%M%SZ)"
RUNS="${TELEMETRY_RUNS:-12}"
WARMUP_RUNS="${TELEMETRY_WARMUP_RUNS:-2}"
mkdir -p "$OUT"
log() { printf '[bench/telemetry.sh] %s\n' "$*" >&2; }
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
(( RUNS > WARMUP_RUNS )) || { log "TELEMETRY_RUNS must exceed TELEMETRY_WARMUP_RUNS"; exit 2; }

eval "$(timeout 120 bash "${ROOT}/run.sh" --setup-only)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/chatslices-telemetry.XXXXXX")"
SINK_PID=""
cleanup() { [[ -n "$SINK_PID" ]] && kill "$SINK_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
# shellcheck source=bench/prepare.sh
source "${BENCH_DIR}/prepare.sh"
prepare_publish_and_bench "$WORK"

BOTH=(--service-env Telemetry__Enabled=false)
[[ "${TELEMETRY_SPIN:-0}" == 1 ]] || BOTH+=(--service-env DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0)
ON=(--compare-env Telemetry__Enabled=true)
ON_LABEL="as shipped (metrics, /metrics served, no OTLP endpoint)"
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
  ON+=(--compare-env "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:${SINK_PORT}" --compare-env OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)
  ON_LABEL="as shipped plus traces, metrics and logs over OTLP/HTTP to a sink"
  if [[ -n "${TELEMETRY_SAMPLE_RATIO:-}" ]]; then
    ON+=(--compare-env "Telemetry__TraceSampleRatio=${TELEMETRY_SAMPLE_RATIO}")
    ON_LABEL+=", Telemetry:TraceSampleRatio=${TELEMETRY_SAMPLE_RATIO}"
  else
    ON_LABEL+=", every trace recorded (TraceSampleRatio 1)"
  fi
fi
if [[ "${TELEMETRY_CONTROL:-0}" == 1 ]]; then
  ON=(--compare-env Telemetry__Enabled=false)
  ON_LABEL="off as well (an A/A control run)"
fi

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
log "off and on side by side: ${RUNS} runs of ${TELEMETRY_SECONDS:-4} s each per service, the first ${WARMUP_RUNS} not counted"
timeout --kill-after=30 $(( RUNS * 60 + 300 )) dotnet "$BENCH_DLL" --app "${PUBLISHED}/ChatSlices.dll" --workdir "$WORK" --parts throughput \
  --runs "$RUNS" --throughput-seconds "${TELEMETRY_SECONDS:-4}" --quiet-wait-seconds 10 --budget-seconds $(( RUNS * 60 )) \
  --git "$(git -C "$ROOT" rev-parse --short HEAD) telemetry" --out "${OUT}/bench.md" --json "${OUT}/bench.json" \
  "${BOTH[@]}" "${ON[@]}" >/dev/null 2>"${OUT}/bench.log" || { log "the bench failed; its log: ${OUT}/bench.log"; tail -20 "${OUT}/bench.log" >&2; exit 1; }
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "${OUT}/bench.json" "$WARMUP_RUNS" "$load_before" "$load_after" "$(git -C "$ROOT" rev-parse --short HEAD)" "$ON_LABEL" \
  "${TELEMETRY_SECONDS:-4}" "$([[ "${TELEMETRY_SPIN:-0}" == 1 ]] && echo on || echo off)" >"${OUT}/telemetry.md" <<'PY'
import json, statistics, sys, datetime
path, warmup, load_before, load_after, commit, on_label, seconds, spin = sys.argv[1:9]
runs = json.load(open(path))["throughput"]["compared"]
warmup = int(warmup)
print("# Telemetry on ÷ off, non-streaming throughput, side by side")
print()
print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}; load average before {load_before}, after {load_after}.")
print(f"\"off\": Telemetry__Enabled=false; \"on\": {on_label}. Both running throughout, {seconds} s per service and run, "
      f"thread-pool spin-waiting {spin}. Runs 1–{warmup} are not counted (the services still compiling).")
print()
print("| run | off CPU/request | on CPU/request | CPU cost | off req/s | on req/s | throughput cost |")
print("|---:|---:|---:|---:|---:|---:|---:|")
cpu, thr = [], []
for i, r in enumerate(runs, 1):
    c = (r["cpu_ms_b"] / r["cpu_ms_a"] - 1) * 100
    t = (1 - r["requests_per_s_b"] / r["requests_per_s_a"]) * 100
    counted = i > warmup
    if counted:
        cpu.append(c); thr.append(t)
    mark = "" if counted else " (not counted)"
    print(f"| {i}{mark} | {r['cpu_ms_a']:.3f} ms | {r['cpu_ms_b']:.3f} ms | {c:+.1f} % | {r['requests_per_s_a']:.0f} | {r['requests_per_s_b']:.0f} | {t:+.1f} % |")
print()
q = lambda xs: statistics.quantiles(xs, n=4) if len(xs) >= 2 else [xs[0]] * 3
print(f"Median over {len(cpu)} counted runs: **CPU per request {statistics.median(cpu):+.1f} %** (quartiles {q(cpu)[0]:+.1f} / {q(cpu)[2]:+.1f} %), "
      f"**throughput cost {statistics.median(thr):+.1f} %** (quartiles {q(thr)[0]:+.1f} / {q(thr)[2]:+.1f} %).")
PY
cat "${OUT}/telemetry.md"
log "report: ${OUT}/telemetry.md (the bench's own: ${OUT}/bench.md)"
