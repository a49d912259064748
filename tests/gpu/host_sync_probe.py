# SPDX-License-Identifier: Apache-2.0
"""Which host syncs does moetune.route() add? Runs a small GPU loop under torch.profiler with
the helper emitting and disabled, and for every blocking CUDA runtime call (cudaEventSynchronize,
cudaStreamSynchronize, cudaDeviceSynchronize, blocking cudaMemcpy) names the innermost CPU op or
range around it. Then the same for each primitive route() uses, alone. Writes one JSON document.
Usage: python3 tests/gpu/host_sync_probe.py OUT.json"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

import moetune  # noqa: E402
from moetune import _marks  # noqa: E402

BLOCKING = ("cudaEventSynchronize", "cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaMemcpy")


def blocking_calls(fn):
    """Runs fn under torch.profiler; returns {sync name: {enclosing op: count}}."""
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as p:
        fn()
        torch.cuda.synchronize()
    path = tempfile.mktemp(suffix=".json")
    p.export_chrome_trace(path)
    with open(path) as f:
        events = json.load(f)["traceEvents"]
    os.unlink(path)
    ops = [e for e in events if e.get("ph") == "X" and e.get("cat") in ("cpu_op", "user_annotation")]
    out = {}
    for e in events:
        if e.get("ph") != "X" or e.get("cat") != "cuda_runtime" or e.get("name") not in BLOCKING:
            continue
        t, tid = e["ts"], e.get("tid")
        inner = None
        for o in ops:
            if o.get("tid") == tid and o["ts"] <= t and t <= o["ts"] + o.get("dur", 0):
                if inner is None or o.get("dur", 0) < inner.get("dur", 0):
                    inner = o
        where = inner["name"] if inner else "(no enclosing op)"
        out.setdefault(e["name"], {}).setdefault(where, 0)
        out[e["name"]][where] += 1
    return out


def loop(helper, steps=20, layers=2):
    x = torch.randn(2048, 2048, device="cuda")

    def run():
        for s in range(steps):
            with moetune.step(s, tokens=4096):
                for layer in range(layers):
                    y = x @ x
                    tpe = torch.bincount(torch.randint(0, 8, (4096,), device="cuda"), minlength=8)
                    if helper:
                        moetune.route(layer, tpe)
                    x.copy_(y * 1e-3)
        moetune.flush(wait=False)
    return run


def primitive(name):
    src = torch.arange(8, device="cuda")
    host = torch.empty(8, dtype=src.dtype, pin_memory=True)

    def pin():
        for _ in range(20):
            torch.empty(8, dtype=torch.int64, pin_memory=True)

    def copy():
        for _ in range(20):
            host.copy_(src, non_blocking=True)

    def event():
        for _ in range(20):
            ev = torch.cuda.Event()
            ev.record()
            ev.query()

    def route_only():
        for s in range(20):
            moetune.route(0, src, step=s)
    return {"pin_memory": pin, "copy_non_blocking": copy, "event_record_query": event, "route": route_only}[name]


def main():
    res = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0)}
    os.environ["MOETUNE_DISABLE"] = "1"
    blocking_calls(loop(False, steps=3))  # warm-up: cuBLAS handles, allocator
    res["loop_helper_disabled"] = blocking_calls(loop(True))
    os.environ.pop("MOETUNE_DISABLE")
    res["loop_helper_emitting"] = blocking_calls(loop(True))
    res["loop_no_route_calls"] = blocking_calls(loop(False))
    for name in ("pin_memory", "copy_non_blocking", "event_record_query", "route"):
        res["primitive_" + name] = blocking_calls(primitive(name))
    res["pending_after"] = _marks.pending()
    moetune.flush(wait=True)
    with open(sys.argv[1], "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    print(json.dumps(res, sort_keys=True))


if __name__ == "__main__":
    main()
