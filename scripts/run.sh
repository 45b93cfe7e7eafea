#!/usr/bin/env bash
# Builds the browser package and pages and the native CLI, then serves www/dist on
# http://localhost:8080 (PORT to change). The page loads the model from ?model=URL or, by
# default, assets/momask-demo.safetensors (served from the repository's assets/ when present).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8080}"
./scripts/build-web.sh
cargo build --release
if [ ! -f assets/momask-demo.safetensors ]; then
  echo "note: assets/momask-demo.safetensors is missing; open the page with ?model=<url of a bundle>"
fi
echo "open http://localhost:$PORT/ (iframe embed: /embed.html?prompt=..., <momask-viewer> alone: /bare.html, benchmark: /bench.html)"
exec node tests-web/serve.mjs www/dist "$PORT" --host 0.0.0.0 --mount /assets=assets --coi
