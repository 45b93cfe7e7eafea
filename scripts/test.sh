#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs (skipping what is already
# there), then runs formatting and lint checks, the Rust tests (CPU and, through Mesa's lavapipe,
# burn-wgpu), and the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_native_test_deps
setup_minilm

step() { printf '\n== %s ==\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --all-targets -- -D warnings

step "cargo test (CPU + wgpu on lavapipe)"
MOMASK_REQUIRE_WGPU=1 MOMASK_REQUIRE_MINILM=1 cargo test --all-targets -- --test-threads=1

if [ -x scripts/test-web.sh ]; then
  step "browser tests"
  ./scripts/test-web.sh
fi
