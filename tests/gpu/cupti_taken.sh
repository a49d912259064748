#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fault case of issue 3: CUPTI taken by torch.profiler inside a recorded job. Runs the
# profiled 1-rank torch job 3 times (a race: one pass proves little). Each run must
# exit 0, print exactly one moetune warning line ("another CUPTI client ... took the
# activity buffers at ...") and leave a readable cupti part file and merged run.
# Sourced by run_device.sh (uses M, T, OUT, note, stats_of), or run alone:
#   BUILD=build-dev2 OUT=/tmp/ct bash tests/gpu/cupti_taken.sh   -> $OUT/device.tar.gz
if ! declare -F note > /dev/null; then
  set -u
  BUILD=${BUILD:-build-coll}
  FINAL=${OUT:-/tmp/moetune-out}
  OUT=$(mktemp -d); T=$(mktemp -d); mkdir -p "$FINAL"
  ROOT=$(pwd); M=$ROOT/$BUILD/app/moetune
  export LD_LIBRARY_PATH=$ROOT/$BUILD/devlib:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
  export MOETUNE_LIB_DIR=$ROOT/$BUILD/devlib/collectors
  mkdir -p "$MOETUNE_LIB_DIR"
  cp "$ROOT/$BUILD/collectors/cupti/libmoetune_cupti.so" "$ROOT/$BUILD/collectors/nccl/libmoetune_nccl.so" "$MOETUNE_LIB_DIR/"
  export NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 NCCL_NVLS_ENABLE=0
  R=$OUT/results.jsonl; : > "$R"
  note() { echo "${1%\}}, \"t\": $SECONDS}" >> "$R"; }
  stats_of() { python3 -c "
import json, sqlite3, sys
db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
print(json.dumps([dict(zip(('name', 'rank', 'severity', 'value'), r)) for r in
                  db.execute('SELECT name, rank, severity, value FROM stats ORDER BY name, rank')], indent=0))
" "$1" > "$OUT/$2.stats.json" 2>&1; }
  median_of() { python3 -c "import json,sys; v=[json.loads(l)['median_step_ms'] for f in sys.argv[1:] for l in open(f) if l.startswith('{')]; print(max(v) if v else -1)" "$@"; }
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
  python3 -c "import json; print(json.dumps([json.loads(l) for l in open('$R')], indent=1))" > "$OUT/results.json"
  cp "$OUT/results.json" "$FINAL/results.json"
  tar czf "$FINAL/device.tar.gz" -C "$OUT" .
  cat "$OUT/results.json"
fi
