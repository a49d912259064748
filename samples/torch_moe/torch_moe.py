#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""torch_moe: the moe_nccl model in PyTorch (expert parallel, all_to_all_single with split sizes).

Run with torchrun (one process per rank), e.g.
  torchrun --nproc-per-node 2 samples/torch_moe/torch_moe.py --experts 8 --skew 1.2
Same knobs and output conventions as moe_nccl (samples/README.md). Steps, phases, routing and
placement are marked with the moetune Python helper (python/moetune, docs/PYTORCH.md): NVTX for
`moetune record` and record_function ranges under --torch-profiler, with the routing counts taken
off the GPU without a host sync.
Bad input: one line on stderr, exit 2.
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time


def bad(msg):
    print(f"torch_moe: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a = p.add_argument
    a("--experts", type=int, default=8); a("--top-k", type=int, default=2)
    a("--hidden", type=int, default=1024); a("--ffn", type=int, default=4096)
    a("--tokens", type=int, default=2048, help="tokens per rank per step")
    a("--layers", type=int, default=2); a("--steps", type=int, default=20); a("--warmup", type=int, default=3)
    a("--skew", type=float, default=0.0); a("--comm-dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    a("--overlap-chunks", type=int, default=1); a("--placement", default="")
    a("--grad-allreduce", action="store_true"); a("--slow-rank", default="")
    a("--grad-dtype", choices=["fp32", "bf16"], default="fp32",
      help="dtype of the gradient all-reduce on the wire (bf16: what DDP's bf16_compress_hook does)")
    a("--seed", type=int, default=1); a("--ranks-per-node", type=int, default=1)
    a("--emulate-nodes", action="store_true",
      help="set NCCL_HOSTID=moe-node<RANK> (unless set) so several ranks can share one GPU")
    a("--check-out", default=""); a("--torch-profiler", default="", metavar="DIR",
                                    help="write a Kineto trace (gzip JSON) per rank into DIR")
    a("--dispatch", choices=["dropless", "capacity"], default="dropless",
      help="dropless: exact split sizes, read on the host (one sync per layer per step); capacity: fixed "
           "slots per expert (capacity.py), no host sync, assignments past the capacity dropped")
    a("--capacity-factor", type=float, default=2.0,
      help="with --dispatch capacity: slots per expert as a multiple of the uniform share")
    a("--no-marks", action="store_true",
      help="emit no moetune NVTX/record_function text (steps, phases, routing): a plain user job")
    o = p.parse_args(argv)
    if o.no_marks:  # the moetune helper emits nothing (python/moetune: MOETUNE_DISABLE)
        os.environ["MOETUNE_DISABLE"] = "1"
    if o.experts < 1 or o.experts > 1024: bad("--experts must be in 1..1024")
    if not 1 <= o.top_k <= min(8, o.experts): bad(f"--top-k must be in 1..min(8, experts={o.experts})")
    if min(o.hidden, o.ffn, o.tokens, o.layers, o.steps) < 1 or o.warmup < 0:
        bad("--hidden, --ffn, --tokens, --layers, --steps must be >= 1 and --warmup >= 0")
    if not 0 <= o.skew <= 10: bad("--skew must be in 0..10")
    if not 1 <= o.overlap_chunks <= o.tokens: bad("--overlap-chunks must be in 1..tokens")
    if not 0 < o.capacity_factor <= 64: bad("--capacity-factor must be in (0, 64]")
    o.slow = (-1, 1.0)
    if o.slow_rank:
        try:
            r, f = o.slow_rank.split(":")
            o.slow = (int(r), float(f))
        except ValueError:
            bad(f"--slow-rank wants R:F (rank and work factor), not '{o.slow_rank}'")
    return o


def load_placement(path, layers, experts, nranks):
    """copies[l][e] = list of ranks (primary first), per docs/PLACEMENT.md; default e % R."""
    copies = [[[e % nranks] for e in range(experts)] for _ in range(layers)]
    if not path:
        return copies
    try:
        with open(path) as f:
            j = json.load(f)
    except OSError:
        bad(f"{path}: cannot open placement file")
    except ValueError:
        bad(f"{path}: not JSON")
    if not isinstance(j, dict) or j.get("format") != "moetune-placement" or j.get("version") != 1:
        bad(f"{path}: not a moetune-placement version 1 file")
    if j.get("experts") != experts: bad(f"{path}: \"experts\" must be {experts} (the run's --experts)")
    if j.get("ranks") != nranks: bad(f"{path}: \"ranks\" must be {nranks} (the run's rank count)")
    for lkey, lval in (j.get("layers") or {}).items():
        if not lkey.isdigit(): bad(f"{path}: layer key '{lkey}' is not a layer index")
        l = int(lkey)
        if l >= layers: continue
        for e in range(experts):
            ranks = lval.get(str(e))
            if ranks is None: bad(f"{path}: layer {l} misses expert {e}")
            if not isinstance(ranks, list) or not ranks: bad(f"{path}: layer {l} expert {e}: needs a non-empty list of ranks")
            for r in ranks:
                if not isinstance(r, int) or not 0 <= r < nranks:
                    bad(f"{path}: layer {l} expert {e} names rank {r}, which does not exist (ranks 0..{nranks - 1})")
            if len(set(ranks)) != len(ranks): bad(f"{path}: layer {l} expert {e} lists a rank twice")
            copies[l][e] = ranks
    return copies


def main():
    o = parse_args(sys.argv[1:])
    rank, nranks = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if o.slow[0] >= nranks: bad(f"--slow-rank names rank {o.slow[0]} but there are {nranks} ranks")
    if not o.placement and nranks > o.experts: bad(f"{nranks} ranks but only {o.experts} experts")
    copies = load_placement(o.placement, o.layers, o.experts, nranks)
    if o.emulate_nodes:  # read by NCCL at communicator init, which comes later
        os.environ.setdefault("NCCL_HOSTID", f"moe-node{rank}")
    import torch
    import torch.distributed as dist
    try:
        import moetune
    except ImportError:  # run from the source tree: the helper lives in python/
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
        import moetune
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import capacity
    if not torch.cuda.is_available(): print("torch_moe: no CUDA device", file=sys.stderr); sys.exit(1)
    dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count())
    torch.cuda.set_device(dev)
    torch.backends.cuda.matmul.allow_tf32 = False
    dist.init_process_group("nccl", rank=rank, world_size=nranks, device_id=dev)
    H, F, E, T, K, C, R = o.hidden, o.ffn, o.experts, o.tokens, o.top_k, o.overlap_chunks, nranks
    cdt = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[o.comm_dtype]

    def rand(shape, stream, scale):
        g = torch.Generator().manual_seed(o.seed * 1000003 + stream)
        return ((torch.rand(shape, generator=g) * 2 - 1) * scale).to(dev)

    g = torch.Generator().manual_seed(o.seed * 1000003 + 7)  # global tokens: same for any rank count
    x_in = (torch.rand((R * T, H), generator=g) * 2 - 1)[rank * T:(rank + 1) * T].to(dev)
    gates, biases, w1, w2, local, fixed, ctab, ncop, placement_msgs = [], [], [], [], [], [], [], [], []
    cap = capacity.capacity(T, K, C, E, o.capacity_factor)
    lays, slot_ts, off_ts = [], [], []  # --dispatch capacity: per-layer slot layout
    for l in range(o.layers):
        gates.append(rand((H, E), 1000000 + l, 3.0 / H ** 0.5))
        gp = torch.Generator().manual_seed(o.seed * 1000003 + l * 7919 + 17)
        order = torch.randperm(E, generator=gp)
        bias = torch.empty(E); bias[order] = -o.skew * torch.log(torch.arange(1, E + 1, dtype=torch.float32))
        biases.append(bias.to(dev))
        loc = [e for e in range(E) if rank in copies[l][e]]
        local.append(loc)
        w1.append([rand((H, F), 2000000 + l * 4096 + e, (3.0 / H) ** 0.5) for e in loc])
        w2.append([rand((F, H), 3000000 + l * 4096 + e, (3.0 / F) ** 0.5) for e in loc])
        # Copy choice (docs/PLACEMENT.md): own rank, else same node, else round-robin.
        fx = []
        for e in range(E):
            c = copies[l][e]
            same = [r for r in c if r // o.ranks_per_node == rank // o.ranks_per_node]
            fx.append(c[0] if len(c) == 1 else rank if rank in c else same[0] if same else -1)
        fixed.append(torch.tensor(fx, device=dev))
        m = max(len(c) for c in copies[l])
        ctab.append(torch.tensor([c + [c[0]] * (m - len(c)) for c in copies[l]], device=dev))
        ncop.append(torch.tensor([len(c) for c in copies[l]], device=dev))
        placement_msgs.append(f"moe.placement layer={l} map=" +
                              ",".join(f"{e}:" + "|".join(map(str, copies[l][e])) for e in range(E)))
        moetune.placement(l, copies[l])
        lays.append(capacity.layout(copies[l], R, E, cap))
        slot_ts.append(torch.tensor(lays[-1]["slot"], device=dev))
        off_ts.append(torch.tensor(lays[-1]["off"], device=dev))
    grad = torch.rand(o.layers * (H * E + 4 * H * H), device=dev) if o.grad_allreduce else None

    def ffn(l, li, x):
        y = torch.relu(x @ w1[l][li]) @ w2[l][li]
        if rank == o.slow[0] and o.slow[1] > 1 and x.shape[0]:
            extra = round((o.slow[1] - 1) * x.shape[0])
            while extra > 0:  # straggler: extra real FLOPs, results discarded
                m = min(extra, x.shape[0]); torch.relu(x[:m] @ w1[l][li]) @ w2[l][li]; extra -= m
        return y

    dropped = torch.zeros((), dtype=torch.long, device=dev)

    def layer_capacity(l, x, w, e_flat, dest, chunk):
        # Fixed slots per (chunk, dest, expert): every split size is a host constant (capacity.py).
        nonlocal dropped
        lay, S, nme = lays[l], lays[l]["S"], lays[l]["nloc"][rank]
        with moetune.phase("dispatch"):
            idx, kept = capacity.slot_indices(torch, lay, e_flat, dest, chunk, C, slot_ts[l], off_ts[l])
            dropped += (~kept).sum()
            send_buf = torch.zeros((C * S + 1, H), dtype=cdt, device=dev)
            send_buf[idx] = x[torch.arange(T * K, device=dev) // K].to(cdt)
            recv_bufs, works = [], []
            for c in range(C):
                rb = send_buf.new_empty((R * nme * cap, H))
                works.append(dist.all_to_all_single(rb, send_buf[c * S:(c + 1) * S], capacity.recv_splits(lay, rank),
                                                    capacity.send_splits(lay), async_op=True))
                recv_bufs.append(rb)
        comb_bufs, cworks = [], []
        for c in range(C):
            with moetune.phase("experts"):
                works[c].wait()
                rb = recv_bufs[c].float().view(R, nme, cap, H)
                out = torch.empty_like(rb)
                for li in range(nme):  # empty slots are zero rows: relu(0 @ w1) @ w2 = 0
                    out[:, li] = ffn(l, li, rb[:, li].reshape(R * cap, H)).view(R, cap, H)
            with moetune.phase("combine"):
                cb = send_buf.new_empty((S, H))
                cworks.append(dist.all_to_all_single(cb, out.reshape(-1, H).to(cdt), capacity.send_splits(lay),
                                                     capacity.recv_splits(lay, rank), async_op=True))
                comb_bufs.append(cb)
        with moetune.phase("combine"):
            for wk in cworks: wk.wait()
            comb_bufs.append(send_buf.new_zeros((1, H)))  # the dummy row of dropped assignments
            back = torch.cat(comb_bufs).float()[idx]
            return x + (back.view(T, K, H) * w[..., None]).sum(1)

    def layer(l, x, routed):
        with moetune.phase("gate"):
            logits = x @ gates[l] + biases[l]
            probs = torch.softmax(logits, dim=-1)
            w, idx = torch.topk(probs, K, dim=-1)
            w = w / w.sum(-1, keepdim=True)
            e_flat = idx.reshape(-1)
            onehot = torch.nn.functional.one_hot(e_flat, E)
            nth = (torch.cumsum(onehot, 0) - 1).gather(1, e_flat[:, None]).squeeze(1)  # n-th slot of its expert
            rr = ctab[l][e_flat, (nth + rank) % ncop[l][e_flat]]
            dest = torch.where(fixed[l][e_flat] >= 0, fixed[l][e_flat], rr)
            chunk = ((torch.arange(T * K, device=dev) // K + 1) * C - 1) // T  # as moe_nccl: t in [T*c/C, T*(c+1)/C)
            tpe = onehot.sum(0)  # tokens per expert (no bincount: on CUDA it reads the max on the host)
            routed += tpe
            moetune.route(l, tpe)  # async copy to pinned memory + event: no host sync here
            if o.dispatch == "dropless":
                key = (chunk * R + dest) * E + e_flat
                order = torch.argsort(key, stable=True)
                counts = torch.bincount(key, minlength=C * R * E).view(C, R, E)
        if o.dispatch == "capacity":
            return layer_capacity(l, x, w, e_flat, dest, chunk)
        with moetune.phase("dispatch"):
            send_c = counts.permute(1, 0, 2).contiguous()  # [dest][chunk][expert]
            recv_c = torch.empty_like(send_c)
            dist.all_to_all_single(recv_c, send_c)
            recv_c = recv_c.permute(1, 0, 2).cpu()  # [chunk][src][expert]
            send_rows = counts.sum(2).cpu()         # [chunk][dest]
            send_buf = x[order // K].to(cdt)
            s_off = [0] + torch.cumsum(send_rows.sum(1), 0).tolist()
            recv_bufs, works = [], []
            for c in range(C):
                rb = send_buf.new_empty((int(recv_c[c].sum()), H))
                works.append(dist.all_to_all_single(rb, send_buf[s_off[c]:s_off[c + 1]], recv_c[c].sum(1).tolist(),
                                                    send_rows[c].tolist(), async_op=True))
                recv_bufs.append(rb)
        comb_bufs, cworks = [], []
        for c in range(C):
            with moetune.phase("experts"):
                works[c].wait()
                rb = recv_bufs[c].float()
                # rows are (src, expert)-ordered; group by expert, run each local FFN, put back.
                e_of_row = torch.repeat_interleave(torch.arange(E).repeat(R), recv_c[c].reshape(-1)).to(dev)
                out = torch.empty_like(rb)
                for li, e in enumerate(local[l]):
                    rows = (e_of_row == e).nonzero().squeeze(1)
                    if rows.numel(): out[rows] = ffn(l, li, rb[rows])
            with moetune.phase("combine"):
                cb = send_buf.new_empty((s_off[c + 1] - s_off[c], H))
                cworks.append(dist.all_to_all_single(cb, out.to(cdt), send_rows[c].tolist(), recv_c[c].sum(1).tolist(),
                                                     async_op=True))
                comb_bufs.append(cb)
        with moetune.phase("combine"):
            for wk in cworks: wk.wait()
            back = torch.empty((T * K, H), device=dev)
            back[order] = torch.cat(comb_bufs).float()
            y = x + (back.view(T, K, H) * w[..., None]).sum(1)
        return y

    prof, prof_warm = None, max(0, min(o.warmup, 2))
    if o.torch_profiler:
        from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler
        os.makedirs(o.torch_profiler, exist_ok=True)
        prof = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], record_shapes=True,
                       schedule=schedule(wait=0, warmup=prof_warm, active=min(o.steps, 3), repeat=1),
                       on_trace_ready=tensorboard_trace_handler(o.torch_profiler, worker_name=f"rank{rank}",
                                                                use_gzip=True))
        prof.start()
    routed = torch.zeros(E, dtype=torch.long, device=dev)
    times = []
    y = x_in
    for s in range(o.warmup + o.steps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with moetune.step(s, tokens=T):
            if prof and s == prof_warm and not o.no_marks:  # first recorded step: the placement once more, for Kineto
                for msg in placement_msgs:
                    with torch.autograd.profiler.record_function(msg):
                        pass
            y = x_in
            for l in range(o.layers):
                y = layer(l, y, routed)
            if grad is not None:
                with moetune.phase("allreduce"):
                    if o.grad_dtype == "bf16":  # compress, reduce, decompress (bf16_compress_hook)
                        g16 = grad.to(torch.bfloat16)
                        dist.all_reduce(g16, op=dist.ReduceOp.AVG)
                        grad.copy_(g16)
                    else:
                        dist.all_reduce(grad, op=dist.ReduceOp.AVG)
            torch.cuda.synchronize()
        if s >= o.warmup: times.append((time.perf_counter() - t0) * 1e3)
        if prof: prof.step()
    moetune.flush()  # routes whose counts are still in flight (none after the last synchronize)
    if prof: prof.stop()
    t = torch.tensor(times, device=dev)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)  # the job's step = the slowest rank's
    times = t.tolist()
    if o.check_out:
        with open(f"{o.check_out}.rank{rank}.bin", "wb") as f:
            f.write(struct.pack("<4i", 0x4D4F4531, T, H, rank * T))
            f.write(y.float().cpu().numpy().astype("<f4").tobytes())
    med = statistics.median(times)
    if rank == 0:
        print(json.dumps({"sample": "torch_moe", "tokens_per_s": T * R / (med / 1e3), "median_step_ms": med,
                          "min_step_ms": min(times), "max_step_ms": max(times), "measured_steps": len(times),
                          "ranks": R, "experts": E, "top_k": K, "hidden": H, "ffn": F, "tokens_per_rank": T,
                          "layers": o.layers, "skew": o.skew, "comm_dtype": o.comm_dtype, "overlap_chunks": C,
                          "placement": o.placement or "default", "grad_allreduce": o.grad_allreduce, "grad_dtype": o.grad_dtype,
                          "slow_rank": o.slow[0], "slow_factor": o.slow[1], "seed": o.seed,
                          "torch": torch.__version__, "nccl_version": ".".join(map(str, torch.cuda.nccl.version())),
                          "device": torch.cuda.get_device_name(dev), "routed_tokens_rank0": routed.tolist(),
                          "torch_profiler": o.torch_profiler or None, "dispatch": o.dispatch,
                          "capacity_slots": cap if o.dispatch == "capacity" else None,
                          "dropped_assignments": int(dropped) if o.dispatch == "capacity" else 0}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
