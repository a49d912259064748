#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fault case of issue 3: CUPTI taken by torch.profiler inside a recorded job. Runs the
# profiled 1-rank torch job 3 times (a race: one pass proves little). Each run must
# exit 0, print exactly one moetune warning line ("another CUPTI client ... took the
# activity buffers at ...") and leave a readable cupti part file and merged run.
# Sourced by run_device.sh (uses M, T, OUT and device_env.sh's functions), or run alone:
#   BUILD=build-dev2 OUT=/tmp/ct bash tests/gpu/cupti_taken.sh   -> $OUT/device.tar.gz
if ! declare -F note > /dev/null; then
  set -u
  BUILD=${BUILD:-build-coll}
  FINAL=${OUT:-/tmp/moetune-out}
  OUT=$(mktemp -d); T=$(mktemp -d); mkdir -p "$FINAL"
  source tests/gpu/device_env.sh
  export NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 NCCL_NVLS_ENABLE=0
  R=$OUT/results.jsonl; : > "$R"
  CT_ALONE=1
fi
command -v nsys > "$OUT/nsys.txt" 2>&1 || echo "nsys: not on this machine" > "$OUT/nsys.txt"
for i in 1 2 3; do
  E=$OUT/cupti_taken$i.err
  timeout 120 "$M" record -o "$T/torchprof$i.moetune" --keep-parts -- torchrun --standalone --nproc-per-node 1 tests/gpu/torch_moe.py --steps 5 --warmup 1 --profiler > "$T/tp$i.log" 2> "$E"
  rc=$?
  # moetune lines other than record's own summary ("moetune: wrote ...")
  warns=$(grep 'moetune: ' "$E" | grep -vc 'moetune: wrote ')
  taken=$(grep -c 'another CUPTI client' "$E")
  unknown=$(grep -c 'unknown buffer' "$E")
  crash=$(grep -ciE 'malloc\(\)|double free|corrupted|SIGABRT|SIGSEGV|Signal [0-9]+|core dumped' "$E")
  P=$(ls "$T"/torchprof$i.moetune.parts/*.cupti.moetune 2>/dev/null | head -1)
  "$M" info "$P" > "$OUT/cupti_taken$i.part.info.txt" 2>&1; prc=$?
  "$M" info "$T/torchprof$i.moetune" > "$OUT/cupti_taken$i.info.txt" 2>&1; irc=$?
  stats_of "$T/torchprof$i.moetune" cupti_taken$i
  cp "$T/torchprof$i.moetune" "$OUT/" 2>/dev/null
  note "{\"case\": \"cupti_taken_by_torch_profiler\", \"run\": $i, \"rc\": $rc, \"warnings\": $warns, \"taken_lines\": $taken, \"kineto_unknown_buffer\": $unknown, \"crash_lines\": $crash, \"part_info_rc\": $prc, \"info_rc\": $irc, \"median_ms\": $(median_of $T/tp$i.log)}"
done
if [ "${CT_ALONE:-0}" = 1 ]; then
  pack_results
  cat "$OUT/results.json"
fi
