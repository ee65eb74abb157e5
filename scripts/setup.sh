#!/usr/bin/env bash
# From a fresh machine to a result: Debian packages, data (checksummed), a
# Release build, then the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-data.sh "${SPIKETIME_DATA:-data}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)"
# The main job: a few minutes of multi-spike MNIST training with the default
# config (full-length runs: see the README), then its test accuracy.
run_dir="runs/mnist-quick-$(date +%Y%m%d-%H%M%S)"
echo "== main job: build/spiketime train --dataset mnist --epochs 10 --out $run_dir"
build/spiketime train --dataset mnist --epochs 10 --out "$run_dir"
