#!/usr/bin/env bash
# Builds the browser package into pkg/ (wasm-pack + the JS wrapper from pkg-config/) and the
# pages in www/ into www/dist (webpack). Installs what it needs, skipping what is there:
# the wasm32 target, pinned wasm-pack and wasm-bindgen-cli (crates.io), npm packages (npm ci).
# Nothing is downloaded from outside crates.io and npm (wasm-opt comes from npm's binaryen).
#
#   scripts/build-web.sh            release build (wasm-opt -O3)
#   MOMASK_WEB_PROFILE=dev ...      debug build, no wasm-opt
#   MOMASK_WEB_WASM_OPT=0 ...        release build without wasm-opt (it takes minutes on a 30 MB module)
#   MOMASK_WEB_RELAXED=0 ...         without the second (relaxed-SIMD) module
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_PACK_VERSION=0.15.1
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/web}"
# SIMD128 makes burn-flex about 2.3x faster in wasm (all current browsers support it).
export RUSTFLAGS="${MOMASK_WEB_RUSTFLAGS:--C target-feature=+simd128}"
PROFILE="${MOMASK_WEB_PROFILE:-release}"

step() { printf '\n== %s ==\n' "$*"; }

step "toolchain"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
if [ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack $WASM_PACK_VERSION" ]; then
  cargo install --locked "wasm-pack@$WASM_PACK_VERSION"
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  # Not --locked: the CLI's own lock file may pin crates that no longer build with this toolchain.
  cargo install --force "wasm-bindgen-cli@$WASM_BINDGEN_VERSION"
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
echo "wasm-pack $WASM_PACK_VERSION, wasm-bindgen $WASM_BINDGEN_VERSION, target dir $CARGO_TARGET_DIR"

step "wasm-pack build ($PROFILE)"
# Size: the GPU backend's kernel compiler (cubecl/cubek's #[cube] expansions, the pliron IR, its
# parsers) is ~60 % of the code but runs on the CPU only while building a kernel, once per kernel
# and shape (cached after); optimising it for size instead of speed cuts the download a lot and
# leaves the CPU path (burn-flex, gemm, pulp/macerator SIMD, burn-dispatch, momask) and the
# per-launch runtime (cubecl-runtime/-server/-wgpu, wgpu) at opt-level 3. Web builds only
# (--config), so native builds keep opt-level 3 everywhere. MOMASK_WEB_SIZE_OPT=0 turns it off.
size_opt=()
if [ "${MOMASK_WEB_SIZE_OPT:-1}" != 0 ]; then
  for crate in burn-cubecl burn-wgpu cubecl-core cubecl-ir cubecl-std cubecl-opt \
      cubek cubek-attention cubek-convolution cubek-interpolate cubek-matmul cubek-pool \
      cubek-quant cubek-random cubek-reduce cubek-std cubek-tile pliron combine rustc_apfloat \
      awint_core awint_ext; do
    size_opt+=(--config "profile.$PROFILE.package.$crate.opt-level=\"s\"")
  done
fi
# --mode no-install: use the pinned wasm-bindgen above, never download one.
wasm-pack build --"$PROFILE" --mode no-install --target web --out-dir pkg --out-name momask \
  --no-pack . -- --no-default-features --features web "${size_opt[@]}"

# The second module: the same crate with the `relaxed-simd` feature (fused multiply-add in the
# CPU kernels), loaded instead where the browser has relaxed SIMD. Only momask itself is
# rebuilt (the dependencies are shared), and both modules must fit the one JS glue file.
# MOMASK_WEB_RELAXED=0 skips it (the package then falls back to momask_bg.wasm and says so in
# info.wasm; the browser tests expect both modules).
relaxed_dir="$CARGO_TARGET_DIR/pkg-relaxed"
rm -f pkg/momask_relaxed_bg.wasm
if [ "${MOMASK_WEB_RELAXED:-1}" != 0 ]; then
  step "wasm-pack build ($PROFILE, relaxed-SIMD module)"
  wasm-pack build --"$PROFILE" --mode no-install --target web --out-dir "$relaxed_dir" --out-name momask \
    --no-pack . -- --no-default-features --features web,relaxed-simd "${size_opt[@]}"
  # The glue differs only in comments (closure shim numbers).
  if ! diff -q <(grep -v '^ *//' pkg/momask.js) <(grep -v '^ *//' "$relaxed_dir/momask.js") >/dev/null; then
    echo "error: the relaxed-SIMD module needs other JS glue than momask_bg.wasm" >&2
    exit 1
  fi
  mv "$relaxed_dir/momask_bg.wasm" pkg/momask_relaxed_bg.wasm
fi

if [ "$PROFILE" = release ] && [ "${MOMASK_WEB_WASM_OPT:-1}" != 0 ]; then
  step "wasm-opt (npm binaryen)"
  # One process a module, side by side: wasm-opt -O3 runs on one core.
  pids=()
  for module in pkg/momask_bg.wasm pkg/momask_relaxed_bg.wasm; do
    [ -f "$module" ] || continue
    (
      raw=$(stat -c %s "$module")
      node_modules/.bin/wasm-opt -O3 --enable-simd --enable-relaxed-simd --enable-bulk-memory \
        --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
        --enable-reference-types --enable-multivalue "$module" -o "${module%.wasm}.opt.wasm"
      mv "${module%.wasm}.opt.wasm" "$module"
      echo "$module: $raw → $(stat -c %s "$module") bytes"
    ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
fi

step "package files (pkg-config/)"
cp pkg-config/index.js pkg-config/index.d.ts pkg-config/host.js pkg-config/worker.js pkg-config/util.js pkg-config/viewer.js pkg-config/viewer.d.ts pkg-config/README.md pkg/
version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync("pkg-config/package.json", "utf8"));
  p.version = process.argv[1];
  fs.writeFileSync("pkg/package.json", JSON.stringify(p, null, 2) + "\n");
' "$version"
rm -f pkg/.gitignore
for module in pkg/momask_bg.wasm pkg/momask_relaxed_bg.wasm; do
  if [ -f "$module" ]; then
    printf '%s: %s bytes, %s bytes gzipped\n' "${module#pkg/}" "$(stat -c %s "$module")" "$(gzip -9 -c "$module" | wc -c)"
  fi
done

step "webpack (www → www/dist)"
node_modules/.bin/webpack --mode production
echo "built pkg/ and www/dist/"
