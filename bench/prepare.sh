# bench/prepare.sh — sourced by bench/memory.sh and bench/telemetry.sh (not run on its own):
#   prepare_publish_and_bench WORK
# sets PUBLISHED (a Release publish of the service; BENCH_PUBLISHED reuses one) and BENCH_DLL (a Release build of
# bench/ChatSlices.Bench; BENCH_DLL reuses one), building into WORK what is not given. Needs BENCH_DIR, ROOT and log.
prepare_publish_and_bench() {
  local work="$1"
  PUBLISHED="${BENCH_PUBLISHED:-}"
  if [[ -z "$PUBLISHED" ]]; then
    log "publishing the service (Release)"
    timeout 300 dotnet publish "${ROOT}/ChatSlices.csproj" -c Release -o "${work}/publish" --artifacts-path "${work}/artifacts" --nologo -v q >&2
    PUBLISHED="${work}/publish"
  fi
  BENCH_DLL="${BENCH_DLL:-}"
  if [[ -z "$BENCH_DLL" ]]; then
    log "building bench/ChatSlices.Bench (Release)"
    timeout 300 dotnet build "${BENCH_DIR}/ChatSlices.Bench/ChatSlices.Bench.csproj" -c Release --artifacts-path "${work}/artifacts" --nologo -v q >&2
    BENCH_DLL="${work}/artifacts/bin/ChatSlices.Bench/release/ChatSlices.Bench.dll"
  fi
}
