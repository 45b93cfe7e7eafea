#!/usr/bin/env bash
# Native CPU vs wasm CPU (Chromium) vs WebGPU (SwiftShader) on ONE bundle: random official-size
# (HumanML3D + CLIP) weights, quantized to q8 like the web bundles, timed by `momask bench
# --model` natively and by www/bench.html in headless Chromium. Prints one table:
# stage | native CPU | native CPU (1 thread) | wasm CPU | WebGPU | ratios. Not part of CI (slow).
#
#   scripts/bench-web.sh
#   MOMASK_BENCH_CONFIG=demo      another preset (official, kit, small, demo)
#   MOMASK_BENCH_RUNS=3           timed runs (median), after one warm-up, native and wasm CPU
#   MOMASK_BENCH_GPU_STEPS=1      mask steps on WebGPU (SwiftShader: ~90 s a step at official size;
#                               its all-steps and total rows are extrapolated)
#   MOMASK_BENCH_GPU_RUNS=1       timed WebGPU runs after its warm-up (~10 min in all); 0 skips WebGPU
#   MOMASK_BENCH_CLI=path         use this momask binary instead of building one
#   MOMASK_WEB_SKIP_BUILD=1       reuse pkg/ and www/dist (else scripts/build-web.sh runs)
#   MOMASK_BENCH_DIST=dir         the built pages to time (default www/dist)
# Output: the table on stdout, everything in target/bench-web/ (result.json, native*.json).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
command -v chromium >/dev/null 2>&1 || apt_install chromium

CONFIG="${MOMASK_BENCH_CONFIG:-official}"
RUNS="${MOMASK_BENCH_RUNS:-3}"
FRAMES=196
OUT=target/bench-web
mkdir -p "$OUT"

if [ -z "${MOMASK_WEB_SKIP_BUILD:-}" ] || [ ! -f www/dist/bench.html ]; then
  ./scripts/build-web.sh
fi

if [ -n "${MOMASK_BENCH_CLI:-}" ]; then
  CLI="$MOMASK_BENCH_CLI"
else
  printf '\n== native CLI (release, CPU only) ==\n'
  # Release, as shipped; without wgpu and the trainers, which the CPU timing does not use.
  cargo build --release --no-default-features --features native --bin momask
  CLI=target/release/momask
fi

printf '\n== %s bundle (random weights, q8) ==\n' "$CONFIG"
BUNDLE="$OUT/$CONFIG-q8.safetensors"
if [ ! -s "$BUNDLE" ] || [ "$CLI" -nt "$BUNDLE" ]; then
  case "$CONFIG" in
    demo)
      [ -n "${MOMASK_MINILM_DIR:-}" ] || setup_minilm
      vocab=(--minilm-dir "$MOMASK_MINILM_DIR") ;;
    *) vocab=(--clip-vocab ../shared/fixtures/clip/bpe_simple_vocab_16e6.txt.gz) ;;
  esac
  "$CLI" random-bundle --config "$CONFIG" --seed 1 "${vocab[@]}" --out "$OUT/$CONFIG-f32.safetensors"
  "$CLI" quantize --in "$OUT/$CONFIG-f32.safetensors" --out "$BUNDLE" --scheme q8
  rm -f "$OUT/$CONFIG-f32.safetensors"
fi
ls -l "$BUNDLE"

printf '\n== native CPU: momask bench --model (all threads, then 1 thread) ==\n'
"$CLI" bench --model "$BUNDLE" --frames "$FRAMES" --backend cpu --runs "$RUNS" --json | tee "$OUT/native.txt"
tail -n 1 "$OUT/native.txt" > "$OUT/native.json"
# wasm has one thread; burn-flex's rayon pool reads RAYON_NUM_THREADS.
RAYON_NUM_THREADS=1 "$CLI" bench --model "$BUNDLE" --frames "$FRAMES" --backend cpu --runs "$RUNS" --json | tee "$OUT/native1.txt"
tail -n 1 "$OUT/native1.txt" > "$OUT/native1.json"

printf '\n== browser: www/bench.html (wasm CPU, WebGPU on SwiftShader) ==\n'
node tests-web/bench.mjs --dist "${MOMASK_BENCH_DIST:-www/dist}" --bundle "$BUNDLE" --frames "$FRAMES" --runs "$RUNS" \
  --gpu-runs "${MOMASK_BENCH_GPU_RUNS:-1}" --gpu-steps "${MOMASK_BENCH_GPU_STEPS:-1}" \
  --native "$OUT/native.json" --native1 "$OUT/native1.json" --out "$OUT/result.json" | tee "$OUT/table.md"
printf '\n(%s, commit %s)\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo '+changes')" | tee -a "$OUT/table.md"
