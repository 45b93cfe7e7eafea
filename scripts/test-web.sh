#!/usr/bin/env bash
# Browser tests: builds the package and pages (scripts/build-web.sh), the native CLI, a bundle
# from the small fixture (CLIP), a random-weight q8 bundle of the demo configuration (MiniLM;
# needs MOMASK_MINILM_DIR, set by setup_minilm) and native reference joints
# (`momask generate --greedy`), then drives
# headless Debian Chromium (playwright-core, --enable-unsafe-webgpu: WebGPU on SwiftShader) through
# tests-web/run.mjs. One of its tests installs the packed package into a scratch webpack app in
# $TMPDIR (tests-web/webpack-app.mjs; the build is reused while pkg/ is unchanged).
# Ends with one line `N passed, M failed`.
#
#   MOMASK_WEB_SKIP_BUILD=1   reuse pkg/ and www/dist
#   MOMASK_WEB_TESTS=name,..  run only tests whose name contains one of these
#   MOMASK_WEB_SCREENSHOTS=docs  also copy the page screenshots (target/web-test/screenshots/)
#                             to docs/screenshots/
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

command -v chromium >/dev/null 2>&1 || apt_install chromium

if [ -z "${MOMASK_WEB_SKIP_BUILD:-}" ]; then
  ./scripts/build-web.sh
fi

printf '\n== native CLI and fixtures ==\n'
# The dev profile (dependencies optimised) is what `cargo test` already built: no second compile.
cargo build --bin momask --quiet
CLI=target/debug/momask
FIX=../shared/fixtures
OUT=target/web-test
mkdir -p "$OUT"
BUNDLE="$OUT/small.safetensors"
if [ ! -s "$BUNDLE" ] || [ "$CLI" -nt "$BUNDLE" ]; then
  "$CLI" convert --checkpoints "$FIX/momask-small/checkpoints" \
    --clip "$FIX/momask-small/clip/ViT-B-32-random.pt" \
    --clip-config "$FIX/momask-small/clip/clip_config.json" \
    --clip-vocab "$FIX/clip/bpe_simple_vocab_16e6.txt.gz" --out "$BUNDLE"
fi
# Reference joints, native CPU, greedy (deterministic): one fixed length and one estimated.
"$CLI" generate --model "$BUNDLE" --text "a person walks forward" --frames 40 --greedy --out "$OUT/ref_walk_40.json" >/dev/null
"$CLI" generate --model "$BUNDLE" --text "someone jumps up and down twice" --frames auto --greedy --out "$OUT/ref_jump_auto.json" >/dev/null
"$CLI" generate --model "$BUNDLE" --text "a person walks forward" --frames 40 --greedy --out "$OUT/ref_walk_40.bvh" >/dev/null
# Edits (joints and BVH sources) and long motions (a timeline, one prompt beyond 196 frames).
"$CLI" edit --model "$BUNDLE" --source "$OUT/ref_walk_40.json" --spans 8-24 --text "a person jumps" --greedy --out "$OUT/ref_edit_json.json" >/dev/null
"$CLI" edit --model "$BUNDLE" --source "$OUT/ref_walk_40.bvh" --spans 8-24 --text "a person jumps" --greedy --out "$OUT/ref_edit_bvh.json" >/dev/null
"$CLI" generate --model "$BUNDLE" --timeline "a person walks forward#6s; a person jumps#4.4s" --greedy --out "$OUT/ref_timeline.json" >/dev/null
"$CLI" generate --model "$BUNDLE" --text "a person walks forward" --frames 240 --greedy --out "$OUT/ref_long_240.json" >/dev/null

# The demo configuration (MiniLM text encoder, WordPiece tokenizer) with random weights,
# quantized to q8 like the shipped demo model (its f32 form is ~100 MB), and its references.
[ -n "${MOMASK_MINILM_DIR:-}" ] || setup_minilm
DEMO="$OUT/demo-q8.safetensors"
if [ ! -s "$DEMO" ] || [ "$CLI" -nt "$DEMO" ]; then
  "$CLI" random-bundle --config demo --seed 5 --minilm-dir "$MOMASK_MINILM_DIR" --out "$OUT/demo-f32.safetensors"
  "$CLI" quantize --in "$OUT/demo-f32.safetensors" --out "$DEMO" --scheme q8
  rm -f "$OUT/demo-f32.safetensors"
fi
"$CLI" generate --model "$DEMO" --text "a person walks forward and waves" --frames 40 --greedy --out "$OUT/ref_demo_walk_40.json" >/dev/null
"$CLI" generate --model "$DEMO" --text "someone jumps up and down twice" --frames auto --greedy --out "$OUT/ref_demo_jump_auto.json" >/dev/null
"$CLI" generate --model "$DEMO" --text "Ein Mensch läuft VORWÄRTS, dann 跳 — 🙂 [SEP] waves" --frames 20 --greedy --out "$OUT/ref_demo_unicode_20.json" >/dev/null

printf '\n== browser tests ==\n'
node tests-web/run.mjs --dist www/dist --pkg pkg --fixtures "$OUT"
