#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""SYNTHETIC Kineto (torch.profiler Chrome trace) generator for import benchmarks.

Writes a trace shaped like the real ones in ../shared/data/external/kineto (same
categories, key order and args; NCCL metadata on the communication kernels) but made
up: the file says so in "moetune_synthetic": true and traceName "synthetic".

  python3 bench/make_kineto.py -n 2000000 -o /tmp/synthetic_rank0.json [--gzip] [--rank 0]

Per "launch" it writes: 2 cpu_op, 1 cuda_runtime, 1 kernel, 1 ac2g flow pair (so 6
events); every 50th kernel is an NCCL AllReduce/AllToAll, every 20th launch adds a
memcpy, every 1000th launch a ProfilerStep annotation.
"""
import argparse
import gzip
import json
import random

p = argparse.ArgumentParser()
p.add_argument("-n", "--events", type=int, default=2_000_000)
p.add_argument("-o", "--output", required=True)
p.add_argument("--rank", type=int, default=0)
p.add_argument("--gzip", action="store_true")
a = p.parse_args()

rng = random.Random(1234)
pid, tid, dev, stream = 4242, 4242, a.rank % 8, 7
base_ns = 1_700_000_000_000_000_000
names = [f"void synthetic::gemm_kernel<{i}>(float const*, float*, int)" for i in range(64)]
ops = ["aten::mm", "aten::add_", "aten::softmax", "aten::index_select", "aten::topk", "aten::scatter_add_"]

out = gzip.open(a.output, "wt") if a.gzip else open(a.output, "w")
out.write('{"schemaVersion": 1, "traceName": "synthetic", "moetune_synthetic": true,\n')
out.write(' "deviceProperties": [{"id": %d, "name": "NVIDIA H200", "totalGlobalMem": 150754820096, '
          '"computeMajor": 9, "computeMinor": 0, "numSms": 132}],\n' % dev)
out.write(' "distributedInfo": {"backend": "nccl", "rank": %d, "world_size": 8},\n "traceEvents": [\n' % a.rank)
t = 1_000_000.0  # us since base
written, corr, step, first = 0, 1, 0, True


def emit(ev):
    global written, first
    out.write(("" if first else ",\n") + json.dumps(ev, separators=(", ", ": ")))
    first = False
    written += 1


launch = 0
while written < a.events:
    if launch % 1000 == 0:
        emit({"ph": "X", "cat": "user_annotation", "name": f"ProfilerStep#{step}", "pid": pid, "tid": tid,
              "ts": round(t, 3), "dur": 5000.0, "args": {"External id": corr}})
        step += 1
    op = ops[launch % len(ops)]
    emit({"ph": "X", "cat": "cpu_op", "name": op, "pid": pid, "tid": tid, "ts": round(t, 3), "dur": 9.5,
          "args": {"External id": corr, "Ev Idx": written, "Input Dims": [[4096, 1024], [1024]],
                   "Input type": ["float", "float"]}})
    emit({"ph": "X", "cat": "cpu_op", "name": op + "_inner", "pid": pid, "tid": tid, "ts": round(t + 0.5, 3),
          "dur": 8.0, "args": {"External id": corr + 1, "Ev Idx": written}})
    emit({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": pid, "tid": tid,
          "ts": round(t + 1, 3), "dur": 4.25, "args": {"External id": corr, "cbid": 211, "correlation": corr}})
    kt = t + 6 + rng.random() * 3
    kargs = {"External id": corr, "queued": 0, "device": dev, "context": 1, "stream": stream,
             "correlation": corr, "registers per thread": 64, "shared memory": 0, "blocks per SM": 1.0,
             "warps per SM": 8.0, "grid": [264, 1, 1], "block": [256, 1, 1], "est. achieved occupancy %": 50}
    name = names[launch % len(names)]
    if launch % 50 == 49:
        coll = "allreduce" if launch % 100 == 49 else "all_to_all"
        name = ("ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)" if coll == "allreduce"
                else "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)")
        kargs.update({"Collective name": coll, "In msg nelems": 1048576, "Out msg nelems": 1048576,
                      "Group size": 8, "dtype": "BFloat16",
                      "In split size": "[]" if coll == "allreduce" else "[16, 16, 16, 16, 16, 16, 16, 16]",
                      "Out split size": "[]", "Process Group Name": "0", "Process Group Ranks": "[0, 1, 2, 3, 4, 5, 6, 7]"})
    emit({"ph": "X", "cat": "kernel", "name": name, "pid": dev, "tid": stream, "ts": round(kt, 3),
          "dur": round(2 + rng.random() * 20, 3), "args": kargs})
    emit({"ph": "s", "id": corr, "pid": pid, "tid": tid, "ts": round(t + 1, 3), "cat": "ac2g", "name": "ac2g"})
    emit({"ph": "f", "id": corr, "pid": dev, "tid": stream, "ts": round(kt, 3), "cat": "ac2g", "name": "ac2g",
          "bp": "e"})
    if launch % 20 == 0:
        emit({"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy HtoD (Pinned -> Device)", "pid": dev, "tid": stream,
              "ts": round(kt + 25, 3), "dur": 3.5, "args": {"device": dev, "stream": stream,
                                                             "correlation": corr + 2, "bytes": 65536}})
    corr += 3
    launch += 1
    t += 30
out.write('\n],\n "displayTimeUnit": "ms", "baseTimeNanoseconds": %d}\n' % base_ns)
out.close()
print(f"{a.output}: {written} events (synthetic)")
