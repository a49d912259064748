// SPDX-License-Identifier: Apache-2.0
// analyze_bandwidth on hand-built runs: bus bandwidth from the nccl-tests formulas, an
// nccl-tests baseline as the yardstick when no link ceiling is known, and a one-rank view
// (other ranks missing) that must not be judged.
#include <gtest/gtest.h>

#include "bandwidth_helpers.h"
#include "moetune/analyzers/analyses.h"

using namespace moetune;
using namespace moetune::analyzers;
using anaa::run_analysis;

namespace {

// 8-rank AllToAll instances of 8 MiB per rank lasting `dur_ns` (same on every rank).
RunData alltoall_run(std::int64_t dur_ns, int ranks_present = 8) {
  RunData run;
  for (int seq = 0; seq < 4; ++seq)
    for (int r = 0; r < ranks_present; ++r) {
      const std::int64_t start = 1'000'000'000LL + seq * 10'000'000LL;
      auto o = bwtest::alltoall_op(r, seq, "BFloat16", 8 << 20, 8, start, start + dur_ns);
      o.count = o.bytes / 2;
      run.nccl_ops.push_back(o);
    }
  BenchResultRow b;
  b.source = "alltoall_perf.txt";
  b.func = "AllToAll";
  b.nranks = 8;
  b.bytes = 8 << 20;
  b.busbw_gbps = 300;
  run.bench.push_back(b);
  return run;
}

using bwtest::low_bw;

}  // namespace

TEST(BandwidthModel, BusBandwidthFormulaAndBaseline) {
  // 8 MiB in 147.8 us: algbw = 8388608 / 147800 ns = 56.76 GB/s; busbw = x 7/8 = 49.66 GB/s
  auto run = alltoall_run(147'800);
  auto r = run_analysis(analyze_bandwidth, run);
  ASSERT_EQ(r.metrics["collectives"].size(), 1u);
  const auto& c = r.metrics["collectives"][0];
  EXPECT_EQ(c["count"], 4);
  EXPECT_NEAR(c["busbw_gbps"].get<double>(), 8388608.0 / 147800.0 * 7 / 8, 1e-9);
  const auto* f = low_bw(r);
  ASSERT_NE(f, nullptr) << "49.7 GB/s against a measured 300 GB/s baseline";
  EXPECT_DOUBLE_EQ(f->evidence["nccl_tests_baseline_busbw_gbps"].get<double>(), 300.0);
  for (const auto& fx : f->recommendation.fixes)
    if (fx.type == "env") {
      EXPECT_EQ(fx.body["name"].get<std::string>().rfind("NCCL_ALGO", 0), std::string::npos);
    }
}

TEST(BandwidthModel, AtBaselineIsFine) {
  auto run = alltoall_run(26'000);  // ~282 GB/s bus bandwidth
  auto r = run_analysis(analyze_bandwidth, run);
  EXPECT_EQ(low_bw(r), nullptr);
}

TEST(BandwidthModel, OneRankViewIsNotJudged) {
  auto run = alltoall_run(147'800, 1);
  auto r = run_analysis(analyze_bandwidth, run);
  EXPECT_EQ(low_bw(r), nullptr);
  ASSERT_EQ(r.metrics["collectives"].size(), 1u);
  EXPECT_EQ(r.metrics["collectives"][0]["ranks_seen"], 1);
  EXPECT_TRUE(r.metrics["collectives"][0].contains("note"));
}
