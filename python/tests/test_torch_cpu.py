# SPDX-License-Identifier: Apache-2.0
"""CPU test of the moetune Python helper with torch.profiler (no GPU):
a small top-k MoE loop marked with moetune.step / phase / route runs under
torch.profiler, the exported Kineto JSON is imported with `moetune import`, and the
run's steps and expert_routing rows must equal what the loop routed (also for routes
emitted after their step closed: the deferred path a CUDA event takes on a GPU).

usage: test_torch_cpu.py MOETUNE_CLI PYTHON_PACKAGE_DIR WORKDIR
exit 77 (ctest SKIP) when torch is not importable."""
import json
import os
import sqlite3
import subprocess
import sys

cli, pkg, work = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    import torch
except ImportError:
    print("SKIP: torch is not installed (Debian: apt-get install python3-torch)")
    sys.exit(77)
sys.path.insert(0, pkg)
import moetune  # noqa: E402
from moetune import _marks  # noqa: E402

os.makedirs(work, exist_ok=True)
E, K, T, H, LAYERS, STEPS = 8, 2, 64, 16, 2, 5
torch.manual_seed(0)
gates = [torch.randn(H, E) for _ in range(LAYERS)]
bias = torch.linspace(2.0, -2.0, E)  # skewed: low experts hot
expected = {}  # (step, layer) -> counts

from torch.profiler import ProfilerActivity, profile  # noqa: E402

with profile(activities=[ProfilerActivity.CPU]) as prof:
    for s in range(STEPS):
        _marks._defer_cpu = s % 2 == 1  # odd steps: counts "land" after the step closed
        with moetune.step(s, tokens=T):
            x = torch.randn(T, H)
            for layer in range(LAYERS):
                with moetune.phase("gate"):
                    _, idx = torch.topk(x @ gates[layer] + bias, K, dim=-1)
                    counts = torch.bincount(idx.reshape(-1), minlength=E)
                    moetune.route(layer, counts)
                    expected[(s, layer)] = counts.tolist()
                with moetune.phase("dispatch"):
                    y = x * 2
                with moetune.phase("experts"):
                    x = torch.relu(y) + x
                with moetune.phase("combine"):
                    x = x / 2
        if _marks._defer_cpu and moetune.pending() == 0:
            print("FAIL: deferred routes were emitted before their step closed")
            sys.exit(1)
    moetune.flush()
    if moetune.pending():
        print("FAIL: flush() left routes pending")
        sys.exit(1)

trace = os.path.join(work, "cpu_trace.json")
prof.export_chrome_trace(trace)
doc = json.load(open(trace))
events = doc.get("traceEvents", []) if isinstance(doc, dict) else doc  # Kineto, or the legacy export
names = {e.get("name") for e in events}
for want in ("moe:step 0 tokens=64", "moe:gate", "moe:dispatch"):
    if want not in names:
        print(f"FAIL: the Kineto trace has no record_function '{want}'")
        sys.exit(1)
run = os.path.join(work, "cpu_trace.moetune")
if os.path.exists(run):
    os.remove(run)
r = subprocess.run([cli, "import", trace, "--rank", "0", "-o", run], capture_output=True, text=True)
if r.returncode != 0:
    print(f"FAIL: moetune import exit {r.returncode}: {r.stderr.strip()}")
    sys.exit(1)
db = sqlite3.connect(run)
steps = db.execute("SELECT step, tokens FROM steps ORDER BY step").fetchall()
if steps != [(s, T) for s in range(STEPS)]:
    print(f"FAIL: steps {steps}")
    sys.exit(1)


def stored_list(b):
    """A list as the store keeps it (trace/schema.sql, nccl_lists): tag 1/2 + varints
    (0 then n: n + 1 zeros), tag 0x11/0x12 bit-packed, tag 0 + JSON text."""
    b = bytes(b)
    if not b:
        return []
    if b[0] == 0:
        return json.loads(b[1:].decode())
    pos = 1

    def var():
        nonlocal pos
        v = shift = 0
        while True:
            x = b[pos]
            pos += 1
            v |= (x & 0x7F) << shift
            shift += 7
            if not x & 0x80:
                return v

    if b[0] in (1, 2):
        out = []
        while pos < len(b):
            v = var()
            out += [v] if v else [0] * (var() + 1)
        return out
    n, off, stride, m, base = [var() for _ in range(5)]
    w, bits = b[pos], int.from_bytes(b[pos + 1:], "little")
    out = [0] * n
    for k in range(m):
        out[off + k * stride] = base + ((bits >> (k * w)) & ((1 << w) - 1))
    return out


got = {}
if db.execute("PRAGMA user_version").fetchone()[0] >= 3:  # routing as one row of lists per (step, layer, rank)
    for step, layer, e0, experts, tokens in db.execute(
            "SELECT step, layer, expert0, experts, tokens FROM expert_counts"):
        tok = stored_list(tokens)
        for expert, t in zip(stored_list(experts) if experts is not None else range(e0, e0 + len(tok)), tok):
            got.setdefault((step, layer), [0] * E)[expert] += t
else:
    for step, layer, expert, tokens in db.execute("SELECT step, layer, expert, tokens FROM expert_routing"):
        got.setdefault((step, layer), [0] * E)[expert] += tokens
if got != expected:
    print(f"FAIL: routing rows differ\n got      {sorted(got.items())}\n expected {sorted(expected.items())}")
    sys.exit(1)
phases = {n for (n,) in db.execute(
    "SELECT s.value FROM nvtx n JOIN strings s ON s.id = n.name_id WHERE s.value LIKE 'moe:%'")}
for want in ("moe:gate", "moe:dispatch", "moe:experts", "moe:combine"):
    if want not in phases:
        print(f"FAIL: phase range {want} not in the imported nvtx table ({sorted(phases)[:8]})")
        sys.exit(1)
fmt = "Kineto" if isinstance(doc, dict) else "legacy autograd-profiler"
print(f"ok: torch {torch.__version__} ({fmt} export), {len(steps)} steps, {len(got)} (step, layer) routings "
      f"({sum(1 for s, _ in got if s % 2)} deferred), {len(phases)} phase/step names")
