#!/usr/bin/env bash
# bench/data/run.sh — data-path benchmark of ChatSlices: history listing, vector retrieval, PDF upload, semantic cache.
#
# Usage:
#   bench/data/run.sh                 everything (≈ 5–8 minutes on 2 cores; hard limit DATABENCH_TIMEOUT, default 720 s)
#   DATABENCH_SKIP="pdf cache" bench/data/run.sh   leave scenarios out (history vectors pdf cache)
#   DATABENCH_SKIP="history vectors pdf" bench/data/run.sh   the semantic-cache scenario only (≈ 2 minutes)
#   BENCH_PUBLISHED=DIR   use the service already published in DIR (bench/run.sh passes its own) instead of publishing it
#   DATABENCH_OUT=DIR     where the figures go (default bench/data/out/<stamp>); each scenario also writes DIR/<scenario>.json
#
# What it does (loopback only; everything it starts is stopped when it ends, also on error, timeout or Ctrl-C):
#   1. ../../run.sh --setup-only → ConnectionStrings__Postgres of the private PostgreSQL 15 + pgvector cluster.
#      Its own database `chatslices_databench` is dropped and created anew.
#   2. dotnet publish of the service and build of DataBench into a temporary directory (--artifacts-path:
#      the checkout's bin/ and obj/ are not touched).
#   3. Service start 1 (migrations, HNSW indexes), then stop. Seeding with the service stopped:
#      seed-history.sql (psql: 1,000 users, 100k sessions, 1M messages) and `DataBench vectors-seed`
#      (100k chunks × 384 dims by binary COPY, HNSW index rebuilt with the service's own definition).
#   4. auto_explain on for chatslices_databench (ALTER DATABASE), service start 2, two requests of each
#      history kind, stop; the plans are cut out of the cluster log into out/<stamp>/history-plans.log;
#      the settings are reset.
#   5. Service start 3, then the measured scenarios (DataBench history / vectors / pdf / cache); stop.
#      Start 3 also has the chat model `fake-gpt` (provider openai) pointed at http://127.0.0.1:DATABENCH_FAKE_PORT/v1
#      (default 7342): the fake OpenAI upstream of tests/FakeOpenAi, which DataBench `cache` runs in its own process on that
#      port while the scenario runs (64 chunks, 20 ms apart). The embedder stays local-embed.
# Figures (Markdown) and logs go to bench/data/out/<stamp>/; the temporary directory is removed.
set -euo pipefail

DATA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "${DATA_DIR}/../.." && pwd -P)"
DATABENCH_TIMEOUT="${DATABENCH_TIMEOUT:-720}"
SKIP=" ${DATABENCH_SKIP:-} "
DB_NAME="chatslices_databench"
PORT="${DATABENCH_PORT:-7341}"
BASE="http://127.0.0.1:${PORT}"
FAKE_PORT="${DATABENCH_FAKE_PORT:-7342}"
PGLOG="${ROOT}/.local/postgres.log"
START_EPOCH="$(date +%s)"

log() { printf '[bench/data] %s\n' "$*" >&2; }
die() { printf '[bench/data] ERROR: %s\n' "$*" >&2; exit 1; }
remaining() { echo $(( DATABENCH_TIMEOUT - ($(date +%s) - START_EPOCH) )); }
bounded() {  # bounded SECONDS CMD...: at most SECONDS, and never past the overall deadline
  local limit="$1"; shift
  local left; left="$(remaining)"
  (( left > 5 )) || die "out of time (DATABENCH_TIMEOUT=${DATABENCH_TIMEOUT}s)"
  (( limit < left )) || limit="$left"
  timeout --kill-after=5 "$limit" "$@"
}

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${DATABENCH_OUT:-${DATA_DIR}/out/${STAMP}}"
mkdir -p "$OUT"
TMP="$(mktemp -d /tmp/chatslices-databench.XXXXXX)"
SVC_PID=""
AUTO_EXPLAIN_ON=0

stop_service() {
  if [[ -n "$SVC_PID" ]] && kill -0 "$SVC_PID" 2>/dev/null; then
    kill -TERM "$SVC_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SVC_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SVC_PID" 2>/dev/null || true
    wait "$SVC_PID" 2>/dev/null || true
  fi
  SVC_PID=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_service
  if (( AUTO_EXPLAIN_ON )); then psql_admin -c "ALTER DATABASE ${DB_NAME} RESET ALL" >/dev/null 2>&1 || true; fi
  if [[ "${DATABENCH_KEEP:-0}" == 1 ]]; then log "kept ${TMP}"; else rm -rf "$TMP"; fi
  log "results in ${OUT} (exit ${rc})"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. PostgreSQL.
setup_exports="$(bash "${ROOT}/run.sh" --setup-only 2>"${OUT}/setup.log")" || die "run.sh --setup-only failed (see ${OUT}/setup.log)"
eval "$setup_exports"
[[ -n "${ConnectionStrings__Postgres:-}" ]] || die "run.sh gave no ConnectionStrings__Postgres"
BASE_CS="$ConnectionStrings__Postgres"
BENCH_CS="$(sed -E "s/(^|;)Database=[^;]*/\1Database=${DB_NAME}/" <<<"$BASE_CS")"
cs_get() { sed -nE "s/.*(^|;)$1=([^;]*).*/\2/p" <<<"$BASE_CS"; }
export PGHOST="$(cs_get Host)" PGPORT="$(cs_get Port)" PGUSER="$(cs_get Username)" PGPASSWORD="$(cs_get Password)"
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
psql_bench() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB_NAME" "$@"; }

log "database ${DB_NAME}: drop and create"
psql_admin -c "DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)" -c "CREATE DATABASE ${DB_NAME}"

# --- 2. Builds.
if [[ -n "${BENCH_PUBLISHED:-}" ]]; then
  [[ -f "${BENCH_PUBLISHED}/ChatSlices.dll" ]] || die "BENCH_PUBLISHED=${BENCH_PUBLISHED} holds no ChatSlices.dll"
  ln -s "$BENCH_PUBLISHED" "${TMP}/svc"
else
  log "publishing the service (into ${TMP})"
  bounded 300 dotnet publish "${ROOT}/ChatSlices.csproj" -c Release -o "${TMP}/svc" --artifacts-path "${TMP}/art-svc" \
    >"${OUT}/publish.log" 2>&1 || die "publish failed (see ${OUT}/publish.log)"
fi
log "building DataBench (into ${TMP})"
bounded 200 dotnet build "${DATA_DIR}/DataBench/DataBench.csproj" -c Release --artifacts-path "${TMP}/art-bench" \
  >"${OUT}/build.log" 2>&1 || die "DataBench build failed (see ${OUT}/build.log)"
DATABENCH=(dotnet "${TMP}/art-bench/bin/DataBench/release/DataBench.dll")

# --- Service environment.
export ConnectionStrings__Postgres="$BENCH_CS" DATABENCH_JSON_DIR="$OUT"
export ASPNETCORE_ENVIRONMENT=Production
export Auth__SigningKey="databench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export Auth__Issuer=chatslices
export Logging__LogLevel__Default=Warning
for tier in free guest; do
  export "RateLimits__Tiers__${tier}__RequestsPerMinute=1000000"
  export "RateLimits__Tiers__${tier}__ConcurrentStreams=10000"
  export "RateLimits__Tiers__${tier}__TokensPerDay=1000000000000"
done

start_service() {  # start_service LABEL
  ss -ltn "sport = :${PORT}" | grep -q LISTEN && die "port ${PORT} is taken (set DATABENCH_PORT)"
  (cd "${TMP}/svc" && exec dotnet ChatSlices.dll --urls "$BASE") >>"${OUT}/service-$1.log" 2>&1 &
  SVC_PID=$!
  local deadline=$(( $(date +%s) + 90 ))
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' "${BASE}/health/ready" || true)" == 200 ]]; do
    kill -0 "$SVC_PID" 2>/dev/null || die "the service exited (see ${OUT}/service-$1.log)"
    (( $(date +%s) < deadline )) || die "the service was not ready within 90 s"
    sleep 0.3
  done
  log "service ($1) ready, pid ${SVC_PID}"
}
token() { (cd "${TMP}/svc" && dotnet ChatSlices.dll token "$@") | tail -n 1; }

# --- 3. Schema, then seed with the service stopped.
start_service 1-migrate
stop_service
TOKEN_HEAVY="$(token --sub heavy)"
TOKEN_USER="$(token --sub databench-user)"
TOKEN_ADMIN="$(token --sub databench-admin --role admin)"

machine() {
  echo "- date: $(date -u +'%Y-%m-%d %H:%M UTC'); host: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GB RAM"
  echo "- PostgreSQL: $(psql_bench -Atc 'SHOW server_version'), pgvector $(psql_bench -Atc "SELECT extversion FROM pg_extension WHERE extname = 'vector'"), shared_buffers $(psql_bench -Atc 'SHOW shared_buffers'); .NET $(dotnet --version)"
  echo "- load before: $(uptime | sed 's/.*load average/load average/')"
}
{ echo "# bench/data/run.sh — ${STAMP}"; echo; machine; echo; } >"${OUT}/results.md"

if [[ "$SKIP" != *" history "* ]]; then
  log "seeding history (1M messages)"
  bounded 240 psql -X -q -v ON_ERROR_STOP=1 -d "$DB_NAME" -f "${DATA_DIR}/seed-history.sql" >"${OUT}/seed-history.log" 2>&1 || die "seed failed (see ${OUT}/seed-history.log)"
  { echo "History seed (psql, seed-history.sql):"; echo '```'; grep -E 'Time:|users|^-|^ *[0-9]' "${OUT}/seed-history.log" | tail -n 4; echo '```'; echo; } >>"${OUT}/results.md"
fi
if [[ "$SKIP" != *" vectors "* ]]; then
  log "seeding 100k chunks and building the HNSW index"
  bounded 240 "${DATABENCH[@]}" vectors-seed --conn "$BENCH_CS" >>"${OUT}/results.md" 2>>"${OUT}/databench.log" || die "vectors-seed failed (see ${OUT}/databench.log)"
fi
psql_bench -c "VACUUM ANALYZE" >/dev/null

# --- 4. History plans with auto_explain.
if [[ "$SKIP" != *" history "* ]]; then
  AUTO_EXPLAIN_ON=1
  psql_admin -c "ALTER DATABASE ${DB_NAME} SET session_preload_libraries = 'auto_explain'" \
    -c "ALTER DATABASE ${DB_NAME} SET auto_explain.log_min_duration = 0" \
    -c "ALTER DATABASE ${DB_NAME} SET auto_explain.log_analyze = on" \
    -c "ALTER DATABASE ${DB_NAME} SET auto_explain.log_buffers = on"
  log_offset="$(stat -c %s "$PGLOG" 2>/dev/null || echo 0)"
  start_service 2-explain
  for q in "page=1&page_size=10" "page=90&page_size=10" "page=1&page_size=10&q=zebracorn" "page=1&page_size=10&include_messages=false"; do
    for _ in 1 2; do curl -sf -o /dev/null -H "Authorization: Bearer ${TOKEN_HEAVY}" "${BASE}/v1/chat/history?${q}" || die "history request failed"; done
  done
  stop_service
  sleep 0.5
  tail -c "+$(( log_offset + 1 ))" "$PGLOG" >"${OUT}/autoexplain-raw.log" 2>/dev/null || true
  # Keep the plans of the history statement (its CTE is named `matched`).
  awk '/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] /{ if (rec ~ /plan:/ && rec ~ /matched AS/) print rec; rec=$0; next } { rec = rec "\n" $0 }
       END { if (rec ~ /plan:/ && rec ~ /matched AS/) print rec }' \
    "${OUT}/autoexplain-raw.log" >"${OUT}/history-plans.log" || true
  psql_admin -c "ALTER DATABASE ${DB_NAME} RESET ALL"
  AUTO_EXPLAIN_ON=0
fi

# --- 5. Measurements. The fake upstream is started by DataBench `cache` itself; the service calls it only for fake-gpt.
if [[ "$SKIP" != *" cache "* ]]; then
  ss -ltn "sport = :${FAKE_PORT}" | grep -q LISTEN && die "port ${FAKE_PORT} is taken (set DATABENCH_FAKE_PORT)"
fi
export AI__Endpoint="http://127.0.0.1:${FAKE_PORT}/v1" AI__ApiKey=x AI__EmbeddingModel=local-embed
export Models__2__Id=fake-gpt Models__2__Provider=openai Models__2__ContextWindow=16000 Models__2__MaxOutputTokens=4096
start_service 3-measure
cpu_busy() {  # percent of all CPUs busy over the next 2 seconds (from /proc/stat)
  local _c u n s i w q sq st t1 i1 t2 i2
  read -r _c u n s i w q sq st _ </proc/stat; t1=$((u+n+s+i+w+q+sq+st)); i1=$((i+w))
  sleep 2
  read -r _c u n s i w q sq st _ </proc/stat; t2=$((u+n+s+i+w+q+sq+st)); i2=$((i+w))
  echo $(( 100 * ((t2 - t1) - (i2 - i1)) / (t2 - t1 > 0 ? t2 - t1 : 1) ))
}
wait_quiet() {  # wait (at most 60 s) until the machine is quiet: ≤ 25% CPU busy over 2 s; prints the last reading
  local busy waited=0
  busy="$(cpu_busy)"
  while (( busy > 25 && waited < 60 )); do sleep 3; waited=$((waited + 5)); busy="$(cpu_busy)"; done
  echo "$busy"
}
run_scenario() {  # run_scenario NAME SECONDS ARGS...
  local name="$1" limit="$2"; shift 2
  [[ "$SKIP" == *" ${name} "* ]] && return 0
  local busy; busy="$(wait_quiet)"
  log "scenario ${name} (CPU busy ${busy}% over 2 s; load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "- before ${name}: CPU busy ${busy}% (2 s sample), load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"${OUT}/load.txt"
  local _c u n s i w q sq st t1 i1 t2 i2
  read -r _c u n s i w q sq st _ </proc/stat; t1=$((u+n+s+i+w+q+sq+st)); i1=$((i+w))
  bounded "$limit" "${DATABENCH[@]}" "$@" >>"${OUT}/results.md" 2>>"${OUT}/databench.log" || die "scenario ${name} failed (see ${OUT}/databench.log)"
  read -r _c u n s i w q sq st _ </proc/stat; t2=$((u+n+s+i+w+q+sq+st)); i2=$((i+w))
  echo "- during ${name}: CPU busy $(( 100 * ((t2 - t1) - (i2 - i1)) / (t2 - t1 > 0 ? t2 - t1 : 1) ))% on average (this run's client, service and PostgreSQL included)" >>"${OUT}/load.txt"
}
run_scenario history 150 history --base "$BASE" --token "$TOKEN_HEAVY" --runs 3 --n 200 --warmup 20
run_scenario vectors 240 vectors --conn "$BENCH_CS" --runs 3 --queries 200 --ef 40,100,200
run_scenario pdf 240 pdf --base "$BASE" --token "$TOKEN_USER" --runs 3
run_scenario cache 180 cache --base "$BASE" --token "$TOKEN_USER" --admin-token "$TOKEN_ADMIN" --fake-port "$FAKE_PORT" --runs 3 --n 100 --prime 10 --settle-ms "${DATABENCH_CACHE_SETTLE_MS:-50}"
stop_service
{ echo "Machine load before each scenario (the run waits up to 60 s for ≤ 25% CPU busy; the load average includes this run's own seeding):"; cat "${OUT}/load.txt" 2>/dev/null; echo "- after: CPU busy $(cpu_busy)%, load average $(cut -d' ' -f1-3 /proc/loadavg)"; echo "- total wall time: $(( $(date +%s) - START_EPOCH )) s"; } >>"${OUT}/results.md"
cat "${OUT}/results.md"
