// SPDX-License-Identifier: Apache-2.0
// moetune diff on two synth runs whose difference is known: fp32 vs bf16 dispatch doubles
// the all-to-all bytes; the comm_precision finding of the first run is gone in the second.
#include <gtest/gtest.h>

#include "anab_helpers.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/diff.h"

using namespace moetune::analyzers;

TEST(DiffRuns, Fp32ToBf16HalvesAllToAllTraffic) {
  auto before = anab::synth("--ranks 8 --inject fp32_dispatch");
  auto after = anab::synth("--ranks 8");
  ASSERT_FALSE(before.empty());
  ASSERT_FALSE(after.empty());
  auto r = anab::run(std::string(MOETUNE_CLI) + " diff " + before.string() + " " + after.string() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  const auto& a2a = j["traffic_bytes_per_step"]["AllToAll"];
  EXPECT_DOUBLE_EQ(a2a["ratio_before_over_after"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["traffic_bytes_per_step"]["AllReduce"]["change_pct"].get<double>(), 0.0);
  // bytes per rank per step = sum of AllToAll bytes / step rows, computed here from the run
  auto run = RunData::load(after);
  ASSERT_TRUE(run.ok());
  double bytes = 0;
  for (const auto& o : run->nccl_ops)
    if (o.func == "AllToAll") bytes += static_cast<double>(o.bytes);
  EXPECT_DOUBLE_EQ(a2a["after"].get<double>(), bytes / static_cast<double>(run->steps.size()));
  bool gone = false;
  for (const auto& f : j["findings"])
    if (f["kind"] == "comm_precision") gone = f["status"] == "gone";
  EXPECT_TRUE(gone) << j["findings"].dump();
  EXPECT_TRUE(j["tokens_per_s"]["before"].is_number());
}

TEST(DiffRuns, TokensPerSecondFromSteps) {
  RunData a, b;
  for (int r = 0; r < 2; ++r) {
    a.steps.push_back({moetune::RankId(r), 0, 0, 1'000'000'000, 1000});   // 1 s, 1000 tokens
    b.steps.push_back({moetune::RankId(r), 0, 0, 500'000'000, 1000});     // 0.5 s
  }
  auto d = diff_runs(summarize(a, {}), summarize(b, {}));
  EXPECT_DOUBLE_EQ(d["tokens_per_s"]["before"].get<double>(), 2000.0);
  EXPECT_DOUBLE_EQ(d["tokens_per_s"]["after"].get<double>(), 4000.0);
  EXPECT_DOUBLE_EQ(d["speedup"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(d["step_time_ms"]["after"].get<double>(), 500.0);
}

TEST(DiffRuns, BadInputExitsTwo) {
  auto r = anab::run(std::string(MOETUNE_CLI) + " diff /nonexistent/a.moetune /nonexistent/b.moetune");
  EXPECT_EQ(r.rc, 2) << r.out;
}
