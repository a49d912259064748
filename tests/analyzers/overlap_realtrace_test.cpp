// SPDX-License-Identifier: Apache-2.0
// Real traces (Kineto JSON from HTA's test data, an nsys SQLite export): import them,
// recompute compute / comm / overlap per rank and step here with a plain event sweep
// (no code shared with the analyzer), and require the analyzer to agree within 1 %.
#include <gtest/gtest.h>

#include <algorithm>

#include "anaa_helpers.h"
#include "import_helpers.h"
#include "moetune/import/import.h"

using namespace anaa;

namespace {

struct Independent {
  double comm_ns = 0, overlap_ns = 0, compute_ns = 0;
};

// Sweep over +1/-1 edges of the compute and comm intervals clipped to [w0, w1).
Independent sweep(const RunData& run, std::int64_t rank, std::int64_t w0, std::int64_t w1) {
  struct Edge {
    std::int64_t t;
    int comp, comm;
  };
  std::vector<Edge> ev;
  auto add = [&](std::int64_t s, std::int64_t e, bool comm) {
    s = std::max(s, w0), e = std::min(e, w1);
    if (e <= s) return;
    ev.push_back({s, comm ? 0 : 1, comm ? 1 : 0});
    ev.push_back({e, comm ? 0 : -1, comm ? -1 : 0});
  };
  for (const auto& k : run.kernels) {
    if (k.rank.value != rank) continue;
    std::string n = run.str(k.name);
    if (n.rfind("void ", 0) == 0) n = n.substr(5);
    add(k.start_ns, k.start_ns + k.dur_ns, n.rfind("nccl", 0) == 0);
  }
  for (const auto& o : run.nccl_ops)
    if (o.rank.value == rank) add(o.start_ns, o.end_ns, true);
  for (const auto& m : run.memcpys)
    if (m.rank.value == rank &&
        (m.kind == CopyKind::PtoP || (m.kind == CopyKind::DtoD && m.src_device >= 0 && m.dst_device >= 0 &&
                                      m.src_device != m.dst_device)))
      add(m.start_ns, m.start_ns + m.dur_ns, true);
  std::sort(ev.begin(), ev.end(), [](const Edge& a, const Edge& b) { return a.t < b.t; });
  Independent r;
  int comp = 0, comm = 0;
  for (std::size_t i = 0; i < ev.size(); ++i) {
    comp += ev[i].comp;
    comm += ev[i].comm;
    if (i + 1 == ev.size()) break;
    double len = static_cast<double>(ev[i + 1].t - ev[i].t);
    if (comm > 0) r.comm_ns += len;
    if (comp > 0) r.compute_ns += len;
    if (comm > 0 && comp > 0) r.overlap_ns += len;
  }
  return r;
}


void check_agrees(const RunData& run) {
  ASSERT_FALSE(run.kernels.empty());
  auto r = run_analysis(analyze_comm_overlap, run);
  ASSERT_TRUE(r.metrics.contains("per_step"));
  std::map<std::int64_t, Independent> ana, ind;
  for (const auto& row : r.metrics.at("per_step")) {
    std::int64_t rank = row.at("rank");
    auto& a = ana[rank];
    double comm = row.at("comm_ms").get<double>() * 1e6;
    a.comm_ns += comm;
    a.overlap_ns += comm * row.at("overlap_pct").get<double>() / 100;
    a.compute_ns += row.at("compute_ms").get<double>() * 1e6;
    auto s = sweep(run, rank, row.at("start_ns"), row.at("end_ns"));
    auto& i = ind[rank];
    i.comm_ns += s.comm_ns, i.overlap_ns += s.overlap_ns, i.compute_ns += s.compute_ns;
  }
  ASSERT_FALSE(ana.empty());
  double comm_total = 0;
  for (const auto& [rank, i] : ind) {
    const auto& a = ana[rank];
    comm_total += i.comm_ns;
    EXPECT_NEAR(a.comm_ns, i.comm_ns, 0.01 * i.comm_ns + 1) << "rank " << rank;
    EXPECT_NEAR(a.overlap_ns, i.overlap_ns, 0.01 * i.overlap_ns + 1) << "rank " << rank;
    EXPECT_NEAR(a.compute_ns, i.compute_ns, 0.01 * i.compute_ns + 1) << "rank " << rank;
    std::printf("rank %lld: comm %.3f ms overlap %.3f ms compute %.3f ms (analyzer %.3f / %.3f / %.3f)\n",
                static_cast<long long>(rank), i.comm_ns / 1e6, i.overlap_ns / 1e6, i.compute_ns / 1e6, a.comm_ns / 1e6,
                a.overlap_ns / 1e6, a.compute_ns / 1e6);
  }
  EXPECT_GT(comm_total, 0.0) << "these traces all contain NCCL kernels";
}

}  // namespace

TEST(OverlapRealTrace, KinetoAllReduceBroadcastRank0of2) {
  check_agrees(import_real({"kineto/hta_nccl_data_rank0of2.json.gz"}, "k_nccl"));
}

TEST(OverlapRealTrace, KinetoSendRecvAllReduceRank3of8) {
  check_agrees(import_real({"kineto/hta_trace_diff_control_rank3of8.json.gz"}, "k_ctrl"));
}

TEST(OverlapRealTrace, KinetoTwoRanksOf128) {
  auto run = import_real({"kineto/hta_sampled_rank0of128.json.gz", "kineto/hta_sampled_rank1of128.json.gz"}, "k_samp");
  check_agrees(run);
}

TEST(OverlapRealTrace, NsysTwoGpuTorchrun) {
  check_agrees(import_real({"nsys/nsys_ai_mfu_2gpu_before.sqlite"}, "n_mfu"));
}

TEST(OverlapRealTrace, AnalyzeWholeRunDoesNotInventFindings) {
  // One rank of a 2-rank job: nothing to align across ranks, so no sync / straggler claims.
  auto r = analyze(import_real({"kineto/hta_nccl_data_rank0of2.json.gz"}, "k_nccl_all"));
  EXPECT_TRUE(of_kind(r, FindingKind::GlobalSync).empty());
  EXPECT_TRUE(of_kind(r, FindingKind::Straggler).empty());
  EXPECT_TRUE(has_note(r, "not enough data: global_sync"));
  EXPECT_TRUE(has_note(r, "not enough data: straggler"));
}
