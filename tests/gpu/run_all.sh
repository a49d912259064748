#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every GPU test in one go, from the repository root of a clean clone with the bundle beside it
# (tests/gpu/README.md): runs the chosen parts, each with its own log, and writes
# $OUT/results.json: per part its exit status, seconds and output folder.
# Usage: BUILD=build-dev2-bundle OUT=DIR bash tests/gpu/run_all.sh [PARTS]
#   PARTS (comma list, default device,calibration,torchrun,probe,multi):
#   device       run_device.sh: collectors end to end, fault cases, attach, overhead
#   calibration  calibration.sh: the tuning loop (A), placement alone (A2), torch.profiler job (B),
#                gradient compression (C), the Python helper under record (D)
#   loop         tuning_loop.sh alone (N=4 emulated nodes; calibration's part A runs it too)
#   torchrun     torchrun_nodes.sh: multi-node torchrun emulated on one machine, record + merge
#   probe        host_sync_probe.py: blocking CUDA calls the Python helper adds
#   multi        multi_gpu.sh (only with 2+ GPUs; skipped otherwise, rc 0 and "skipped")
set -u
ROOT=$(pwd)
BUILD=${BUILD:-build-dev2-bundle}
OUT=${OUT:-/tmp/moetune-gpu}
mkdir -p "$OUT"
PARTS=${1:-device,calibration,torchrun,probe,multi}
NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
export LD_LIBRARY_PATH=$ROOT/$BUILD/devlib:${LD_LIBRARY_PATH:-}
: > "$OUT/results.jsonl"
part() {  # part NAME DIR CMD...: run CMD, log to $OUT/NAME.log, one result line
  local name=$1 dir=$2; shift 2
  local t0=$SECONDS
  "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "{\"part\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - t0)), \"out\": \"$dir\"}" >> "$OUT/results.jsonl"
}
for p in ${PARTS//,/ }; do
  case $p in
    device) part device "$OUT/device" env BUILD="$BUILD" OUT="$OUT/device" bash tests/gpu/run_device.sh ;;
    calibration) part calibration "$OUT/cal" env BUILD="$BUILD" OUT="$OUT/cal" bash tests/gpu/calibration.sh ;;
    loop) part loop "$OUT/loop" env BUILD="$BUILD" N=4 EMULATE=1 NAME=emul4 bash tests/gpu/tuning_loop.sh "$OUT/loop" ;;
    torchrun) part torchrun "$OUT/torchrun" env BUILD="$BUILD" bash tests/gpu/torchrun_nodes.sh "$OUT/torchrun" ;;
    probe) part probe "$OUT/host_sync.json" python3 tests/gpu/host_sync_probe.py "$OUT/host_sync.json" ;;
    multi)
      if [ "$NGPU" -ge 2 ]; then
        part multi "$OUT/multi" env BUILD="$BUILD" bash tests/gpu/multi_gpu.sh "$OUT/multi"
      else
        echo "{\"part\": \"multi\", \"rc\": 0, \"seconds\": 0, \"out\": \"skipped: $NGPU GPU\"}" >> "$OUT/results.jsonl"
      fi ;;
    *) echo "run_all.sh: unknown part '$p' (device, calibration, loop, torchrun, probe, multi)" >&2; exit 2 ;;
  esac
done
python3 -c "import json,sys; print(json.dumps({'gpus': $NGPU, 'parts': [json.loads(l) for l in open(sys.argv[1])]}, indent=1))" \
  "$OUT/results.jsonl" > "$OUT/results.json"
cat "$OUT/results.json"
! grep -q '"rc": [1-9]' "$OUT/results.jsonl"
