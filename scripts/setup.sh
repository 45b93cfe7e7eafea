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
