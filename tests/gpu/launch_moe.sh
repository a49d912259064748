#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# launch_moe.sh N MOE_BIN [moe_nccl args...]: starts N moe_nccl ranks on this machine and
# waits for all; exit status = the first non-zero rank status. EMULATE=1 puts every rank on
# GPU 0 as its own "node" (one NCCL_HOSTID per rank, sockets over loopback).
set -u
n=$1; bin=$2; shift 2
id=$(mktemp -u /tmp/moe.id.XXXXXX)
pids=()
for ((r = 0; r < n; r++)); do
  if [ "${EMULATE:-0}" = 1 ]; then
    RANK=$r WORLD_SIZE=$n LOCAL_RANK=0 NCCL_HOSTID=moe-node$r NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1 \
      "$bin" --init-file "$id" --device 0 "$@" &
  else
    RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r "$bin" --init-file "$id" "$@" &
  fi
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || { s=$?; [ $rc = 0 ] && rc=$s; }; done
rm -f "$id"
exit $rc
