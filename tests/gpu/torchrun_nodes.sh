#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Multi-node torchrun, emulated on one machine: NODES torchrun agents (one per "node", c10d
# rendezvous on 127.0.0.1), each wrapped in its own `moetune record` writing one file per node,
# exactly the command line of collectors/live/README.md ("Many hosts"); then `moetune merge` of
# the node files and the analysis. Every rank gets its own NCCL_HOSTID (torch_moe --emulate-nodes)
# so that ranks sharing GPU 0 talk over sockets. Usage:
#   BUILD=build-dev2-bundle NODES=2 PER_NODE=2 bash tests/gpu/torchrun_nodes.sh OUTDIR
set -u
OUTD=$1; mkdir -p "$OUTD"
BUILD=${BUILD:-build-dev2-bundle}
source tests/gpu/device_env.sh
NODES=${NODES:-2}
PER=${PER_NODE:-2}
export NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 NCCL_NVLS_ENABLE=0
ARGS=${ARGS:---experts 8 --top-k 2 --skew 1.2 --steps 20 --warmup 5 --emulate-nodes}
PORT=${PORT:-29517}
pids=()
for ((i = 0; i < NODES; i++)); do
  timeout 240 "$M" record --force -o "$OUTD/moe-node$i.moetune" -- \
    torchrun --nnodes "$NODES" --nproc-per-node "$PER" --node-rank "$i" --rdzv-backend c10d \
    --rdzv-endpoint "127.0.0.1:$PORT" --rdzv-id moetune-nodes "$ROOT/samples/torch_moe/torch_moe.py" $ARGS \
    > "$OUTD/node$i.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
echo "record rc=$rc" > "$OUTD/torchrun.rc"
"$M" merge "$OUTD"/moe-node*.moetune -o "$OUTD/moe.moetune" --force > "$OUTD/merge.txt" 2>&1
echo "merge rc=$?" >> "$OUTD/torchrun.rc"
"$M" info "$OUTD/moe.moetune" > "$OUTD/info.txt" 2>&1
"$M" analyze "$OUTD/moe.moetune" > "$OUTD/analyze.txt" 2>&1
echo "analyze rc=$?" >> "$OUTD/torchrun.rc"
exit $rc
