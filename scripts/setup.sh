#!/usr/bin/env bash
# From a fresh machine to a result: Debian packages, data (checksummed), a
# Release build, then the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-data.sh "${SPIKETIME_DATA:-data}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)"
echo "== main job: spiketime simulate examples/two_layer.json --grad"
build/spiketime simulate examples/two_layer.json --grad
