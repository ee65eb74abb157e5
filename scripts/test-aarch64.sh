#!/usr/bin/env bash
# Cross-builds spiketime for aarch64 (Debian's g++-aarch64-linux-gnu and the
# arm64 libraries) and runs the engine's tests under qemu-user-static on
# every Arm target the build has (neon, scalar). Not part of CI: emulation
# takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
packages=(g++-aarch64-linux-gnu qemu-user-static libhwy-dev:arm64 libgtest-dev:arm64 zlib1g-dev:arm64
          nlohmann-json3-dev libcli11-dev cmake make)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DSPIKETIME_WERROR=ON -DSPIKETIME_BUILD_BENCH=OFF -DSPIKETIME_NIR=OFF -DSPIKETIME_PYTHON=OFF > /dev/null
cmake --build build-aarch64 -j "$(nproc)" --target spiketime_tests
# The engine's tests: the neuron math, exactness against RK4 and finite
# differences, edge cases, float32 against float64, the optimizer kernel
# against its formulas, and the same bits on every target (random networks,
# and two epochs of training with both optimizers). Left to the
# native runs: the CLI tests (they start the aarch64 CLI as a child process,
# which needs binfmt support), the data tests (MNIST), and the trainer's
# other tests, which start threads: under this qemu-user (Debian 12's 7.2)
# even a bare std::thread never starts.
filter="*LayerVsReference*:*Float32*:Trainer.*OptimizerStep*:WideLayers.*:SingleSpike.*:EdgeCases.*:*GradientsVsFiniteDifferences*:SharedInputTimes.*:*CrossingPaths*:Targets.*:Neuron.*:Encoding.*"
for target in neon scalar; do
  echo "== aarch64, SPIKETIME_TARGET=$target"
  SPIKETIME_TARGET=$target qemu-aarch64-static -L /usr/aarch64-linux-gnu build-aarch64/tests/spiketime_tests \
    --gtest_filter="$filter" --gtest_brief=1
done
