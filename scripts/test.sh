#!/usr/bin/env bash
# Builds with warnings as errors and runs the test suite, then the same suite
# under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSPIKETIME_WERROR=ON > /dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPIKETIME_SANITIZE=ON -DSPIKETIME_WERROR=ON > /dev/null
cmake --build build-sanitize -j "$jobs" --target spiketime_tests spiketime_cli
# Under the sanitizers, all but the two long accuracy checks (a full Yin-Yang
# training run, the shipped models on 10,000 test images each): they run
# the same code as the shorter tests, only longer, and took half of this
# run's time; the Release run above checks their figures.
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-sanitize --output-on-failure -j "$jobs" \
  -E '^(Training.YinYangFromTheDefaultsReaches95Percent|ShippedModels.EvalReproducesTheRecordedFigures)$'
