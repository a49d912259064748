#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 7 on a multi-GPU device (and the one-GPU emulated-node loop): topology, recorded
# moe_nccl + torch_moe across all GPUs, all-to-all bus bandwidth sweep, the tuning loop on
# NVLink and on 2 emulated nodes. Usage: BUILD=build-dev2 bash tests/gpu/multi_gpu.sh OUTDIR
set -u
O=$1; mkdir -p "$O"
ROOT=$(pwd); BUILD=${BUILD:-build-dev2}; M=$ROOT/$BUILD/app/moetune
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export LD_LIBRARY_PATH=$ROOT/$BUILD/devlib:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
NG=$(nvidia-smi -L | wc -l)
nvidia-smi topo -m > "$O/topo.txt" 2>&1
nvidia-smi --query-gpu=name,pcie.link.gen.max,pcie.link.width.max --format=csv > "$O/gpus.csv" 2>&1
echo "gpus=$NG" > "$O/env.txt"
sed 's/\x1b\[[0-9;]*m//g' "$O/topo.txt" > "$O/topo.clean.txt"
"$M" import "$O/topo.clean.txt" -o "$O/topo.moetune" --force > "$O/topo.import.txt" 2>&1
"$M" analyze "$O/topo.moetune" --json > "$O/topo.analyze.json" 2>&1
if [ "$NG" -ge 2 ]; then
  timeout 120 torchrun --standalone --nproc-per-node "$NG" tests/gpu/a2a_bw.py > "$O/a2a_bw.jsonl" 2> "$O/a2a_bw.err"
  BUILD=$BUILD NAME=nvl$NG N=$NG bash tests/gpu/tuning_loop.sh "$O/loop"
  export MOETUNE_LIB_DIR=$ROOT/$BUILD/devlib/collectors
  timeout 150 "$M" record -o "$O/torch_nvl.moetune" --force -- torchrun --standalone --nproc-per-node "$NG" \
    samples/torch_moe/torch_moe.py --skew 1.2 --steps 20 > "$O/torch_nvl.log" 2>&1
  "$M" info "$O/torch_nvl.moetune" > "$O/torch_nvl.info.txt" 2>&1
  "$M" analyze "$O/torch_nvl.moetune" > "$O/torch_nvl.analyze.txt" 2>&1
fi
BUILD=$BUILD NAME=emul2 N=2 EMULATE=1 bash tests/gpu/tuning_loop.sh "$O/loop"
ls -la "$O" "$O/loop" > "$O/ls.txt"
