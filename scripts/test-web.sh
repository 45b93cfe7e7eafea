#!/usr/bin/env bash
# Browser tests: builds the package and pages (scripts/build-web.sh), the native CLI, a bundle
# from the small fixture and native reference joints (`momask generate --greedy`), then drives
# headless Debian Chromium (playwright-core, --enable-unsafe-webgpu: WebGPU on SwiftShader) through
# tests-web/run.mjs. Ends with one line `N passed, M failed`.
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

printf '\n== browser tests ==\n'
node tests-web/run.mjs --dist www/dist --fixtures "$OUT"
