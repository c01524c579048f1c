#!/usr/bin/env bash
# bench/models/run.sh — the offline models, measured in process with the service's own code (no database, no HTTP):
#   cache   the labelled question pairs of tests/ChatSlices.Tests/Data/cache-pairs.tsv through the semantic cache's
#           decision (similarity threshold + CacheGuard), all-MiniLM-L6-v2 beside the word-hashing embedder (≈ 20 s)
#   recall  bench/models/recall-pages.tsv as a one-page-per-row PDF (each page padded with boilerplate from recall-filler.txt
#           to about one chunk): extraction (poppler), chunking and both embedders; recall@5 of questions that share no
#           content word with their page (≈ 30 s)
#   speed   a generated 60-page PDF (dense: ~3.7 chunks a page) through extraction, chunking and MiniLM, 3 runs: pages/s and
#           chunks/s, the embedder against the path it replaced (the package's SentenceEncoder) on the same chunks; then the
#           recall questions embedded one at a time both ways (≈ 3 min on 2 cores)
#   tokens  tests/ChatSlices.Tests/Data/token-counts.tsv against the service's token counter
#
# Usage: bench/models/run.sh [cache] [recall] [speed] [tokens]   (default: all four; figures in Markdown on stdout)
# Needs poppler-utils (../../run.sh --setup-only installs it). Builds into a temporary directory; the checkout's bin/ and
# obj/ are not touched. End-to-end upload figures (HTTP + PostgreSQL): DATABENCH_SKIP="history vectors cache" bench/data/run.sh
set -euo pipefail

MODELS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd "${MODELS_DIR}/../.." && pwd -P)"
PARTS=("$@")
((${#PARTS[@]})) || PARTS=(cache recall speed tokens)
TMP="$(mktemp -d /tmp/chatslices-modelbench.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
timeout 300 dotnet build "${MODELS_DIR}/ModelBench/ModelBench.csproj" -c Release --artifacts-path "${TMP}/art" >"${TMP}/build.log" 2>&1 \
  || { cat "${TMP}/build.log" >&2; exit 1; }
BENCH=(timeout 600 dotnet "${TMP}/art/bin/ModelBench/release/ModelBench.dll")

echo "# bench/models/run.sh — $(date -u +'%Y-%m-%d %H:%M UTC'), $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for part in "${PARTS[@]}"; do
  case "$part" in
    cache)  "${BENCH[@]}" cache "${ROOT}/tests/ChatSlices.Tests/Data/cache-pairs.tsv" ;;
    recall) "${BENCH[@]}" recall "${MODELS_DIR}/recall-pages.tsv" "${MODELS_DIR}/recall-filler.txt" ;;
    speed)  "${BENCH[@]}" speed 60 3 "${MODELS_DIR}/recall-pages.tsv" ;;
    tokens) "${BENCH[@]}" tokens "${ROOT}/tests/ChatSlices.Tests/Data/token-counts.tsv" ;;
    *) echo "unknown part: $part (cache recall speed tokens)" >&2; exit 2 ;;
  esac
done
