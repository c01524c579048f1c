#!/usr/bin/env bash
# bench/run.sh — every ChatSlices benchmark, one command: writes BENCHMARKS.md (above its hand-written notes) and
# bench/results.json. Loopback only; bounded by BENCH_TOTAL_TIMEOUT (default 900 s = 15 minutes, builds included).
# Every step has its own limit, and none may run past that deadline: set-up ≤ 120 s, nginx install ≤ 90 s, publish ≤ 240 s,
# bench builds ≤ 150 s each; then the parts: streaming ≤ 380 s, data ≤ 280 s, load ≤ 200 s (≈ 100 s left for set-up and
# builds when every part uses all of its time; a part that would start with 30 s or less is reported as not run).
#
# Usage:
#   bench/run.sh              everything (≈ 13 minutes on 2 cores)
#   bench/run.sh --quick      a smoke run of the streaming part with small counts; writes only to bench/out/<stamp>/
#   BENCH_PARTS="streaming load" bench/run.sh   some parts only (streaming data load); the report says which ran
#   BENCH_SOURCE=head bench/run.sh              measure the last commit instead of the working tree
#
# The parts, one after the other (each figure the median of 3 runs with min…max, and a ratio to a baseline of the same run):
#   streaming  bench/ChatSlices.Bench: the fake OpenAI upstream (in-process), the published service and an nginx hop;
#              streaming relay at c=1/64/256 on /v1/chat/stream and /v1/chat/completions, concurrent streams and RSS,
#              non-streaming throughput.
#   data       bench/data/run.sh: history listing at 1M messages, retrieval at 100k chunks, PDF ingestion, semantic cache.
#   load       bench/load/run.sh: 200 clients × 20 turns with random aborts, then every stored row checked.
# What it does first:
#   1. ../run.sh --setup-only: packages, pgvector and the private PostgreSQL cluster (left running); each part uses
#      its own database on it, dropped and created anew.
#   2. Debian nginx for the one-hop baseline, only when missing and only if it installs within
#      NGINX_INSTALL_TIMEOUT seconds (BENCH_NGINX=0 skips it). The bench runs its own nginx on a loopback port.
#   3. One dotnet publish of the service (Release) and Release builds of bench/ChatSlices.Bench and bench/load/LoadBench, into a temporary
#      directory (--artifacts-path), so the checkout's bin/ and obj/ are not touched; every part runs that publish.
# Everything started is stopped when the command ends, also on timeout or Ctrl-C. Each part's figures and logs are
# kept in bench/out/<stamp>/ (not committed); the temporary directory is removed unless BENCH_KEEP=1.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "${BENCH_DIR}/.." && pwd -P)"
BENCH_TOTAL_TIMEOUT="${BENCH_TOTAL_TIMEOUT:-900}"
PARTS=" ${BENCH_PARTS:-streaming data load} "
START_EPOCH="$(date +%s)"
QUICK=0
case " $* " in *" --quick "*) QUICK=1 ;; esac
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="${BENCH_DIR}/out/${STAMP}"
mkdir -p "$OUT"
NGINX_INSTALL_TIMEOUT="${NGINX_INSTALL_TIMEOUT:-90}"

log() { printf '[bench/run.sh] %s\n' "$*" >&2; }
die() { printf '[bench/run.sh] ERROR: %s\n' "$*" >&2; exit 1; }
remaining() { echo $(( BENCH_TOTAL_TIMEOUT - ($(date +%s) - START_EPOCH) )); }
limit() { local left; left="$(remaining)"; (( $1 < left )) && echo "$1" || echo "$left"; }  # limit SECONDS: capped by the deadline
bounded() { local seconds; seconds="$(limit "$1")"; shift; (( seconds > 0 )) || return 124; timeout --kill-after=10 "$seconds" "$@"; }  # bounded SECONDS CMD...

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

# --- 1. PostgreSQL (and the rest of the service's set-up).
setup_exports="$(bounded 120 bash "${ROOT}/run.sh" --setup-only)" || die "run.sh --setup-only failed or took over 120 s"
eval "$setup_exports"
[[ -n "${ConnectionStrings__Postgres:-}" ]] || die "run.sh gave no ConnectionStrings__Postgres"

# --- 2. nginx for the one-hop baseline (optional).
NGINX_BIN=""
find_nginx() {
  if [[ -x /usr/sbin/nginx ]]; then NGINX_BIN=/usr/sbin/nginx
  elif command -v nginx >/dev/null 2>&1; then NGINX_BIN="$(command -v nginx)"
  fi
}
find_nginx
if [[ -z "$NGINX_BIN" && "${BENCH_NGINX:-1}" != 0 ]]; then
  if [[ "$(id -u)" -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
  if [[ -n "$SUDO" ]] && ! command -v sudo >/dev/null 2>&1; then
    log "nginx is missing and this user cannot install it: the nginx baseline is skipped"
  else
    log "installing Debian nginx for the one-hop baseline (at most ${NGINX_INSTALL_TIMEOUT} s)"
    # One budget for the whole attempt (install, or update then install), so that a slow mirror cannot eat the parts' time.
    nginx_deadline=$(( $(date +%s) + NGINX_INSTALL_TIMEOUT ))
    nginx_left() { local left=$(( nginx_deadline - $(date +%s) )); (( left > 0 )) && echo "$left" || echo 1; }
    install_nginx() {
      bounded "$(nginx_left)" $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends nginx >&2
    }
    if ! install_nginx; then
      log "apt-get install nginx failed: apt-get update, then one more try"
      bounded "$(nginx_left)" $SUDO apt-get update -qq >&2 || true
      install_nginx || log "nginx did not install: the nginx baseline is skipped"
    fi
    find_nginx
  fi
fi

# --- 3. Builds into a temporary directory.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/chatslices-bench.XXXXXX")"
PIDFILE="${WORK}/pids"
BENCH_PID=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$BENCH_PID" ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
    kill -TERM "$BENCH_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$BENCH_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$BENCH_PID" 2>/dev/null || true
  fi
  # Children the bench started (ChatSlices, nginx): normally stopped by the bench already.
  if [[ -f "$PIDFILE" ]]; then
    local pid name
    while read -r pid name; do
      [[ -n "$pid" ]] || continue
      # Only if that pid is still the process the bench started (not a reused pid).
      if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q -e ChatSlices.dll -e nginx; then
        log "stopping ${name} (pid ${pid}) left by the bench"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$PIDFILE"
  fi
  if [[ "${BENCH_KEEP:-0}" == 1 || "$rc" -ne 0 ]]; then
    log "kept ${WORK} (logs: chatslices.log, nginx/)"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# BENCH_SOURCE=worktree (default): the checkout as it is, uncommitted changes included.
# BENCH_SOURCE=head: the last commit, exported with `git archive` into the temporary directory
# (reproducible, and unaffected by work in progress in the checkout).
SERVICE_PROJECT="${ROOT}/ChatSlices.csproj"
case "${BENCH_SOURCE:-worktree}" in
  worktree) ;;
  head)
    mkdir -p "${WORK}/src"
    git -C "$ROOT" archive --format=tar HEAD | tar -x -C "${WORK}/src" || die "git archive HEAD failed"
    SERVICE_PROJECT="${WORK}/src/ChatSlices.csproj"
    ;;
  *) die "BENCH_SOURCE must be worktree or head" ;;
esac
log "publishing the service (Release, ${BENCH_SOURCE:-worktree}) into ${WORK}/publish"
bounded 240 dotnet publish "$SERVICE_PROJECT" -c Release -o "${WORK}/publish" \
  --artifacts-path "${WORK}/artifacts" --nologo -v q >&2 ||
  die "dotnet publish failed or took over 240 s (work in progress in the checkout? BENCH_SOURCE=head measures the last commit)"
log "building bench/ChatSlices.Bench and bench/load/LoadBench (Release)"
bounded 150 dotnet build "${BENCH_DIR}/ChatSlices.Bench/ChatSlices.Bench.csproj" -c Release \
  --artifacts-path "${WORK}/artifacts" --nologo -v q >&2 || die "building the bench failed or took over 150 s"
BENCH_DLL="${WORK}/artifacts/bin/ChatSlices.Bench/release/ChatSlices.Bench.dll"
[[ -f "$BENCH_DLL" ]] || die "no ${BENCH_DLL} after the build"
LOAD_DLL=""
if [[ "$PARTS" == *" load "* ]] && (( ! QUICK )); then
  bounded 150 dotnet build "${BENCH_DIR}/load/LoadBench/LoadBench.csproj" -c Release \
    --artifacts-path "${WORK}/artifacts" --nologo -v q >&2 || die "building LoadBench failed or took over 150 s"
  LOAD_DLL="${WORK}/artifacts/bin/LoadBench/release/LoadBench.dll"
  [[ -f "$LOAD_DLL" ]] || die "no ${LOAD_DLL} after the build"
fi

# What was measured: the commit, and whether the working tree had changes on top of it.
GIT_INFO="unknown"
if git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
  GIT_INFO="commit $(git -C "$ROOT" rev-parse --short HEAD)"
  if [[ "${BENCH_SOURCE:-worktree}" == head ]]; then
    GIT_INFO+=" (exported with git archive; BENCH_SOURCE=head)"
  elif [[ -n "$(git -C "$ROOT" status --porcelain -- . ':!BENCHMARKS.md' ':!bench' 2>/dev/null)" ]]; then
    GIT_INFO+=" plus uncommitted changes in the working tree"
  fi
fi

# --- 4. The parts, one after the other, each bounded in time and by the overall deadline.
MARKER='<!-- Everything below this line is written by hand and kept when bench/run.sh rewrites this file. -->'
declare -A PART_RC=()
run_part() {  # run_part NAME SECONDS CMD...: its output in ${OUT}/NAME.log
  local name="$1" seconds; seconds="$(limit "$2")"; shift 2
  if [[ "$PARTS" != *" ${name} "* ]]; then return 0; fi
  (( seconds > 30 )) || { log "no time left for ${name}"; PART_RC[$name]=124; return 0; }
  log "part ${name} (at most ${seconds} s; $(remaining) s left in all); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
  local rc=0
  timeout --signal=TERM --kill-after=30 "$seconds" "$@" >"${OUT}/${name}.log" 2>&1 &
  BENCH_PID=$!
  wait "$BENCH_PID" || rc=$?
  BENCH_PID=""
  PART_RC[$name]=$rc
  (( rc == 0 )) && log "part ${name} done" || log "part ${name} FAILED (exit ${rc}; see ${OUT}/${name}.log)"
}

args=(--app "${WORK}/publish/ChatSlices.dll" --workdir "$WORK" --pidfile "$PIDFILE" --git "$GIT_INFO" --command "bench/run.sh${*:+ $*}"
      --out "${OUT}/streaming.md" --json "${OUT}/streaming.json")
[[ -n "$NGINX_BIN" ]] && args+=(--nginx "$NGINX_BIN")
# The streaming bench's own measurement budget and quiet wait keep it inside its 380 s (start-up and report included).
(( QUICK )) || args+=(--budget-seconds 300 --quiet-wait-seconds 30)
run_part streaming 380 dotnet "$BENCH_DLL" "${args[@]}" "$@"
if (( ! QUICK )); then
  run_part data 280 env BENCH_PUBLISHED="${WORK}/publish" DATABENCH_OUT="${OUT}/data" DATABENCH_TIMEOUT=275 bash "${BENCH_DIR}/data/run.sh"
  run_part load 200 env BENCH_PUBLISHED="${WORK}/publish" LOAD_BENCH_DLL="$LOAD_DLL" LOAD_TIMEOUT=195 BENCH_GIT="$GIT_INFO" \
    bash "${BENCH_DIR}/load/run.sh" --out "${OUT}/load.md" --json "${OUT}/load.json"
fi

# --- 5. The report: BENCHMARKS.md (the parts' Markdown above the hand-written notes) and bench/results.json.
json_or_null() { if [[ -s "$1" ]]; then cat "$1"; else echo null; fi; }
md_part() {  # md_part NAME FILE
  if [[ "$PARTS" != *" $1 "* ]]; then echo "## Part \`$1\`: not run (BENCH_PARTS)"; echo
  elif [[ "${PART_RC[$1]:-1}" -ne 0 || ! -s "$2" ]]; then echo "## Part \`$1\`: FAILED (exit ${PART_RC[$1]:-?}); its log: bench/out/${STAMP}/$1.log"; echo
  else cat "$2"; echo
  fi
}
WALL=$(( $(date +%s) - START_EPOCH ))
{
  echo "# Benchmarks"
  echo
  echo "Generated by \`bench/run.sh\` on $(date -u +'%Y-%m-%d %H:%M') UTC in ${WALL} s (parts:${PARTS% }; builds included); build under test: ${GIT_INFO}."
  echo "Machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GB RAM; .NET $(dotnet --version)."
  echo "The same figures for machines are in \`bench/results.json\`. Re-run the command to refresh both; the notes after the marker line are kept."
  echo
  md_part streaming "${OUT}/streaming.md"
  md_part data "${OUT}/data/results.md"
  md_part load "${OUT}/load.md"
} >"${OUT}/BENCHMARKS.md"
{
  printf '{\n"generated_utc": "%s",\n"build": "%s",\n"wall_seconds": %d,\n"cpus": %d,\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$GIT_INFO" "$WALL" "$(nproc)"
  printf '"streaming": %s,\n' "$(json_or_null "${OUT}/streaming.json")"
  printf '"data": {"history": %s, "retrieval": %s, "pdf": %s, "cache": %s},\n' \
    "$(json_or_null "${OUT}/data/history.json")" "$(json_or_null "${OUT}/data/retrieval.json")" \
    "$(json_or_null "${OUT}/data/pdf.json")" "$(json_or_null "${OUT}/data/cache.json")"
  printf '"load": %s\n}\n' "$(json_or_null "${OUT}/load.json")"
} >"${OUT}/results.json"

failed=0
for part in "${!PART_RC[@]}"; do (( PART_RC[$part] == 0 )) || failed=1; done
if (( QUICK )); then
  log "quick run: the report is in ${OUT} (BENCHMARKS.md and results.json there; the committed ones are untouched)"
elif (( failed )); then
  log "a part failed: the committed BENCHMARKS.md and bench/results.json are left as they were; this run's report is in ${OUT}"
else
  notes=""
  [[ -f "${ROOT}/BENCHMARKS.md" ]] && notes="$(awk -v m="$MARKER" 'kept { print } $0 == m { kept = 1 }' "${ROOT}/BENCHMARKS.md")"
  { cat "${OUT}/BENCHMARKS.md"; echo "$MARKER"; printf '%s\n' "$notes"; } >"${ROOT}/BENCHMARKS.md"
  cp "${OUT}/results.json" "${BENCH_DIR}/results.json"
  log "wrote BENCHMARKS.md and bench/results.json (${WALL} s in all)"
fi
exit "$failed"
