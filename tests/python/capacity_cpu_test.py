# SPDX-License-Identifier: Apache-2.0
"""samples/torch_moe/capacity.py on CPU: R ranks simulated in one process, the all-to-all
done by slicing the send buffers as all_to_all_single would. Each expert multiplies its
rows by (expert + 1); after dispatch, experts and combine every kept assignment must come
back as x[token] * (expert + 1), every dropped one as 0, and exactly min(count, cap)
assignments of each (chunk, destination, expert) must be kept, the first ones in order.
Usage: capacity_cpu_test.py SAMPLES_TORCH_MOE_DIR"""
import sys

import torch

sys.path.insert(0, sys.argv[1])
import capacity  # noqa: E402


def run_case(R, E, T, K, C, factor, copies, seed):
    g = torch.Generator().manual_seed(seed)
    cap = capacity.capacity(T, K, C, E, factor)
    lay = capacity.layout(copies, R, E, cap)
    slot_t, off_t = torch.tensor(lay["slot"]), torch.tensor(lay["off"])
    S, H = lay["S"], 3
    xs, sends, idxs, keeps, experts, dests = [], [], [], [], [], []
    for r in range(R):
        x = torch.rand((T, H), generator=g) + 1
        # skewed routing: expert 0 takes about half of all assignments
        e_flat = torch.where(torch.rand(T * K, generator=g) < 0.5, torch.zeros(T * K, dtype=torch.long),
                             torch.randint(0, E, (T * K,), generator=g))
        dest = torch.tensor([copies[e][(i + r) % len(copies[e])] for i, e in enumerate(e_flat.tolist())])
        chunk = ((torch.arange(T * K) // K + 1) * C - 1) // T
        idx, kept = capacity.slot_indices(torch, lay, e_flat, dest, chunk, C, slot_t, off_t)
        send = torch.zeros((C * S + 1, H))
        send[idx] = x[torch.arange(T * K) // K]
        xs.append(x); sends.append(send); idxs.append(idx); keeps.append(kept)
        experts.append(e_flat); dests.append((dest, chunk))
        # first min(count, cap) of each (chunk, dest, expert) kept, in assignment order
        seen = {}
        for i, (e, d, c) in enumerate(zip(e_flat.tolist(), dest.tolist(), chunk.tolist())):
            n = seen.get((c, d, e), 0)
            seen[(c, d, e)] = n + 1
            assert bool(kept[i]) == (n < cap), f"assignment {i}: kept={bool(kept[i])}, n={n}, cap={cap}"
        live = idx[kept]
        assert live.unique().numel() == live.numel(), "two kept assignments share a slot"
        assert bool((idx[~kept] == C * S).all()), "a dropped assignment is not on the dummy row"
    # exchange per chunk: rank me receives from each src the block src reserved for me
    combined = [[] for _ in range(R)]
    for c in range(C):
        outs = []
        for me in range(R):
            n = lay["nloc"][me] * cap
            recv = torch.cat([sends[src][c * S + lay["off"][me]: c * S + lay["off"][me] + n] for src in range(R)])
            recv = recv.view(R, lay["nloc"][me], cap, H).clone()
            loc = [e for e in range(E) if lay["slot"][me][e] >= 0]
            for li, e in enumerate(loc):
                recv[:, li] *= e + 1
            outs.append(recv.reshape(R, -1, H))
        for src in range(R):  # combine: src gets back from each dest the rows it sent there
            combined[src].append(torch.cat([outs[d][src] for d in range(R)]))
    for r in range(R):
        back = torch.cat(combined[r] + [torch.zeros((1, H))])[idxs[r]]
        want = xs[r][torch.arange(T * K) // K] * (experts[r] + 1)[:, None]
        want[~keeps[r]] = 0
        assert torch.allclose(back, want), f"rank {r}: combine does not return the expert outputs"
    return sum(int((~k).sum()) for k in keeps)


def main():
    # 4 ranks, 8 experts, expert 0 replicated on ranks 0 and 2, expert 5 on 1, 2, 3
    copies = [[e % 4] for e in range(8)]
    copies[0] = [0, 2]
    copies[5] = [1, 2, 3]
    dropped_tight = run_case(4, 8, 64, 2, 2, 1.0, copies, 1)
    assert dropped_tight > 0, "a skewed run at capacity factor 1 should drop assignments"
    dropped_loose = run_case(4, 8, 64, 2, 2, 64.0, copies, 1)
    assert dropped_loose == 0, f"capacity factor 64 dropped {dropped_loose}"
    run_case(2, 4, 37, 1, 3, 1.5, [[0], [1], [0, 1], [1]], 7)  # uneven chunks, one rank with 3 experts
    # Splits agree: what r sends to d per chunk equals what d expects from each source.
    lay = capacity.layout(copies, 4, 8, 5)
    for d in range(4):
        assert capacity.send_splits(lay)[d] == capacity.recv_splits(lay, d)[0]
    assert sum(capacity.send_splits(lay)) == lay["S"]
    print(f"capacity_cpu_test: ok (dropped {dropped_tight} at factor 1, 0 at factor 64)")


if __name__ == "__main__":
    main()
