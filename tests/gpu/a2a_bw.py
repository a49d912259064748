# SPDX-License-Identifier: Apache-2.0
# All-to-all bus bandwidth sweep (nccl-tests convention: busbw = algbw * (n-1)/n), one
# process per GPU under torchrun. Prints one JSON line per size from rank 0.
import json, os, time
import torch
import torch.distributed as dist

dist.init_process_group("nccl")
r, n = dist.get_rank(), dist.get_world_size()
torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", r)))
for mib in (1, 4, 16, 64, 256, 1024):
    nbytes = mib << 20
    x = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        dist.all_to_all_single(y, x)
    torch.cuda.synchronize()
    iters = 20
    t0 = time.perf_counter()
    for _ in range(iters):
        dist.all_to_all_single(y, x)
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / iters
    algbw = nbytes / dt / 1e9
    if r == 0:
        print(json.dumps({"bytes": nbytes, "time_us": dt * 1e6, "algbw_gbps": algbw,
                          "busbw_gbps": algbw * (n - 1) / n, "nranks": n}), flush=True)
dist.destroy_process_group()
