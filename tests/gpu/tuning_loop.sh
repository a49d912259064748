#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The tuning loop on the device: record a misconfigured moe_nccl run, analyze it, write the
# profile (moetune plan [$PLAN_ARGS]), apply it with --record, diff. Also the same two configurations
# without any collector (tokens/s without overhead). Usage:
#   BUILD=build-dev2 NAME=emul2 N=2 EMULATE=1 bash tests/gpu/tuning_loop.sh OUTDIR
# Needs $BUILD/app/moetune, $BUILD/samples/moe_nccl, $BUILD/collectors/{cupti,nccl}/*.so,
# $BUILD/devlib (libraries the device lacks).
set -u
OUTD=$1; mkdir -p "$OUTD"
BUILD=${BUILD:-build-dev2}
source tests/gpu/device_env.sh
MOE=$ROOT/$BUILD/samples/moe_nccl
N=${N:-2}
NAME=${NAME:-loop}
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
L="bash $ROOT/tests/gpu/launch_moe.sh $N $MOE"
# Misconfigured baseline: fp32 dispatch/combine, no overlap, skewed experts, naive placement.
ARGS=${ARGS:---experts 8 --top-k 2 --hidden 1024 --ffn 4096 --tokens 2048 --layers 2 --skew 1.2 --comm-dtype fp32 --steps 20 --warmup 5}
P=$OUTD/$NAME
timeout 150 $L $ARGS > "$P.base_norec.log" 2>&1; echo "base_norec rc=$?" >> "$P.rc"
timeout 150 "$M" record -o "$P.before.moetune" --force -- $L $ARGS > "$P.before.log" 2>&1; echo "record_before rc=$?" >> "$P.rc"
"$M" info "$P.before.moetune" > "$P.before.info.txt" 2>&1
"$M" analyze "$P.before.moetune" > "$P.before.analyze.txt" 2>&1
"$M" analyze "$P.before.moetune" --json > "$P.before.analyze.json" 2>&1
"$M" plan "$P.before.moetune" -o "$P.profile.json" --force ${PLAN_ARGS:-} > "$P.plan.txt" 2>&1; echo "plan rc=$?" >> "$P.rc"
timeout 150 "$M" apply "$P.profile.json" -- $L $ARGS > "$P.after_norec.log" 2>&1; echo "after_norec rc=$?" >> "$P.rc"
timeout 150 "$M" apply "$P.profile.json" --record -o "$P.after.moetune" --force -- $L $ARGS > "$P.after.log" 2>&1; echo "record_after rc=$?" >> "$P.rc"
"$M" analyze "$P.after.moetune" > "$P.after.analyze.txt" 2>&1
"$M" diff "$P.before.moetune" "$P.after.moetune" > "$P.diff.txt" 2>&1
"$M" diff "$P.before.moetune" "$P.after.moetune" --json > "$P.diff.json" 2>&1
grep -h tokens_per_s "$P".*.log | cut -c1-400 > "$P.tokens.txt"
