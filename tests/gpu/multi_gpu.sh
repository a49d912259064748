#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 7 on a multi-GPU device: topology, all-to-all bus bandwidth sweep (all GPUs and the
# first pair), small recorded moe_nccl + torch_moe runs across all GPUs (fixtures, checked
# with check_run.py: clocks aligned across GPUs), the tuning loop on NVLink with a
# compute-heavy skewed configuration, and collector overhead (median of repeated runs).
# Usage: BUILD=build-dev2 bash tests/gpu/multi_gpu.sh OUTDIR   (EMUL=1 adds the 2-node loop;
# SKIP_A2A=1 skips the bandwidth sweep, FIXTURES_ONLY=1 stops after the recorded fixtures)
set -u
O=$1; mkdir -p "$O"
BUILD=${BUILD:-build-dev2}
source tests/gpu/device_env.sh
MOE=$ROOT/$BUILD/samples/moe_nccl
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
NG=$(nvidia-smi -L | wc -l)
t0=$(date +%s); stamp() { echo "$1 $(( $(date +%s) - t0 ))s" >> "$O/timing.txt"; }
nvidia-smi topo -m > "$O/topo.txt" 2>&1
nvidia-smi nvlink -s > "$O/nvlink_status.txt" 2>&1
nvidia-smi --query-gpu=name,pcie.link.gen.max,pcie.link.width.max,pci.bus_id --format=csv > "$O/gpus.csv" 2>&1
echo "gpus=$NG" > "$O/env.txt"
sed 's/\x1b\[[0-9;]*m//g' "$O/topo.txt" > "$O/topo.clean.txt"
"$M" import "$O/topo.clean.txt" -o "$O/topo.moetune" --force > "$O/topo.import.txt" 2>&1
"$M" analyze "$O/topo.moetune" --json > "$O/topo.analyze.json" 2>&1
stamp topo
[ "$NG" -ge 2 ] || exit 0
[ "${SKIP_A2A:-0}" = 1 ] || timeout 150 torchrun --standalone --nproc-per-node "$NG" tests/gpu/a2a_bw.py > "$O/a2a_bw_n$NG.jsonl" 2> "$O/a2a_bw.err"
if [ "$NG" -gt 2 ] && [ "${SKIP_A2A:-0}" != 1 ]; then
  CUDA_VISIBLE_DEVICES=0,1 timeout 100 torchrun --standalone --nproc-per-node 2 tests/gpu/a2a_bw.py > "$O/a2a_bw_n2.jsonl" 2>> "$O/a2a_bw.err"
fi
stamp a2a
# Small recorded runs across all GPUs (fixtures for the CPU tests).
SMALL="--experts 8 --top-k 2 --hidden 512 --ffn 1024 --tokens 1024 --layers 2 --skew 1.2 --steps 6 --warmup 2"
timeout 100 "$M" record -o "$O/moe_nvl$NG.moetune" --force -- bash tests/gpu/launch_moe.sh "$NG" "$MOE" $SMALL > "$O/moe_nvl.log" 2>&1
echo "moe rc=$?" >> "$O/rc.txt"
"$M" info "$O/moe_nvl$NG.moetune" > "$O/moe_nvl.info.txt" 2>&1
python3 tests/gpu/check_run.py "$O/moe_nvl$NG.moetune" --ranks "$NG" > "$O/moe_nvl.check.json" 2>&1
timeout 150 "$M" record -o "$O/torch_nvl$NG.moetune" --force -- torchrun --standalone --nproc-per-node "$NG" \
  samples/torch_moe/torch_moe.py --skew 1.2 --steps 4 --warmup 1 --tokens 1024 --hidden 512 --ffn 1024 > "$O/torch_nvl.log" 2>&1
echo "torch rc=$?" >> "$O/rc.txt"
"$M" info "$O/torch_nvl$NG.moetune" > "$O/torch_nvl.info.txt" 2>&1
python3 tests/gpu/check_run.py "$O/torch_nvl$NG.moetune" --ranks "$NG" > "$O/torch_nvl.check.json" 2>&1
"$M" analyze "$O/torch_nvl$NG.moetune" > "$O/torch_nvl.analyze.txt" 2>&1
stamp fixtures
if [ "${FIXTURES_ONLY:-0}" = 1 ]; then ls -la "$O" > "$O/ls.txt"; exit 0; fi
# Tuning loop on NVLink: expert compute dominates, skewed experts on the default placement.
LOOPARGS=${LOOPARGS:---experts 8 --top-k 2 --hidden 2048 --ffn 8192 --tokens 8192 --layers 2 --skew 1.2 --comm-dtype fp32 --steps 20 --warmup 5}
ARGS="$LOOPARGS" BUILD=$BUILD NAME=nvl$NG N=$NG bash tests/gpu/tuning_loop.sh "$O/loop"
stamp loop
# Overhead on NVLink: 3 runs each without and with the collectors, same baseline config.
for i in 1 2 3; do
  timeout 100 bash tests/gpu/launch_moe.sh "$NG" "$MOE" $LOOPARGS 2>/dev/null | grep tokens_per_s >> "$O/ovh_base.jsonl"
  timeout 100 "$M" record -o "$O/ovh.moetune" --force -- bash tests/gpu/launch_moe.sh "$NG" "$MOE" $LOOPARGS 2>/dev/null | grep tokens_per_s >> "$O/ovh_rec.jsonl"
done
rm -f "$O/ovh.moetune"
stamp overhead
if [ "${EMUL:-0}" = 1 ]; then
  BUILD=$BUILD NAME=emul2 N=2 EMULATE=1 bash tests/gpu/tuning_loop.sh "$O/loop"; stamp emul
fi
rm -f "$O"/loop/*.moetune.parts -r
ls -la "$O" "$O/loop" > "$O/ls.txt"
du -sh "$O"/* "$O"/loop/* >> "$O/ls.txt"
