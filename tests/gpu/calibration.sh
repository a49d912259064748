#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Predicted vs measured on the device (the calibration table of the README). Two loops:
#  A. moe_nccl on N emulated nodes (tests/gpu/tuning_loop.sh: record, analyze, plan, apply --record, diff),
#     then `moetune diff --profile` prints each applied finding's predicted gain next to the measured one.
#  B. torch_moe as a plain user job (no moetune NVTX text: --no-marks) traced by torch.profiler only:
#     import the Kineto files, analyze, plan, apply the profile to the same command, import again, diff;
#     the sample's own timer (no profiler) gives the measured step times before and after.
#  C. grad_compression: torch_moe with an fp32 gradient all-reduce, traced by torch.profiler and analysed
#     (the prediction), then timed with --grad-dtype fp32 and bf16 (the measurement).
#  A2. the same moe_nccl baseline with only the placement applied (`moetune plan --only hot_experts`).
#  D. the Python helper under `moetune record`: routing rows and step time with and without it.
# Usage: BUILD=build-dev2-bundle OUT=/tmp/cal bash tests/gpu/calibration.sh   (SKIP_A/A2/B/C/D=1 leave a part out)
set -u
ROOT=$(pwd)
BUILD=${BUILD:-build-dev2-bundle}
OUT=${OUT:-/tmp/moetune-cal}
mkdir -p "$OUT"
M=$ROOT/$BUILD/app/moetune
export LD_LIBRARY_PATH=$ROOT/$BUILD/devlib:${LD_LIBRARY_PATH:-}
N=${N:-4}
MOE_ARGS=${MOE_ARGS:---experts 8 --top-k 2 --hidden 1024 --ffn 4096 --tokens 2048 --layers 2 --skew 1.2 --comm-dtype fp32 --steps 20 --warmup 5}
if [ "${SKIP_A:-0}" != 1 ]; then
  ARGS=$MOE_ARGS BUILD=$BUILD N=$N EMULATE=1 NAME=emul$N bash tests/gpu/tuning_loop.sh "$OUT"
  P=$OUT/emul$N
  "$M" diff "$P.before.moetune" "$P.after.moetune" --profile "$P.profile.json" > "$P.pvm.txt" 2>&1
  "$M" diff "$P.before.moetune" "$P.after.moetune" --profile "$P.profile.json" --json > "$P.pvm.json" 2>&1
fi
# ---- A2: the same baseline with only the placement applied (`plan --only`), each fix measured alone ----
if [ "${SKIP_A2:-0}" != 1 ] && [ -f "$OUT/emul$N.before.moetune" ]; then
  P=$OUT/emul$N; Q=$OUT/emul${N}place
  export MOETUNE_LIB_DIR=$ROOT/$BUILD/devlib/collectors EMULATE=1 NCCL_NVLS_ENABLE=0
  L="bash $ROOT/tests/gpu/launch_moe.sh $N $ROOT/$BUILD/samples/moe_nccl"
  "$M" plan "$P.before.moetune" --only "${PLACE_ONLY:-hot_experts}" -o "$Q.profile.json" --force > "$Q.plan.txt" 2>&1
  timeout 150 "$M" apply "$Q.profile.json" -- $L $MOE_ARGS > "$Q.after_norec.log" 2>&1; echo "place_norec rc=$?" >> "$Q.rc"
  timeout 150 "$M" apply "$Q.profile.json" --record -o "$Q.after.moetune" --force -- $L $MOE_ARGS > "$Q.after.log" 2>&1
  echo "place_rec rc=$?" >> "$Q.rc"
  "$M" diff "$P.before.moetune" "$Q.after.moetune" --profile "$Q.profile.json" > "$Q.pvm.txt" 2>&1
  grep -h tokens_per_s "$Q".*.log | cut -c1-400 > "$Q.tokens.txt"
  unset EMULATE
fi
# ---- B: torch_moe, torch.profiler only ----
TN=${TN:-4}
K=$(mktemp -d)
TR="torchrun --standalone --nproc-per-node $TN $ROOT/samples/torch_moe/torch_moe.py --emulate-nodes --no-marks"
export NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 NCCL_NVLS_ENABLE=0
if [ "${SKIP_B:-0}" != 1 ]; then
TARGS=${TARGS:---tokens 4096 --hidden 2048 --ffn 4096 --experts 8 --top-k 2 --layers 2 --skew 1.2 --comm-dtype fp32 --steps 10 --warmup 3}
T=$OUT/torch$TN
timeout 200 $TR $TARGS > "$T.base_noprof.log" 2>&1; echo "base_noprof rc=$?" >> "$T.rc"
timeout 200 $TR $TARGS --torch-profiler "$K/before" > "$T.base_prof.log" 2>&1; echo "base_prof rc=$?" >> "$T.rc"
"$M" import "$K"/before/*.json.gz -o "$T.before.moetune" --force > "$T.import_before.txt" 2>&1; echo "import_before rc=$?" >> "$T.rc"
"$M" analyze "$T.before.moetune" > "$T.before.analyze.txt" 2>&1
"$M" analyze "$T.before.moetune" --json > "$T.before.analyze.json" 2>&1
"$M" plan "$T.before.moetune" -o "$T.profile.json" --force > "$T.plan.txt" 2>&1; echo "plan rc=$?" >> "$T.rc"
timeout 200 "$M" apply "$T.profile.json" -- $TR $TARGS > "$T.after_noprof.log" 2>&1; echo "after_noprof rc=$?" >> "$T.rc"
timeout 200 "$M" apply "$T.profile.json" -- $TR $TARGS --torch-profiler "$K/after" > "$T.after_prof.log" 2>&1; echo "after_prof rc=$?" >> "$T.rc"
"$M" import "$K"/after/*.json.gz -o "$T.after.moetune" --force > "$T.import_after.txt" 2>&1; echo "import_after rc=$?" >> "$T.rc"
"$M" analyze "$T.after.moetune" > "$T.after.analyze.txt" 2>&1
"$M" diff "$T.before.moetune" "$T.after.moetune" --profile "$T.profile.json" > "$T.pvm.txt" 2>&1
"$M" diff "$T.before.moetune" "$T.after.moetune" --profile "$T.profile.json" --json > "$T.pvm.json" 2>&1
grep -h median_step_ms "$T".*.log | cut -c1-300 > "$T.steps.txt"
mkdir -p "$OUT/kineto_before" && cp "$K"/before/*.json.gz "$OUT/kineto_before/" 2>/dev/null || true
fi
# ---- C: gradient all-reduce compression ----
if [ "${SKIP_C:-0}" != 1 ]; then
  G=$OUT/grad$TN
  GA=${GA:---grad-allreduce --tokens 512 --experts 8 --top-k 2 --hidden 1024 --ffn 2048 --layers 2 --comm-dtype bf16 --steps 10 --warmup 3}
  timeout 200 $TR $GA > "$G.fp32_noprof.log" 2>&1; echo "grad_fp32 rc=$?" >> "$G.rc"
  timeout 200 $TR $GA --grad-dtype bf16 > "$G.bf16_noprof.log" 2>&1; echo "grad_bf16 rc=$?" >> "$G.rc"
  timeout 200 $TR $GA --torch-profiler "$K/grad" > "$G.fp32_prof.log" 2>&1; echo "grad_prof rc=$?" >> "$G.rc"
  "$M" import "$K"/grad/*.json.gz -o "$G.before.moetune" --force > "$G.import.txt" 2>&1
  "$M" analyze "$G.before.moetune" > "$G.before.analyze.txt" 2>&1
  "$M" analyze "$G.before.moetune" --json > "$G.before.analyze.json" 2>&1
  grep -h median_step_ms "$G".*.log | cut -c1-300 > "$G.steps.txt"
fi
# ---- D: the Python helper under moetune record (2 ranks) ----
# DISPATCH=capacity (default): torch_moe's host-sync-free dispatch, so that any host sync left is
# the helper's; one dropless run (split sizes read on the host) shows the finding it must not add.
if [ "${SKIP_D:-0}" != 1 ]; then
  export MOETUNE_LIB_DIR=$ROOT/$BUILD/devlib/collectors
  mkdir -p "$MOETUNE_LIB_DIR"
  cp "$ROOT/$BUILD"/collectors/cupti/*.so "$ROOT/$BUILD"/collectors/nccl/*.so "$MOETUNE_LIB_DIR/"
  HA="$ROOT/samples/torch_moe/torch_moe.py --experts 8 --skew 1.2 --steps 30 --warmup 5 --emulate-nodes"
  D="--dispatch ${DISPATCH:-capacity}"
  for i in 1 2; do
    MOETUNE_DISABLE=1 timeout 120 "$M" record --force -o "$OUT/helper_off$i.moetune" -- torchrun --standalone --nproc-per-node 2 $HA $D > "$OUT/helper_off$i.log" 2>&1
    timeout 120 "$M" record --force -o "$OUT/helper_on$i.moetune" -- torchrun --standalone --nproc-per-node 2 $HA $D > "$OUT/helper_on$i.log" 2>&1
  done
  timeout 120 "$M" record --force -o "$OUT/helper_on_dropless.moetune" -- torchrun --standalone --nproc-per-node 2 $HA --dispatch dropless > "$OUT/helper_on_dropless.log" 2>&1
  for f in helper_off1 helper_off2 helper_on1 helper_on2 helper_on_dropless; do
    "$M" analyze "$OUT/$f.moetune" > "$OUT/$f.analyze.txt" 2>&1
    "$M" analyze "$OUT/$f.moetune" --json > "$OUT/$f.analyze.json" 2>&1
    "$M" info "$OUT/$f.moetune" > "$OUT/$f.info.txt" 2>&1
  done
fi
ls -la "$OUT" > "$OUT/listing.txt"
