# SPDX-License-Identifier: Apache-2.0
# Checks a recorded run (SQLite store) the way the device tests need it and prints
# one JSON object of named checks {name: {"ok": bool, ...numbers}}. Exit 1 if any fails.
# Usage: check_run.py RUN.moetune [--ranks N] [--collectives AllReduce] [--no-routing]
import json, sqlite3, sys

run = sys.argv[1]
want_ranks = int(sys.argv[sys.argv.index("--ranks") + 1]) if "--ranks" in sys.argv else 1
routing = "--no-routing" not in sys.argv
db = sqlite3.connect(f"file:{run}?mode=ro", uri=True)
q = lambda sql, *a: db.execute(sql, a).fetchall()
c = {}


def check(name, ok, **kw):
    c[name] = dict(ok=bool(ok), **kw)


ranks = [r[0] for r in q("SELECT rank FROM ranks ORDER BY rank")]
check("ranks", len(ranks) == want_ranks, ranks=ranks)
gpu = q("SELECT rank, gpu_name, bus_id, pcie_gen, pcie_width FROM ranks")
check("gpu_facts", all(g[1] for g in gpu), rows=gpu)
for t in ("kernels", "memcpys", "memsets", "api_calls", "nvtx", "steps"):
    per = dict(q(f"SELECT rank, COUNT(*) FROM {t} GROUP BY rank"))
    check(t, all(per.get(r, 0) > 0 for r in ranks), per_rank=per)
check("nvtx_ranges", q("SELECT COUNT(*) FROM nvtx WHERE dur_ns > 0")[0][0] > 0,
      n=q("SELECT COUNT(*) FROM nvtx WHERE dur_ns > 0")[0][0])
if routing:
    n = q("SELECT COUNT(*) FROM expert_routing WHERE step >= 0")[0][0]
    check("routing", n > 0, rows=n)
topo = q("SELECT COUNT(*) FROM topology")[0][0]
meta_topo = q("SELECT COUNT(*) FROM meta WHERE key='nvidia_smi_topo'")[0][0]
check("topology", topo > 0 or meta_topo > 0, rows=topo, raw_text=meta_topo)
if want_ranks > 1:
    per = dict(q("SELECT rank, COUNT(*) FROM nccl_ops GROUP BY rank"))
    check("nccl_ops", all(per.get(r, 0) > 0 for r in ranks), per_rank=per)
    coll = q("SELECT rank, func, algo, proto, seq, start_ns, end_ns, comm_hash FROM nccl_ops "
             "WHERE func NOT IN ('Send','Recv')")
    check("algo_proto", len(coll) > 0 and all(r[2] and r[3] for r in coll), collectives=len(coll),
          algos=sorted({(r[1], r[2], r[3]) for r in coll}))
    inst = {}
    for r in coll:
        inst.setdefault((r[7], r[1], r[4]), []).append(r)
    full = [v for v in inst.values() if len(v) == want_ranks]
    check("seq_match", len(inst) > 0 and len(full) == len(inst), instances=len(inst), on_all_ranks=len(full))
    overl = [v for v in full if max(x[5] for x in v) < min(x[6] for x in v)]
    check("clock_overlap", len(full) > 0 and len(overl) >= 0.9 * len(full), instances=len(full), overlapping=len(overl))
    p2p = q("SELECT COUNT(*) FROM nccl_ops WHERE func IN ('Send','Recv')")[0][0]
    check("p2p_ops", p2p > 0, rows=p2p)
health = q("SELECT name, severity, value FROM stats")
check("dropped", all(not (s[1] == "data_loss" and s[2] > 0) for s in health), stats=health)
print(json.dumps(c))
sys.exit(0 if all(v["ok"] for v in c.values()) else 1)
