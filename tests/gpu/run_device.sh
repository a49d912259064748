#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Device tests of the live collectors. Builds nothing: expects the build carried in
# $BUILD (default build-coll) with app/moetune, collectors/{cupti,nccl}/*.so,
# gpu/moe_client and devlib/ (libraries the device lacks). Runs, each recorded:
# 1-rank and 2-rank client jobs, a 2-rank torchrun job; checks them (check_run.py);
# fault cases; attach to an armed job; overhead (median step time, with/without each
# collector, armed-idle, torch.profiler). Writes runs, logs, check JSONs, the stats of
# each run (NAME.stats.json), attach.txt and results.json (each case with "t", the
# script's elapsed seconds) to $OUT. About 5-6 minutes on one H200.
set -u
BUILD=${BUILD:-build-coll}
FINAL=${OUT:-/tmp/moetune-out}
# At most a few files come back from the device: everything goes to $OUT (a work
# folder) and is packed into $FINAL/device.tar.gz at the end, with results.json.
OUT=$(mktemp -d)
mkdir -p "$FINAL"
source tests/gpu/device_env.sh
C=$ROOT/$BUILD/gpu/moe_client
export NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 NCCL_NVLS_ENABLE=0
T=$(mktemp -d)
R=$OUT/results.jsonl
: > "$R"
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

nvidia-smi --query-gpu=name,driver_version,pcie.link.gen.max,pcie.link.width.max --format=csv,noheader > "$OUT/gpu.txt" 2>&1
nvidia-smi topo -m > "$OUT/topo.txt" 2>&1
"$M" --version > "$OUT/version.txt" 2>&1

# ---- functional: 1 rank, 2 ranks (record inside the launcher, %r outputs + merge) ----
run_client 1 "$M" record -o "$T/c1.moetune" --
note "{\"case\": \"client1\", \"rc\": $?, \"median_ms\": $(median_of $T/client.0.log)}"
cp "$T"/client.0.err "$OUT/client1.err"
"$M" info "$T/c1.moetune" > "$OUT/client1.info.txt" 2>&1
python3 tests/gpu/check_run.py "$T/c1.moetune" --ranks 1 > "$OUT/client1.check.json"; note "{\"case\": \"client1_check\", \"rc\": $?}"
stats_of "$T/c1.moetune" client1

run_client 2 "$M" record -o "$T/c2-%r.moetune" --
note "{\"case\": \"client2\", \"rc\": $?, \"median_ms\": $(median_of $T/client.*.log)}"
cat "$T"/client.*.err > "$OUT/client2.err"
"$M" merge "$T/c2-0.moetune" "$T/c2-1.moetune" -o "$T/client2.moetune" 2>> "$OUT/client2.err"
"$M" info "$T/client2.moetune" > "$OUT/client2.info.txt" 2>&1
python3 tests/gpu/check_run.py "$T/client2.moetune" --ranks 2 > "$OUT/client2.check.json"; note "{\"case\": \"client2_check\", \"rc\": $?}"
stats_of "$T/client2.moetune" client2

# ---- torchrun, 2 ranks, record outside the launcher ----
export MOE_HOSTID_PER_RANK=1
timeout 120 "$M" record -o "$T/torch2.moetune" -- torchrun --standalone --nproc-per-node 2 tests/gpu/torch_moe.py --steps 20 --warmup 5 > "$T/torch.log" 2> "$OUT/torch2.err"
note "{\"case\": \"torch2\", \"rc\": $?, \"median_ms\": $(median_of $T/torch.log)}"
"$M" info "$T/torch2.moetune" > "$OUT/torch2.info.txt" 2>&1
python3 tests/gpu/check_run.py "$T/torch2.moetune" --ranks 2 > "$OUT/torch2.check.json"; note "{\"case\": \"torch2_check\", \"rc\": $?}"
stats_of "$T/torch2.moetune" torch2

finish() {
  mkdir -p "$OUT/runs"
  for f in c1 client2 torch2 attach killed2; do cp "$T/$f.moetune" "$OUT/runs/" 2>/dev/null; done
  pack_results
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
# CUPTI already taken by torch.profiler (torch.profiler inside a recorded job): 3 runs,
# each rc 0, one moetune warning, readable part (tests/gpu/cupti_taken.sh)
source tests/gpu/cupti_taken.sh
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
# The job is timeout -> record -> client; attach needs the client's pid (the process
# with the control sockets). Everything that could explain a failure goes to attach.txt.
A=$OUT/attach.txt
rm -f "$T/id"; RANK=0 WORLD_SIZE=1 timeout 90 "$M" record --armed -o "$T/attach.moetune" -- "$C" --id "$T/id" --steps 20000 --warmup 0 > /dev/null 2> "$T/attach.err" &
RECPID=$!
{ echo "uid=$(id -u) XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-<unset>} timeout pid=$RECPID"; } > "$A"
CP=; st=1
for i in $(seq 1 40); do  # up to 20 s for the client to start and listen
  sleep 0.5
  REC=$(pgrep -P "$RECPID" | head -1)
  [ -n "$REC" ] && CP=$(pgrep -P "$REC" | head -1)
  [ -z "$CP" ] && continue
  "$M" attach "$CP" --status >> "$A" 2>&1 && { st=0; break; }
done
echo "record pid=${REC:-none} client pid=${CP:-none} status_rc=$st after ${i}x0.5s" >> "$A"
ps -o pid,ppid,stat,etime,args -p "$RECPID" ${REC:+-p $REC} ${CP:+-p $CP} >> "$A" 2>&1
for d in ${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/moetune} /tmp/moetune-$(id -u); do echo "== $d"; ls -la "$d"; done >> "$A" 2>&1
echo "== attach $CP --duration 1s" >> "$A"
"$M" attach "${CP:-0}" --duration 1s >> "$A" 2>&1; a=$?
echo "rc=$a" >> "$A"; echo "== attach $CP --steps 5" >> "$A"
"$M" attach "${CP:-0}" --steps 5 >> "$A" 2>&1; b=$?
echo "rc=$b" >> "$A"; echo "== attach $CP --status" >> "$A"
"$M" attach "${CP:-0}" --status >> "$A" 2>&1
SOCK=$(ls ${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/moetune/$CP.*.sock} /tmp/moetune-$(id -u)/$CP.*.sock 2>/dev/null | head -1)
timeout 5 python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'bogus\x01\n'); print('malformed reply:', s.recv(200).decode().strip())" "$SOCK" >> "$A" 2>&1
wait $RECPID; r=$?
echo "== job rc=$r; job stderr:" >> "$A"; cat "$T/attach.err" >> "$A"
"$M" info "$T/attach.moetune" --json > "$OUT/attach.info.json" 2>&1
stats_of "$T/attach.moetune" attach
note "{\"case\": \"attach\", \"status_rc\": $st, \"duration_rc\": $a, \"steps_rc\": $b, \"job_rc\": $r}"

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
