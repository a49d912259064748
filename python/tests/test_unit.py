# SPDX-License-Identifier: Apache-2.0
"""Unit test of the moetune Python helper without torch or a GPU: the texts it emits
(docs/CONVENTIONS-NVTX.md), deferred routes keeping their order and step, phase names,
MOETUNE_DISABLE. usage: test_unit.py PYTHON_PACKAGE_DIR"""
import os
import sys

sys.path.insert(0, sys.argv[1])
import moetune  # noqa: E402
from moetune import _marks  # noqa: E402

emitted = []
_marks._mark = emitted.append  # capture marks (ranges go through _Range: also captured)


class Capture(_marks._Range):
    def __enter__(self):
        emitted.append("push " + self.text)
        return self

    def __exit__(self, *exc):
        emitted.append("pop")
        return False


_marks._Range = Capture
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)


with moetune.step(3, tokens=128):
    moetune.route(0, [5, 0, 7])
    with moetune.phase("dispatch"):
        pass
check(emitted == ["push moe:step 3 tokens=128", "moe.route layer=0 step=3 tokens=5,0,7",
                  "push moe:dispatch", "pop", "pop"], f"step/route/phase texts: {emitted}")

emitted.clear()
_marks._defer_cpu = True  # counts that land late, as a CUDA copy may
with moetune.step(4):
    moetune.route(1, [1, 2])
    moetune.route(0, [3, 4])
check(moetune.pending() == 2, "two routes in flight after step 4 closed")
with moetune.step(5):
    moetune.route(1, [9, 9])
moetune.flush()
routes = [e for e in emitted if e.startswith("moe.route")]
check(routes == ["moe.route layer=1 step=4 tokens=1,2", "moe.route layer=0 step=4 tokens=3,4",
                 "moe.route layer=1 step=5 tokens=9,9"], f"deferred routes keep order and step: {routes}")
check(emitted[0] == "push moe:step 4", f"step without tokens: {emitted[0]}")
check(moetune.pending() == 0, "flush() empties the queue")
_marks._defer_cpu = False

emitted.clear()
moetune.placement(2, {0: [0], 1: [1, 3]})
moetune.route(0, [1], step=9)
check(emitted == ["moe.placement layer=2 map=0:0,1:1|3", "moe.route layer=0 step=9 tokens=1"],
      f"placement / explicit step: {emitted}")

try:
    with moetune.phase("attention"):
        pass
    fails.append("an unknown phase name must raise ValueError")
except ValueError:
    pass

emitted.clear()
os.environ["MOETUNE_DISABLE"] = "1"
with moetune.step(1):
    moetune.route(0, [1])
check(emitted == [], f"MOETUNE_DISABLE=1 emits nothing: {emitted}")
del os.environ["MOETUNE_DISABLE"]

if fails:
    print("FAIL: " + "; ".join(fails))
    sys.exit(1)
print("ok: texts, deferred order, placement, phases, disable")
