# SPDX-License-Identifier: Apache-2.0
# PyTorch MoE step for the live-collector device tests (run under torchrun, NCCL).
# Per step: NVTX "step N tokens=T" range, a "moe.route layer=0 tokens=..." mark
# (default domain: torch.cuda.nvtx has no domains), gate matmul, all_to_all_single
# dispatch + combine, expert matmul, all_reduce. Prints one JSON line per rank with
# the median step time over the measured steps.
# Options: --steps N --warmup W --tokens T --hidden H --profiler (wrap in torch.profiler)
import argparse, json, os, time

import torch
import torch.distributed as dist

ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=30)
ap.add_argument("--warmup", type=int, default=5)
ap.add_argument("--tokens", type=int, default=2048)
ap.add_argument("--hidden", type=int, default=1024)
ap.add_argument("--experts", type=int, default=8)
ap.add_argument("--profiler", action="store_true")
a = ap.parse_args()

if os.environ.get("MOE_HOSTID_PER_RANK") == "1":
    # One GPU, several ranks: NCCL must see each rank as its own host (DEVICE-NOTES.md).
    os.environ["NCCL_HOSTID"] = "moehost" + os.environ.get("RANK", "0")
dist.init_process_group("nccl")
rank, world = dist.get_rank(), dist.get_world_size()
torch.cuda.set_device(0)
dev = torch.device("cuda", 0)
g = torch.Generator(device="cpu").manual_seed(1234 + rank)
x = torch.randn(a.tokens, a.hidden, device=dev)
wg = torch.randn(a.hidden, a.experts, device=dev)
we = torch.randn(a.hidden, a.hidden, device=dev) * 0.01
grad = torch.randn(1 << 20, device=dev)


def step(i):
    torch.cuda.nvtx.range_push(f"step {i} tokens={a.tokens}")
    logits = x @ wg
    top = logits.topk(2, dim=-1).indices
    counts = torch.bincount(top.flatten(), minlength=a.experts).cpu().tolist()
    torch.cuda.nvtx.mark("moe.route layer=0 tokens=" + ",".join(str(c) for c in counts))
    buf = x.repeat_interleave(1, dim=0)
    out = torch.empty_like(buf)
    dist.all_to_all_single(out, buf)
    y = out @ we
    back = torch.empty_like(y)
    dist.all_to_all_single(back, y)
    dist.all_reduce(grad)
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_pop()


times = []
prof = None
if a.profiler:
    prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA])
    prof.__enter__()
for i in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    step(i)
    if i >= a.warmup:
        times.append((time.perf_counter() - t0) * 1e3)
if prof is not None:
    prof.__exit__(None, None, None)
s = sorted(times)
print(json.dumps({"rank": rank, "world": world, "steps": len(times), "median_step_ms": s[len(s) // 2],
                  "profiler": a.profiler, "step_ms": [round(t, 4) for t in times]}), flush=True)
dist.destroy_process_group()
