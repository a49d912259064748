# SPDX-License-Identifier: Apache-2.0
"""Capacity-padded expert-parallel dispatch with no host synchronisation.

The dropless dispatch of torch_moe exchanges per-expert counts and reads them on the host
(`.cpu()`/`.tolist()`) to size `all_to_all_single`: one device-to-host sync per layer per
step. This layout is the GShard / Switch / DeepSpeed-MoE alternative: every (chunk,
destination rank, local expert of that rank) gets a fixed number of slots (`cap` rows), so
every split size is known on the host before the step and the exchange never waits for
the GPU. Assignments beyond `cap` are dropped (the token keeps only its residual).

Layout of one rank's send buffer: C chunk blocks of S rows; inside a block, destination d
owns rows [off[d], off[d] + nloc[d] * cap), one run of `cap` rows per local expert of d in
ascending expert order. Received per chunk: R source blocks of nloc[me] * cap rows.
Only tensor operations that stay on the GPU are used (no bincount, nonzero or masks).
"""


def layout(copies_l, nranks, experts, cap):
    """Host-side plan for one layer. copies_l[e] = ranks holding expert e.
    Returns dict: nloc[r], slot[r][e] (-1 if r lacks e), off[r], rows_per_chunk S, cap."""
    slot = [[-1] * experts for _ in range(nranks)]
    nloc = [0] * nranks
    for e in range(experts):
        for r in copies_l[e]:
            slot[r][e] = nloc[r]
            nloc[r] += 1
    off, s = [], 0
    for r in range(nranks):
        off.append(s)
        s += nloc[r] * cap
    return {"nloc": nloc, "slot": slot, "off": off, "S": s, "cap": cap}


def capacity(tokens, top_k, chunks, experts, factor):
    """Slots per (chunk, source, destination, expert): factor x the uniform share, at least 1."""
    import math
    return max(1, math.ceil(factor * tokens * top_k / (chunks * experts)))


def slot_indices(torch, lay, e_flat, dest, chunk, chunks, slot_t, off_t):
    """Row of each assignment in the send buffer (C * S rows), or C * S (a dummy row) when
    its (chunk, dest, expert) already has `cap` assignments before it. Returns (idx, kept).
    slot_t: lay["slot"] as a tensor; off_t: lay["off"] as a tensor (both on e_flat's device)."""
    R, E, S, cap = len(lay["nloc"]), slot_t.shape[1], lay["S"], lay["cap"]
    key = (chunk * R + dest) * E + e_flat
    order = torch.argsort(key, stable=True) if _has_stable(torch) else _stable_argsort(torch, key)  # probe cached
    sk = key[order]
    first = torch.searchsorted(sk, sk)  # first position of each key in the sorted list
    pos = torch.empty_like(key)
    pos[order] = torch.arange(key.numel(), device=key.device) - first
    kept = pos < cap
    flat = chunk * S + off_t[dest] + slot_t[dest, e_flat] * cap + pos
    return torch.where(kept, flat, torch.full_like(flat, chunks * S)), kept


def send_splits(lay):
    """Rows this rank sends to each destination per chunk (host ints)."""
    return [n * lay["cap"] for n in lay["nloc"]]


def recv_splits(lay, rank):
    """Rows this rank receives from each source per chunk (host ints)."""
    return [lay["nloc"][rank] * lay["cap"]] * len(lay["nloc"])


_STABLE = {}  # torch module -> whether its argsort takes stable= (probed once, not per layer and step)


def _has_stable(torch):
    if torch not in _STABLE:
        try:
            torch.argsort(torch.zeros(1, dtype=torch.long), stable=True)
            _STABLE[torch] = True
        except TypeError:
            _STABLE[torch] = False
    return _STABLE[torch]


def _stable_argsort(torch, key):
    # Older torch (Debian's 1.13 on CPU tests): sort a key made unique by the position.
    n = key.numel()
    return torch.argsort(key * n + torch.arange(n, device=key.device))
