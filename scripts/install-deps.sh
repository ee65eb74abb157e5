#!/usr/bin/env bash
# Installs the Debian packages spiketime builds, tests, fuzzes (clang) and trains with;
# with --experiments also what experiments/ plots with (matplotlib). Idempotent: asks apt only for what is missing.
set -euo pipefail
packages=(
  cmake g++ make
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev zlib1g-dev libopenblas-dev libhwy-dev
  pkg-config libhdf5-dev pybind11-dev python3-dev
  clang libclang-rt-14-dev
  python3 python3-numpy python3-h5py python3-pytest python3-torch libopenblas0-pthread
  dataset-fashion-mnist
)
case "${1:-}" in
  "") ;;
  --experiments) packages+=(python3-matplotlib) ;;
  *) echo "install-deps.sh: unknown option '$1' (only --experiments)" >&2; exit 2 ;;
esac
command -v npm > /dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
