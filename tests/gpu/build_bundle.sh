#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the device bundle from a clean clone, on a Debian 12 machine with the CUDA toolkit in
# /usr/local/cuda (the GPU machine itself has no sqlite3.h/simdjson headers and no Qt):
#   BUILD/app/moetune                 the CLI (no Qt)
#   BUILD/collectors/{cupti,nccl}/    the collector libraries
#   BUILD/samples/moe_nccl            the CUDA/NCCL MoE sample
#   BUILD/gpu/moe_client              the small NCCL test client of the collector tests
#   BUILD/devlib/                     the shared libraries the GPU machine lacks (simdjson, sqlite3)
# Usage: BUILD=build-dev2 bash tests/gpu/build_bundle.sh   (then carry build-dev2-bundle to the device)
# Every script in tests/gpu takes the same BUILD variable; tests/gpu/README.md says which runs what.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-dev2}
bash scripts/setup-deps.sh
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOETUNE_WITH_UI=OFF -DMOETUNE_WITH_TESTS=OFF \
  -DMOETUNE_WITH_BENCH=OFF -DMOETUNE_WITH_FUZZ=OFF > "$BUILD.configure.log"
cmake --build "$BUILD" -j"$(nproc)" --target moetune moetune_cupti moetune_nccl moe_nccl
mkdir -p "$BUILD/gpu" "$BUILD/devlib"
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
"$NVCC" -O2 -std=c++17 -o "$BUILD/gpu/moe_client" tests/gpu/moe_client.cu -lnccl -L/usr/local/cuda/lib64
# Libraries the GPU machine lacks: whatever the CLI or a collector needs from Debian's
# simdjson/sqlite3 packages, copied with their SONAME.
for bin in "$BUILD/app/moetune" "$BUILD"/collectors/*/*.so; do
  ldd "$bin" | awk '/libsimdjson|libsqlite3/ {print $3}'
done | sort -u | while read -r lib; do cp -L "$lib" "$BUILD/devlib/"; done
# The bundle: only what the device scripts use, stripped (the device tool carries <= 64 MiB).
B=${BUNDLE:-$BUILD-bundle}
rm -rf "$B"
mkdir -p "$B/app" "$B/collectors/cupti" "$B/collectors/nccl" "$B/samples" "$B/gpu" "$B/devlib"
cp "$BUILD/app/moetune" "$B/app/"
cp "$BUILD"/collectors/cupti/*.so "$B/collectors/cupti/"
cp "$BUILD"/collectors/nccl/*.so "$B/collectors/nccl/"
cp "$BUILD/samples/moe_nccl" "$B/samples/"
cp "$BUILD/gpu/moe_client" "$B/gpu/"
cp "$BUILD"/devlib/* "$B/devlib/"
strip "$B/app/moetune" "$B"/collectors/*/*.so "$B/samples/moe_nccl" "$B/gpu/moe_client" "$B"/devlib/* 2>/dev/null || true
du -sh "$B"
echo "bundle: $B (run the device scripts with BUILD=$B)"
