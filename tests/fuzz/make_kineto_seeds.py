#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the Kineto fuzz seed corpus (tests/data/fuzz/kineto/seed_*) from the real
traces in ../shared/data/external/kineto: each seed keeps a file's top-level keys and
a few events of every (ph, cat) kind it has, so mutations stay small and reach every
branch of the importer. Re-run after adding real traces; crash inputs live beside
the seeds as crash-*."""
import collections
import gzip
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parents[2]
src = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared/data/external/kineto"
out = root / "tests/data/fuzz/kineto"
out.mkdir(parents=True, exist_ok=True)

for f in sorted(src.glob("*.json.gz")):
    d = json.load(gzip.open(f))
    keep, seen = [], collections.Counter()
    for e in d["traceEvents"]:
        kind = (e.get("ph"), e.get("cat"), "nccl" if str(e.get("name", "")).startswith("nccl") else "",
                "step" if str(e.get("name", "")).startswith("ProfilerStep") else "")
        if seen[kind] < 3:
            seen[kind] += 1
            keep.append(e)
    d["traceEvents"] = keep
    if "INFO" in d:
        d["INFO"] = d["INFO"][:2]
    if "deviceProperties" in d:
        d["deviceProperties"] = d["deviceProperties"][:2]
    stem = f.name.replace(".json.gz", "")
    text = json.dumps(d, separators=(",", ":"))
    (out / f"seed_{stem}.json").write_text(text)
    print(f"seed_{stem}.json: {len(keep)} events, {len(text)} bytes")

# One gzip seed so mutations reach the inflate path (mtime 0: reproducible bytes).
small = min(out.glob("seed_*.json"), key=lambda p: p.stat().st_size)
with open(out / "seed_gzip.json.gz", "wb") as fh:
    with gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as g:
        g.write(small.read_bytes())
