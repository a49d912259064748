#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compare the final MoE activations of an N-rank run with a 1-rank reference.

usage: samples_compare.py LABEL RUN_PREFIX REF_PREFIX REL_TOL
Reads RUN_PREFIX.rank*.bin and REF_PREFIX.rank0.bin (format: int32 magic 'MOE1', tokens, hidden,
first global token, then float32 rows), puts the run's ranks at their global token offsets and
prints one JSON line. A token fails when its largest |diff| exceeds REL_TOL * max|ref|. Passes
when no token fails (exit 0), else exit 1.
"""
import glob
import json
import struct
import sys

import numpy as np


def load(path):
    with open(path, "rb") as f:
        magic, t, h, off = struct.unpack("<4i", f.read(16))
        if magic != 0x4D4F4531:
            sys.exit(f"{path}: not a MOE1 check file")
        return off, np.frombuffer(f.read(), dtype="<f4").reshape(t, h)


def main():
    label, run, ref, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    _, r = load(ref + ".rank0.bin")
    got = np.full_like(r, np.nan)
    files = sorted(glob.glob(run + ".rank*.bin"))
    for p in files:
        off, a = load(p)
        got[off:off + a.shape[0]] = a
    scale = float(np.abs(r).max())
    diff = np.abs(got - r)
    tok = np.nanmax(diff, axis=1)
    bad = int(np.sum(~(tok <= tol * scale)))  # NaN (missing rows) counts as bad
    out = {"check": label, "ranks": len(files), "tokens": int(r.shape[0]), "hidden": int(r.shape[1]),
           "max_abs_ref": scale, "max_abs_diff": float(np.nanmax(diff)),
           "max_rel_err": float(np.nanmax(diff)) / scale, "mean_abs_diff": float(np.nanmean(diff)),
           "rel_tol": tol, "tokens_over_tol": bad, "pass": bad == 0}
    print(json.dumps(out), flush=True)
    sys.exit(0 if bad == 0 else 1)


if __name__ == "__main__":
    main()
