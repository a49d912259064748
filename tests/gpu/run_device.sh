#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Device tests of the live collectors. Builds nothing: expects the build carried in
# $BUILD (default build-coll) with app/moetune, collectors/{cupti,nccl}/*.so,
# gpu/moe_client and devlib/ (libraries the device lacks). Runs, each recorded:
# 1-rank and 2-rank client jobs, a 2-rank torchrun job; checks them (check_run.py);
# fault cases; overhead (median step time, with/without each collector, armed-idle,
# torch.profiler). Writes runs, logs and results.json to $OUT.
set -u
BUILD=${BUILD:-build-coll}
FINAL=${OUT:-/tmp/moetune-out}
# At most a few files come back from the device: everything goes to $OUT (a work
# folder) and is packed into $FINAL/device.tar.gz at the end, with results.json.
OUT=$(mktemp -d)
mkdir -p "$FINAL"
ROOT=$(pwd)
M=$ROOT/$BUILD/app/moetune
C=$ROOT/$BUILD/gpu/moe_client
export LD_LIBRARY_PATH=$ROOT/$BUILD/devlib:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
export MOETUNE_LIB_DIR=$ROOT/$BUILD/devlib/collectors
mkdir -p "$MOETUNE_LIB_DIR"
cp "$ROOT/$BUILD/collectors/cupti/libmoetune_cupti.so" "$ROOT/$BUILD/collectors/nccl/libmoetune_nccl.so" "$MOETUNE_LIB_DIR/"
export NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 NCCL_NVLS_ENABLE=0
T=$(mktemp -d)
R=$OUT/results.jsonl
: > "$R"
note() { echo "$1" >> "$R"; }
CARGS=${CARGS:---steps 30 --warmup 5}

# run_client N PREFIX... : N client ranks on the one GPU, PREFIX before the client.
run_client() {
  local n=$1; shift
  rm -f "$T/id"
  local pids=()
  for ((r = 0; r < n; r++)); do
    RANK=$r WORLD_SIZE=$n NCCL_HOSTID=moehost$r timeout 60 "$@" "$C" --id "$T/id" $CARGS > "$T/client.$r.log" 2> "$T/client.$r.err" &
    pids+=($!)
  done
  local rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  return $rc
}
median_of() { python3 -c "import json,sys; v=[json.loads(l)['median_step_ms'] for f in sys.argv[1:] for l in open(f) if l.startswith('{')]; print(max(v) if v else -1)" "$@"; }

nvidia-smi --query-gpu=name,driver_version,pcie.link.gen.max,pcie.link.width.max --format=csv,noheader > "$OUT/gpu.txt" 2>&1
"$M" --version > "$OUT/version.txt" 2>&1

# ---- functional: 1 rank, 2 ranks (record inside the launcher, %r outputs + merge) ----
run_client 1 "$M" record -o "$T/c1.moetune" --
note "{\"case\": \"client1\", \"rc\": $?, \"median_ms\": $(median_of $T/client.0.log)}"
cp "$T"/client.0.err "$OUT/client1.err"
"$M" info "$T/c1.moetune" > "$OUT/client1.info.txt" 2>&1
python3 tests/gpu/check_run.py "$T/c1.moetune" --ranks 1 > "$OUT/client1.check.json"; note "{\"case\": \"client1_check\", \"rc\": $?}"

run_client 2 "$M" record -o "$T/c2-%r.moetune" --
note "{\"case\": \"client2\", \"rc\": $?, \"median_ms\": $(median_of $T/client.*.log)}"
cat "$T"/client.*.err > "$OUT/client2.err"
"$M" merge "$T/c2-0.moetune" "$T/c2-1.moetune" -o "$T/client2.moetune" 2>> "$OUT/client2.err"
"$M" info "$T/client2.moetune" > "$OUT/client2.info.txt" 2>&1
python3 tests/gpu/check_run.py "$T/client2.moetune" --ranks 2 > "$OUT/client2.check.json"; note "{\"case\": \"client2_check\", \"rc\": $?}"

# ---- torchrun, 2 ranks, record outside the launcher ----
export MOE_HOSTID_PER_RANK=1
timeout 120 "$M" record -o "$T/torch2.moetune" -- torchrun --standalone --nproc-per-node 2 tests/gpu/torch_moe.py --steps 20 --warmup 5 > "$T/torch.log" 2> "$OUT/torch2.err"
note "{\"case\": \"torch2\", \"rc\": $?, \"median_ms\": $(median_of $T/torch.log)}"
"$M" info "$T/torch2.moetune" > "$OUT/torch2.info.txt" 2>&1
python3 tests/gpu/check_run.py "$T/torch2.moetune" --ranks 2 > "$OUT/torch2.check.json"; note "{\"case\": \"torch2_check\", \"rc\": $?}"

finish() {
  mkdir -p "$OUT/runs"
  for f in c1 client2 torch2 attach killed2; do cp "$T/$f.moetune" "$OUT/runs/" 2>/dev/null; done
  python3 -c "import json; print(json.dumps([json.loads(l) for l in open('$R')], indent=1))" > "$OUT/results.json"
  cp "$OUT/results.json" "$FINAL/results.json"
  tar czf "$FINAL/device.tar.gz" -C "$OUT" .
  cat "$OUT"/*.check.json
  cat "$OUT/results.json"
  exit 0
}
[ "${SMOKE:-0}" = 1 ] && finish
# ---- faults ----
# exit status passes through
rm -f "$T/id"; RANK=0 WORLD_SIZE=1 NCCL_HOSTID=h0 timeout 60 "$M" record -o "$T/exit7.moetune" -- "$C" --id "$T/id" --steps 2 --warmup 0 --exit 7 > /dev/null 2> "$OUT/exit7.err"
note "{\"case\": \"exit_status_passthrough\", \"rc\": $?, \"want\": 7}"
# unwritable output directory: job runs, one warning, its exit status
rm -f "$T/id"; RANK=0 WORLD_SIZE=1 timeout 60 "$M" record -o /proc/nope/x.moetune -- "$C" --id "$T/id" --steps 2 --warmup 0 > /dev/null 2> "$OUT/unwritable.err"
note "{\"case\": \"unwritable_output\", \"rc\": $?, \"warnings\": $(grep -c moetune "$OUT/unwritable.err")}"
# CUPTI already taken by torch.profiler (torch.profiler inside a recorded job)
timeout 120 "$M" record -o "$T/torchprof.moetune" -- torchrun --standalone --nproc-per-node 1 tests/gpu/torch_moe.py --steps 5 --warmup 1 --profiler > "$T/tp.log" 2> "$OUT/cupti_taken.err"
note "{\"case\": \"cupti_taken_by_torch_profiler\", \"rc\": $?, \"median_ms\": $(median_of $T/tp.log)}"
# SIGKILL of the job: the per-process file opens and holds what was flushed
rm -f "$T/id"; RANK=0 WORLD_SIZE=1 "$M" record -o "$T/killed.moetune" --keep-parts -- "$C" --id "$T/id" --steps 100000 --warmup 0 > /dev/null 2> "$OUT/sigkill.err" &
RECPID=$!
sleep 4; JOB=$(pgrep -P $RECPID | head -1); kill -9 "$JOB"; wait $RECPID; note "{\"case\": \"sigkill_record_rc\", \"rc\": $?, \"want\": 137}"
ls -la "$T/killed.moetune.parts" > "$OUT/sigkill.ls.txt" 2>&1
P=$(ls "$T"/killed.moetune.parts/*.cupti.moetune 2>/dev/null | head -1)
"$M" info "$P" > "$OUT/sigkill.part.info.txt" 2>&1; a=$?
"$M" merge "$T/killed.moetune.parts" -o "$T/killed2.moetune" > /dev/null 2>> "$OUT/sigkill.err"; b=$?
"$M" info "$T/killed2.moetune" --json > "$OUT/sigkill.info.json" 2>&1
note "{\"case\": \"sigkill\", \"info_rc\": $a, \"merge_rc\": $b}"

# ---- attach: armed job, capture a window ----
rm -f "$T/id"; RANK=0 WORLD_SIZE=1 timeout 60 "$M" record --armed -o "$T/attach.moetune" -- "$C" --id "$T/id" --steps 30000 --warmup 0 > /dev/null 2> "$OUT/attach.err" &
RECPID=$!
sleep 4
CP=$(pgrep -P "$(pgrep -P $RECPID | head -1)" | head -1)  # timeout -> record -> client
"$M" attach "$CP" --status > "$OUT/attach.txt" 2>&1
"$M" attach "$CP" --duration 1s >> "$OUT/attach.txt" 2>&1; a=$?
"$M" attach "$CP" --steps 5 >> "$OUT/attach.txt" 2>&1; b=$?
"$M" attach "$CP" --status >> "$OUT/attach.txt" 2>&1
CD=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/moetune}; CD=${CD:-/tmp/moetune-$(id -u)}
ls -la "$CD" >> "$OUT/attach.txt" 2>&1
timeout 5 python3 -c "
import socket,glob
p=glob.glob('$CD/$CP.*.sock')
s=socket.socket(socket.AF_UNIX); s.connect(p[0]); s.sendall(b'bogus\x01\n'); print('malformed reply:', s.recv(200).decode().strip())" >> "$OUT/attach.txt" 2>&1
wait $RECPID
"$M" info "$T/attach.moetune" --json > "$OUT/attach.info.json" 2>&1
note "{\"case\": \"attach\", \"duration_rc\": $a, \"steps_rc\": $b}"

# ---- overhead: 2-rank client, median step (max over ranks) ----
export CARGS="--steps 40 --warmup 10"
for mode in base cuda nvtx nccl all armed; do
  case $mode in
    base|base2) run_client 2 env ;;
    all) run_client 2 "$M" record -o "$T/ov-%r.moetune" --force -- ;;
    armed) run_client 2 "$M" record --armed -o "$T/ov-%r.moetune" --force -- ;;
    *) run_client 2 "$M" record --what $mode -o "$T/ov-%r.moetune" --force -- ;;
  esac
  note "{\"case\": \"overhead_client2\", \"mode\": \"$mode\", \"median_ms\": $(median_of $T/client.*.log)}"
done
for mode in base all armed profiler; do
  case $mode in
    base) timeout 120 torchrun --standalone --nproc-per-node 2 tests/gpu/torch_moe.py > "$T/t.log" 2>/dev/null ;;
    all) timeout 120 "$M" record --force -o "$T/tov.moetune" -- torchrun --standalone --nproc-per-node 2 tests/gpu/torch_moe.py > "$T/t.log" 2>/dev/null ;;
    armed) timeout 120 "$M" record --armed --force -o "$T/tov.moetune" -- torchrun --standalone --nproc-per-node 2 tests/gpu/torch_moe.py > "$T/t.log" 2>/dev/null ;;
    profiler) timeout 120 torchrun --standalone --nproc-per-node 2 tests/gpu/torch_moe.py --profiler > "$T/t.log" 2>/dev/null ;;
  esac
  note "{\"case\": \"overhead_torch2\", \"mode\": \"$mode\", \"median_ms\": $(median_of $T/t.log)}"
done

finish
