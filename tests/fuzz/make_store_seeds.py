#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes the seed recipes of fuzz_store (tests/data/fuzz/store/): byte recipes in the
# order fuzz_store.cpp's Recipe consumes them. Synthetic by construction: a 4-rank MoE
# run (ranks, kernels, API calls, NVTX phases, NCCL ops, steps, expert routing and
# placement, topology), the same with hostile ids, and the same with every SQL damage.
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "fuzz", "store")

def t(us):  # time(): b < 220 -> b * 1000 + next * 7
    return [min(us, 219), 3]

def moe_run(ids=lambda i: i):
    b = []
    for r in range(4):
        b += [0, ids(r), r % 2, r, 4, 16]                      # rank row: gen 4 x16
    for r in range(4):
        for s in range(3):
            b += [1, ids(r), 7] + t(10 + 40 * s) + t(20) + [0]           # gemm
            b += [2, ids(r), 9] + t(30 + 40 * s) + t(5) + [1]            # nccl allreduce kernel
            b += [3, ids(r), 1] + t(9 + 40 * s) + t(1) + [6, 3]          # cudaDeviceSynchronize (sync)
            b += [4, ids(r)] + t(10 + 40 * s) + t(8) + [3, 1]            # nvtx dispatch in moe
            b += [5, ids(r), 0, s, 1, 100, 100, 0, 0, 4] + t(30 + 40 * s) + t(35 + 40 * s) + [0]
            b += [6, ids(r), s] + t(10 + 40 * s) + t(45 + 40 * s) + [1, 64]
    for layer in range(2):
        for r in range(4):
            for e in range(4):
                b += [7, 1, ids(layer), ids(r), ids(e), (e + 1) * (r + 1) % 200]
        for e in range(4):
            b += [9, ids(layer), ids(e), ids(e % 4), 0]
    for a in range(4):
        for c in range(4):
            if a != c:
                b += [10, a, c, 1, ids(a), 1, ids(c), 0, 1, 30]
    return b

def main():
    os.makedirs(OUT, exist_ok=True)
    hostile = {1: 202, 2: 203}  # id bytes 200..249 pick INT_MIN / INT_MAX from the table
    seeds = {
        "seed_moe_4rank.bin": [0] + moe_run(),
        "seed_hostile_ids.bin": [0] + moe_run(lambda i: hostile.get(i, i)),
        "seed_damaged.bin": [0x1f] + moe_run(),
        "edge_empty.bin": [],
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes(data))
    print("wrote", len(seeds), "seeds to", OUT, file=sys.stderr)

if __name__ == "__main__":
    main()
