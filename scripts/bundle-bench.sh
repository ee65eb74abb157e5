#!/usr/bin/env bash
# Packs the Release build's binaries, the shared libraries they load (with
# this system's dynamic loader) and gzip-compressed MNIST into
# build-device/bundle.tar.xz, plus build-device/run.sh, which runs the engine
# tests and the benchmarks on every SIMD target from that bundle on another
# x86-64 Linux machine, whatever its own libraries (the device tool carries
# both files: about 24 MB). The model benchmarked: $1, a model.bin (the main
# job's, for the README's tables).
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: scripts/bundle-bench.sh runs/mnist-quick-RUN/model.bin}"
bundle=build-device/bundle
rm -rf build-device && mkdir -p "$bundle/lib" "$bundle/bin" "$bundle/data/mnist"
bins=(build/spiketime build/tests/spiketime_tests build/bench/snn_vs_ann build/bench/bench_engine)
for f in $(ldd "${bins[@]}" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do cp -L "$f" "$bundle/lib/"; done
cp "${bins[@]}" "$bundle/bin/"
data="${SPIKETIME_DATA:-data}/mnist"
for f in "$data"/*-ubyte; do gzip -c "$f" > "$bundle/data/mnist/$(basename "$f")"; done  # the reader takes gzip
cp "$model" "$bundle/model.bin"
tar -C build-device -cJf build-device/bundle.tar.xz bundle
cat > build-device/run.sh <<'RUN'
#!/usr/bin/env bash
# Unpacks the bundle and measures every SIMD target of this CPU; the log goes
# to $OUT/device.log (or /tmp). Benchmarks pinned to two cores.
set -u
cd "$(dirname "$0")"
tar -xJf bundle.tar.xz
cd bundle
L="lib/ld-linux-x86-64.so.2 --library-path lib"
export SPIKETIME_DATA=$PWD/data
{
lscpu | grep -E "Model name|^CPU\(s\)"
$L bin/spiketime --version
targets=$($L bin/spiketime --version | sed -n 's/^SIMD targets of this CPU: //p')
F="*LayerVsReference*:WideLayers.*:SingleSpike.*:EdgeCases.*:*GradientsVsFiniteDifferences*:*CrossingPaths*:Trainer.*:Targets.*:ModelFile.*"
for t in $targets; do
  echo "== tests on $t"; SPIKETIME_TARGET=$t timeout 120 $L bin/spiketime_tests --gtest_filter="$F" --gtest_brief=1 2>&1 | tail -2
  echo "== bench $t"; SPIKETIME_TARGET=$t timeout 200 taskset -c 2,3 $L bin/snn_vs_ann --model model.bin --samples 10000 --no-scaling --repeats 3
  echo "== one epoch on 2 threads, $t"
  SPIKETIME_TARGET=$t timeout 120 taskset -c 2,3 $L bin/spiketime train --dataset mnist --epochs 1 --set threads=2 --out runs/ep-$t 2>&1 | tail -2
done
} 2>&1 | tee "${OUT:-/tmp}/device.log"
RUN
chmod +x build-device/run.sh
ls -la build-device/bundle.tar.xz
