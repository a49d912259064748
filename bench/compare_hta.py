#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""moetune import + analyze against HTA (HolisticTraceAnalysis) on the same Kineto files.

Not a CI test: a benchmark whose numbers go into bench/README.md. Run it on a quiet
machine (it prints the load average before every run; wall times under load mean little).

  python3 bench/compare_hta.py --moetune build/dev/app/moetune [--dir DIR] [--events 2000000]
                               [--ranks 8] [--runs 3] [--hta-runs 1]

DIR holds one Kineto JSON per rank (rank*.json); when it has none, they are made with
bench/make_kineto.py (SYNTHETIC: --events split over --ranks files). Per run it times
`moetune import` and `moetune analyze` (wall, user+sys, peak RSS from /usr/bin/time when
present) and prints min/median/max. When the `hta` package is importable it times, in a
separate Python process, HTA's TraceAnalysis load + get_comm_comp_overlap() +
get_temporal_breakdown() on the same files and prints the ratio; otherwise one line says
it was skipped (HTA is a pip package: `pip install HolisticTraceAnalysis`).
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

HTA_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
from hta.trace_analysis import TraceAnalysis
t1 = time.perf_counter()
a = TraceAnalysis(trace_dir=sys.argv[1])
t2 = time.perf_counter()
a.get_comm_comp_overlap(visualize=False)
t3 = time.perf_counter()
a.get_temporal_breakdown(visualize=False)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "overlap": t3 - t2, "temporal": t4 - t3}))
"""


def load():
    return os.getloadavg()[0]


def timed(cmd):
    """Runs cmd; returns (wall s, user+sys s, peak RSS MB or None)."""
    gnu_time = "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = ([gnu_time, "-o", tf.name, "-f", "%e %U %S %M"] if os.path.exists(gnu_time) else []) + cmd
        t0 = time.perf_counter()
        r = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
        if os.path.exists(gnu_time):
            e, u, s, m = tf.read().split()[-4:]
            return float(e), float(u) + float(s), int(m) / 1024
        return wall, None, None


def summary(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/m"
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--moetune", required=True, help="the moetune CLI binary")
    p.add_argument("--dir", default="/tmp/moetune-hta-bench", help="folder of rank*.json (made when empty)")
    p.add_argument("--events", type=int, default=2_000_000)
    p.add_argument("--ranks", type=int, default=8)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--hta-runs", type=int, default=1)
    a = p.parse_args()

    os.makedirs(a.dir, exist_ok=True)
    files = sorted(glob.glob(os.path.join(a.dir, "rank*.json")))
    if not files:
        per = a.events // a.ranks
        print(f"== making {a.ranks} SYNTHETIC rank files of {per} events in {a.dir}")
        procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "make_kineto.py"), "-n", str(per), "--rank",
                                   str(r), "-o", os.path.join(a.dir, f"rank{r}.json")], stdout=subprocess.DEVNULL)
                 for r in range(a.ranks)]
        if any(pr.wait() for pr in procs):
            sys.exit("make_kineto.py failed")
        files = sorted(glob.glob(os.path.join(a.dir, "rank*.json")))
    size = sum(os.path.getsize(f) for f in files)
    print(f"== {len(files)} files, {size / 1e6:.1f} MB; machine: {os.cpu_count()} cores")

    out = os.path.join(tempfile.gettempdir(), f"moetune-hta-{os.getpid()}.moetune")
    imp, ana = [], []
    for i in range(a.runs):
        l0 = load()
        imp.append(timed([a.moetune, "import", *files, "-o", out, "--force"]))
        l1 = load()
        ana.append(timed([a.moetune, "analyze", out]))
        print(f"run {i + 1}: load {l0:.2f}/{l1:.2f}; import {imp[-1][0]:.2f} s wall, {imp[-1][1] or 0:.2f} s CPU, "
              f"{imp[-1][2] or 0:.0f} MB; analyze {ana[-1][0]:.2f} s wall, {ana[-1][1] or 0:.2f} s CPU, "
              f"{ana[-1][2] or 0:.0f} MB")
    events = None
    info = subprocess.run([a.moetune, "info", out, "--json"], capture_output=True, text=True)
    if info.returncode == 0:
        try:
            events = sum(v for v in json.loads(info.stdout).get("counts", {}).values() if isinstance(v, int))
        except (ValueError, AttributeError):
            events = None
    os.remove(out)
    both = [x[0] + y[0] for x, y in zip(imp, ana)]
    print("moetune (min / median / max over %d runs):" % a.runs)
    print(f"  import  wall {summary([x[0] for x in imp])} s, CPU {summary([x[1] for x in imp])} s, "
          f"peak RSS {summary([x[2] for x in imp])} MB")
    print(f"  analyze wall {summary([x[0] for x in ana])} s, CPU {summary([x[1] for x in ana])} s, "
          f"peak RSS {summary([x[2] for x in ana])} MB")
    print(f"  import + analyze wall {summary(both)} s")
    if events:
        print(f"  rows stored: {events}")

    probe = subprocess.run([sys.executable, "-c", "import hta"], capture_output=True)
    if probe.returncode != 0:
        print("HTA: not importable (pip install HolisticTraceAnalysis); skipped")
        return
    hta = []
    for i in range(a.hta_runs):
        l0 = load()
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", HTA_SCRIPT, a.dir], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            print(f"HTA failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
            return
        parts = json.loads(r.stdout.strip().splitlines()[-1])
        hta.append((wall, parts))
        print(f"HTA run {i + 1}: load {l0:.2f}; process {wall:.2f} s (python import {parts['import']:.2f}, "
              f"TraceAnalysis {parts['load']:.2f}, overlap {parts['overlap']:.2f}, temporal {parts['temporal']:.2f})")
    hta_med = statistics.median(w for w, _ in hta)
    print(f"HTA load + overlap + temporal breakdown: {summary([w for w, _ in hta])} s (whole process)")
    print(f"ratio HTA / moetune (medians, import + analyze): {hta_med / statistics.median(both):.1f}x")


if __name__ == "__main__":
    main()
