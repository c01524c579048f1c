#!/usr/bin/env bash
# bench/run.sh — streaming benchmark of ChatSlices; writes the results to BENCHMARKS.md at the repo root.
#
# Usage:
#   bench/run.sh              the full benchmark (a few minutes on 2 cores; bounded by BENCH_TIMEOUT)
#   bench/run.sh --quick      a smoke run with small counts (writes nothing unless --out is given)
#   bench/run.sh ARGS...      extra ARGS go to the bench (e.g. --runs 5 --sequential 40); see Program.cs
#   BENCH_SOURCE=head bench/run.sh   measure the last commit instead of the working tree
#
# What it does:
#   1. ../run.sh --setup-only: packages, pgvector and the private PostgreSQL cluster (left running);
#      its `export` lines give ConnectionStrings__Postgres. The bench uses its own database
#      `chatslices_bench` on that cluster (dropped and created anew by every run, so it matches the build).
#   2. Debian nginx for the one-hop baseline, only when missing and only if it installs within
#      NGINX_INSTALL_TIMEOUT seconds (BENCH_NGINX=0 skips it). The bench runs its own nginx with its
#      own config on a loopback port; Debian's nginx service is not used.
#   3. dotnet publish of the service (Release) and a Release build of bench/ChatSlices.Bench, both into
#      a temporary directory (--artifacts-path), so the checkout's bin/ and obj/ are not touched.
#   4. The bench: starts the fake upstream (in-process), the published service and nginx as child
#      processes on loopback, measures, stops them, writes BENCHMARKS.md.
# Everything the bench started is stopped when it ends, also on timeout or Ctrl-C (by pid, from the
# pid file the bench writes). The temporary directory is removed unless BENCH_KEEP=1 (logs are in it).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "${BENCH_DIR}/.." && pwd -P)"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-540}"              # seconds for the bench itself (not the builds)
NGINX_INSTALL_TIMEOUT="${NGINX_INSTALL_TIMEOUT:-180}"

log() { printf '[bench/run.sh] %s\n' "$*" >&2; }
die() { printf '[bench/run.sh] ERROR: %s\n' "$*" >&2; exit 1; }

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

# --- 1. PostgreSQL (and the rest of the service's set-up).
setup_exports="$(bash "${ROOT}/run.sh" --setup-only)" || die "run.sh --setup-only failed"
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
    install_nginx() {
      timeout "$NGINX_INSTALL_TIMEOUT" $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends nginx >&2
    }
    if ! install_nginx; then
      log "apt-get install nginx failed: apt-get update, then one more try"
      timeout "$NGINX_INSTALL_TIMEOUT" $SUDO apt-get update -qq >&2 || true
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
dotnet publish "$SERVICE_PROJECT" -c Release -o "${WORK}/publish" \
  --artifacts-path "${WORK}/artifacts" --nologo -v q >&2 ||
  die "dotnet publish failed (work in progress in the checkout? BENCH_SOURCE=head measures the last commit)"
log "building bench/ChatSlices.Bench (Release)"
dotnet build "${BENCH_DIR}/ChatSlices.Bench/ChatSlices.Bench.csproj" -c Release \
  --artifacts-path "${WORK}/artifacts" --nologo -v q >&2 || die "building the bench failed"
BENCH_DLL="${WORK}/artifacts/bin/ChatSlices.Bench/release/ChatSlices.Bench.dll"
[[ -f "$BENCH_DLL" ]] || die "no ${BENCH_DLL} after the build"

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

# --- 4. The bench, bounded in time.
args=(--app "${WORK}/publish/ChatSlices.dll" --workdir "$WORK" --pidfile "$PIDFILE" --git "$GIT_INFO" --command "bench/run.sh${*:+ $*}")
[[ -n "$NGINX_BIN" ]] && args+=(--nginx "$NGINX_BIN")
case " $* " in
  *" --quick "*) ;;                                 # a smoke run writes no report unless asked
  *) args+=(--out "${ROOT}/BENCHMARKS.md") ;;
esac
log "running the bench (at most ${BENCH_TIMEOUT} s); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
timeout --signal=TERM --kill-after=30 "$BENCH_TIMEOUT" dotnet "$BENCH_DLL" "${args[@]}" "$@" &
BENCH_PID=$!
rc=0
wait "$BENCH_PID" || rc=$?
BENCH_PID=""
[[ "$rc" -eq 124 ]] && log "the bench hit its time limit (${BENCH_TIMEOUT} s)"
exit "$rc"
