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
topo_rows = q("SELECT a, b, link, source FROM topology WHERE source LIKE 'nvml%' LIMIT 8")
meta_topo = q("SELECT COUNT(*) FROM meta WHERE key='nvidia_smi_topo'")[0][0]
gpus = dict(q("SELECT rank, value FROM stats WHERE name = 'nvml_gpus'"))
# One GPU on the host: nothing to link, NVML says so (stat nvml_gpus = 1 on every rank).
single = len(gpus) > 0 and all(v == 1 for v in gpus.values())
bad_peer = [r for r in topo_rows if "FFFFFFFF" in (r[1] or "").upper()]
check("topology", (topo > 0 or meta_topo > 0 or single) and not bad_peer, rows=topo, raw_text=meta_topo,
      nvml_gpus=gpus, nvml_rows=topo_rows)
stat = {}  # name -> {rank: value}
for name, rank, value in q("SELECT name, rank, value FROM stats"):
    stat.setdefault(name, {})[rank] = value
if want_ranks > 1:
    per = dict(q("SELECT rank, COUNT(*) FROM nccl_ops GROUP BY rank"))
    check("nccl_ops", all(per.get(r, 0) > 0 for r in ranks), per_rank=per)
    ops = q("SELECT rank, func, algo, proto, seq, start_ns, end_ns, comm_hash, enqueue_ns, peer FROM nccl_ops")
    coll = [r for r in ops if r[1] not in ("Send", "Recv")]
    check("algo_proto", len(coll) > 0 and all(r[2] and r[3] for r in coll), collectives=len(coll),
          algos=sorted({(r[1], r[2], r[3]) for r in coll}))
    inst = {}
    for r in coll:
        inst.setdefault((r[7], r[1], r[4]), []).append(r)
    full = [v for v in inst.values() if len(v) == want_ranks]
    check("seq_match", len(inst) > 0 and len(full) == len(inst), instances=len(inst), on_all_ranks=len(full))
    # Time source of each row: the plugin writes host enqueue..stop times (start_ns ==
    # enqueue_ns) when no KernelCh/ProxyOp gave it GPU-side times. Those are not on the
    # GPU timeline, so they cannot overlap across ranks; the fixtures recorded before ops
    # waited for their KernelCh channels had only such rows (1 of 35 "overlapping").
    host_timed = lambda r: r[8] is not None and r[5] == r[8]
    src = {k: stat.get(k, {}) for k in ("nccl_ops_gpu_times", "nccl_ops_proxy_times", "nccl_ops_host_times",
                                        "nccl_kernelch_stale", "nccl_ops_without_all_channels")}
    gpu_inst = [v for v in full if not any(host_timed(x) for x in v)]
    check("nccl_gpu_times", len(full) > 0 and len(gpu_inst) >= 0.9 * len(full), instances=len(full),
          gpu_timed=len(gpu_inst), stats=src)
    # Overlap is required only where every rank needs data from every other rank before
    # it can finish (AllReduce, AllGather, ReduceScatter, AllToAll): then rank A's last
    # channel ends after rank B's last channel started, whatever the scheduling, also
    # with ranks time-sliced on one GPU (a rank's kernel just spins longer while the
    # other context runs). A Broadcast/Reduce root may finish before a peer starts when
    # its data fits in the buffers, so those are not judged. Tolerance: the ranks'
    # clock-offset uncertainties (stats nccl_globaltimer_offset_error_ns) plus 2 us.
    err = stat.get("nccl_globaltimer_offset_error_ns", {})
    tol = sum(err.values()) + 2000 if err else 20000
    judged = [v for v in gpu_inst if v[0][1] in ("AllReduce", "AllGather", "ReduceScatter", "AllToAll")]
    overl = [v for v in judged if max(x[5] for x in v) < min(x[6] for x in v) + tol]
    worst = sorted(((max(x[5] for x in v) - min(x[6] for x in v)), v[0][1], v[0][4]) for v in judged)[-3:]
    check("clock_overlap", len(judged) > 0 and len(overl) >= 0.9 * len(judged), instances=len(judged),
          overlapping=len(overl), tolerance_ns=tol, worst_gap_ns=worst)
    # Each GPU-timed op must lie inside one NCCL kernel CUPTI saw on its rank (same
    # clock: CLOCK_REALTIME); a KernelCh stamp from another kernel, or a wrong offset,
    # shows here. Same tolerance as above plus 20 us.
    kern = {}
    for rank, s0, d in q("SELECT k.rank, k.start_ns, k.dur_ns FROM kernels k JOIN strings s ON s.id = k.name_id "
                         "WHERE s.value LIKE '%ncclDevKernel%' OR s.value LIKE '%ncclKernel%'"):
        kern.setdefault(rank, []).append((s0, s0 + d))
    for v in kern.values():
        v.sort()
    import bisect
    def inside(r):
        ks = kern.get(r[0], [])
        i = bisect.bisect_right(ks, (r[5] + tol + 20000, 1 << 62)) - 1
        return i >= 0 and ks[i][0] <= r[5] + tol + 20000 and ks[i][1] >= r[6] - tol - 20000
    gpu_rows = [r for r in ops if not host_timed(r)]
    inn = [r for r in gpu_rows if inside(r)]
    check("nccl_in_kernel", len(gpu_rows) > 0 and len(inn) >= 0.9 * len(gpu_rows), gpu_timed_rows=len(gpu_rows),
          inside_a_kernel=len(inn))
    p2p = q("SELECT COUNT(*) FROM nccl_ops WHERE func IN ('Send','Recv')")[0][0]
    check("p2p_ops", p2p > 0, rows=p2p)
    # Every op got all the KernelCh channels NCCL sends for it (send/recv to self: none).
    missing = sum(stat.get("nccl_ops_without_all_channels", {}).values())
    check("nccl_channels_complete", "nccl_ops_without_all_channels" in stat and missing == 0, missing=missing)
health = q("SELECT name, severity, value FROM stats")
check("dropped", all(not (s[1] == "data_loss" and s[2] > 0) for s in health), stats=health)
print(json.dumps(c))
sys.exit(0 if all(v["ok"] for v in c.values()) else 1)
