#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Device tier for the MoE samples: correctness (N-rank output == 1-rank reference) and the
# tokens/s table of samples/README.md, on however many GPUs the machine has (ranks beyond the
# GPU count become emulated nodes: one NCCL_HOSTID each, sockets over loopback).
# usage: tests/gpu/samples_device.sh BIN_DIR OUT_DIR [check|measure|torch|capacity|all]...
# BIN_DIR holds moe_nccl and moe_hot_placement. Writes OUT_DIR/{check.jsonl,results.jsonl,log.txt,
# kineto.tgz}. Exit 1 if a correctness check fails or a run crashes.
set -u
BIN=$1 OUT=$2
shift 2
WHAT=${*:-all}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$HERE/../..
MOE=$BIN/moe_nccl
HOT=$BIN/moe_hot_placement
TMP=$(mktemp -d)
mkdir -p "$OUT"
export NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export NCCL_MAX_NCHANNELS=${NCCL_MAX_NCHANNELS:-2} NCCL_MIN_NCHANNELS=${NCCL_MIN_NCHANNELS:-1}
export PYTHONUNBUFFERED=1
NGPU=$(nvidia-smi -L 2>/dev/null | grep -c GPU)
FAILED=0
log() { echo "$*" | tee -a "$OUT/log.txt"; }
log "samples_device: $(date -u +%FT%TZ) gpus=$NGPU $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"

# result LABEL RC T0 OUT: a run that exited 0 puts OUT's last JSON line (+ "label") in
# results.jsonl and logs "ok" with its tokens/s and median step time; any other sets FAILED
# and logs "FAIL" (the caller then logs the run's error tails). Returns 0 for ok.
result() {
  local label=$1 rc=$2 t0=$3 out=$4
  if [ "$rc" -eq 0 ]; then
    python3 -c 'import json,sys; j=json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1]); j["label"]=sys.argv[2]; print(json.dumps(j))' \
      "$out" "$label" >>"$OUT/results.jsonl"
    log "ok   $label ($((SECONDS - t0)) s) $(tail -n 1 "$OUT/results.jsonl" | grep -o '"tokens_per_s": [0-9.e+]*, "median_step_ms": [0-9.e+]*')"
    return 0
  fi
  FAILED=1
  log "FAIL $label rc=$rc ($((SECONDS - t0)) s)"
  return 1
}

# run_moe LABEL NRANKS ARGS...: one process per rank; rank 0's JSON line (+label) -> results.jsonl
run_moe() {
  local label=$1 n=$2
  shift 2
  local id=$TMP/id.$label pids=() rc=0 t0=$SECONDS
  rm -f "$id"
  for ((r = 0; r < n; r++)); do
    local hostid=""
    [ "$n" -gt "$NGPU" ] && hostid="NCCL_HOSTID=moe-node$r"
    env $hostid RANK=$r WORLD_SIZE=$n timeout 60 "$MOE" --init-file "$id" "$@" >"$TMP/$label.out$r" 2>"$TMP/$label.err$r" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  if ! result "$label" "$rc" "$t0" "$TMP/$label.out0"; then
    for ((r = 0; r < n; r++)); do tail -n 3 "$TMP/$label.err$r" | sed "s/^/  rank$r: /" | tee -a "$OUT/log.txt"; done
  fi
}

# run_torch LABEL NRANKS ARGS...: torchrun, emulated nodes when ranks > GPUs.
run_torch() {
  local label=$1 n=$2 rc=0 t0=$SECONDS emu=""
  shift 2
  [ "$n" -gt "$NGPU" ] && emu=--emulate-nodes
  timeout 120 torchrun --standalone --nproc-per-node "$n" "$ROOT/samples/torch_moe/torch_moe.py" $emu "$@" \
    >"$TMP/$label.out" 2>"$TMP/$label.err" || rc=$?
  if ! result "$label" "$rc" "$t0" "$TMP/$label.out"; then
    grep -v "^\s*$" "$TMP/$label.err" | tail -n 8 | sed 's/^/  /' | tee -a "$OUT/log.txt"
  fi
}

compare() {  # compare LABEL REF TOL
  python3 "$HERE/samples_compare.py" "$1" "$TMP/$1" "$TMP/$2" "$3" | tee -a "$OUT/check.jsonl" || {
    FAILED=1
    log "CHECK FAIL $1"
  }
}

want() { [[ " $WHAT " == *" $1 "* || (" $WHAT " == *" all "* && $1 != torch2) ]]; }

if want check; then
  C="--experts 8 --top-k 2 --hidden 256 --ffn 512 --layers 2 --steps 2 --warmup 0 --skew 1.0 --seed 5"
  "$HOT" 8 2 2 1.0 5 2 "$TMP/rep2.json" && "$HOT" 8 4 2 1.0 5 3 "$TMP/rep4.json"
  for dt in fp32 bf16 fp16; do
    run_moe ref2_$dt 1 $C --tokens 512 --comm-dtype $dt --check-out "$TMP/ref2_$dt"
  done
  run_moe ref4_fp32 1 $C --tokens 1024 --check-out "$TMP/ref4_fp32"
  run_moe ref4_bf16 1 $C --tokens 1024 --comm-dtype bf16 --check-out "$TMP/ref4_bf16"
  declare -A TOL=([fp32]=1e-4 [bf16]=1e-2 [fp16]=2e-3)
  for dt in fp32 bf16 fp16; do
    run_moe c2_$dt 2 $C --tokens 256 --comm-dtype $dt --check-out "$TMP/c2_$dt"
    compare c2_$dt ref2_$dt ${TOL[$dt]}
    run_moe c2_${dt}_overlap4 2 $C --tokens 256 --comm-dtype $dt --overlap-chunks 4 --check-out "$TMP/c2_${dt}_overlap4"
    compare c2_${dt}_overlap4 ref2_$dt ${TOL[$dt]}
  done
  run_moe c2_fp32_replicated 2 $C --tokens 256 --placement "$TMP/rep2.json" --check-out "$TMP/c2_fp32_replicated"
  compare c2_fp32_replicated ref2_fp32 1e-4
  run_moe c4_fp32_rep_overlap3 4 $C --tokens 256 --placement "$TMP/rep4.json" --overlap-chunks 3 --check-out "$TMP/c4_fp32_rep_overlap3"
  compare c4_fp32_rep_overlap3 ref4_fp32 1e-4
  run_moe c4_bf16_rep_overlap2 4 $C --tokens 256 --comm-dtype bf16 --placement "$TMP/rep4.json" --overlap-chunks 2 --check-out "$TMP/c4_bf16_rep_overlap2"
  compare c4_bf16_rep_overlap2 ref4_bf16 1e-2
fi

if want measure; then
  M="--experts 8 --top-k 2 --hidden 1024 --ffn 4096 --tokens 2048 --layers 2 --steps 20 --warmup 3 --skew 1.2 --seed 1"
  run_moe n1_nocomm 1 $M
  for n in 2 4; do
    "$HOT" 8 $n 2 1.2 1 2 "$TMP/hot$n.json"
    run_moe n${n}_baseline $n $M
    run_moe n${n}_bf16 $n $M --comm-dtype bf16
    run_moe n${n}_overlap4 $n $M --overlap-chunks 4
    run_moe n${n}_placement $n $M --placement "$TMP/hot$n.json"
    run_moe n${n}_combined $n $M --comm-dtype bf16 --overlap-chunks 4 --placement "$TMP/hot$n.json"
  done
  run_moe n2_grad_allreduce 2 $M --grad-allreduce
  run_moe n2_slow_rank1x3 2 $M --slow-rank 1:3
fi

if want measure2; then
  # Follow-ups to the table: the knobs that helped, together without chunking; fewer chunks;
  # a compute-heavier FFN (where overlap has compute to hide behind); NCCL socket knobs.
  M="--experts 8 --top-k 2 --hidden 1024 --ffn 4096 --tokens 2048 --layers 2 --steps 20 --warmup 3 --skew 1.2 --seed 1"
  MH="--experts 8 --top-k 2 --hidden 1024 --ffn 16384 --tokens 2048 --layers 2 --steps 20 --warmup 3 --skew 1.2 --seed 1"
  for n in 2 4; do
    "$HOT" 8 $n 2 1.2 1 2 "$TMP/hot$n.json"
    run_moe n${n}_bf16_placement $n $M --comm-dtype bf16 --placement "$TMP/hot$n.json"
  done
  run_moe n2_overlap2 2 $M --overlap-chunks 2
  run_moe n1_ffn16k_nocomm 1 $MH
  run_moe n2_ffn16k_baseline 2 $MH
  run_moe n2_ffn16k_overlap2 2 $MH --overlap-chunks 2
  run_moe n2_ffn16k_overlap4 2 $MH --overlap-chunks 4
  export NCCL_NSOCKS_PERTHREAD=4 NCCL_SOCKET_NTHREADS=2
  run_moe n2_baseline_socks4x2 2 $M
  unset NCCL_NSOCKS_PERTHREAD NCCL_SOCKET_NTHREADS
fi

if want torch; then
  TC="--experts 8 --top-k 2 --hidden 256 --ffn 512 --layers 2 --steps 2 --warmup 0 --skew 1.0 --seed 5"
  "$HOT" 8 2 2 1.0 5 2 "$TMP/trep2.json"
  run_torch tref_fp32 1 $TC --tokens 512 --check-out "$TMP/tref_fp32"
  run_torch tc2_fp32_rep_overlap2 2 $TC --tokens 256 --overlap-chunks 2 --placement "$TMP/trep2.json" --check-out "$TMP/tc2_fp32_rep_overlap2"
  compare tc2_fp32_rep_overlap2 tref_fp32 1e-4
  TM="--experts 8 --top-k 2 --hidden 1024 --ffn 4096 --tokens 2048 --layers 2 --steps 10 --warmup 3 --skew 1.2 --seed 1"
  run_torch t2_baseline 2 $TM
  run_torch t2_bf16 2 $TM --comm-dtype bf16
  run_torch t2_profiler 2 --experts 8 --top-k 2 --hidden 512 --ffn 1024 --tokens 1024 --layers 2 --steps 3 --warmup 1 \
    --skew 1.2 --torch-profiler "$TMP/kineto"
  (cd "$TMP" && tar czf "$OUT/kineto.tgz" kineto 2>/dev/null && ls -la kineto | tee -a "$OUT/log.txt")
fi
if want capacity; then
  # torch_moe --dispatch capacity (no host sync): with room for every assignment (factor 64) the
  # output must equal the dropless 1-rank reference, here with a replicated expert and 2 chunks.
  TC="--experts 8 --top-k 2 --hidden 256 --ffn 512 --layers 2 --steps 2 --warmup 0 --skew 1.0 --seed 5"
  python3 -c 'import json,sys; m={str(e): [e % 2] for e in range(8)}; m["3"] = [1, 0]
json.dump({"format": "moetune-placement", "version": 1, "experts": 8, "ranks": 2, "layers": {"0": m, "1": m}}, open(sys.argv[1], "w"))' \
    "$TMP/crep2.json"
  run_torch cref_fp32 1 $TC --tokens 512 --check-out "$TMP/cref_fp32"
  run_torch cc1_capacity 1 $TC --tokens 512 --dispatch capacity --capacity-factor 64 --check-out "$TMP/cc1_capacity"
  compare cc1_capacity cref_fp32 1e-4
  run_torch cc2_capacity_rep_overlap2 2 $TC --tokens 256 --overlap-chunks 2 --placement "$TMP/crep2.json" \
    --dispatch capacity --capacity-factor 64 --check-out "$TMP/cc2_capacity_rep_overlap2"
  compare cc2_capacity_rep_overlap2 cref_fp32 1e-4
fi
if want torch2; then
  TM="--experts 8 --top-k 2 --hidden 1024 --ffn 4096 --tokens 2048 --layers 2 --steps 10 --warmup 3 --skew 1.2 --seed 1"
  run_torch t4_baseline 4 $TM
  run_torch t4_bf16 4 $TM --comm-dtype bf16
  "$HOT" 8 2 2 1.2 1 2 "$TMP/thot2.json"
  run_torch t2_profiler_placement 2 --experts 8 --top-k 2 --hidden 512 --ffn 1024 --tokens 1024 --layers 2 --steps 3 \
    --warmup 1 --skew 1.2 --placement "$TMP/thot2.json" --torch-profiler "$TMP/kineto"
  (cd "$TMP" && tar czf "$OUT/kineto.tgz" kineto 2>/dev/null && ls -la kineto | tee -a "$OUT/log.txt")
fi
log "samples_device: done, failed=$FAILED"
exit $FAILED
