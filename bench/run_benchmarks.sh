#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# CLI-level benchmarks (numbers go into bench/README.md). Usage:
#   bench/run_benchmarks.sh BUILD_DIR [WORK_DIR]
# Needs /usr/bin/time (GNU time) for peak RSS.
set -eu
B=${1:?build dir}; W=${2:-/tmp/moetune-bench}; M=$B/app/moetune
mkdir -p "$W"
t() { /usr/bin/time -f "  -> %e s wall, %M KB peak RSS" "$@"; }
echo "== machine: $(nproc) cores, $(uname -m), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "== synth 10M events, 8 ranks"
t $M synth -o "$W/big.moetune" --force --events 10000000
ls -l "$W/big.moetune" | awk '{printf "  file %.1f MB\n", $5/1e6}'
echo "== info on the 10M-event run"
t $M info "$W/big.moetune" > /dev/null
echo "== Kineto import: synth 2 ranks x ~2.2M events, export one rank, import it"
t $M synth -o "$W/k.moetune" --force --ranks 2 --topology nvlink:2 --events 4400000
t $M export "$W/k.moetune" --format chrome --rank 0 -o "$W/k0.json" --force
ls -l "$W/k0.json" | awk '{printf "  json %.1f MB\n", $5/1e6}'
t $M import "$W/k0.json" -o "$W/k0.moetune" --force
echo "== analyze on the 10M-event run"
if $M analyze --help > /dev/null 2>&1; then t $M analyze "$W/big.moetune" > /dev/null || true; fi
echo "== Kineto import + analyze of 8 SYNTHETIC rank files (2 M events), 3 runs; HTA beside it when importable"
python3 "$(dirname "$0")/compare_hta.py" --moetune "$M" --dir "$W/k8" --runs 3
echo "== same import on the calling thread only (MOETUNE_IMPORT_THREADS=1), for the parallel speed-up"
MOETUNE_IMPORT_THREADS=1 t $M import "$W"/k8/rank*.json -o "$W/k8seq.moetune" --force
