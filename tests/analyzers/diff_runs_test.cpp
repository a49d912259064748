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

// Predicted vs measured: the applied findings' estimated gains, combined as 1 - prod(1 - g),
// next to the measured step-time gain; unknown ids are listed, unsized findings say so.
TEST(DiffRuns, PredictedNextToMeasured) {
  RunData a, b;
  for (int r = 0; r < 2; ++r)
    for (int s = 0; s < 6; ++s) {
      a.steps.push_back({moetune::RankId(r), s, s * 100'000'000, s * 100'000'000 + 100'000'000, std::nullopt});
      b.steps.push_back({moetune::RankId(r), s, s * 100'000'000, s * 100'000'000 + 60'000'000, std::nullopt});
    }
  AnalysisResult ra;
  Finding f1;
  f1.id = "comm_precision-1";
  f1.kind = FindingKind::CommPrecision;
  f1.estimated_gain_pct = 20;
  f1.gain_basis = "bytes halved";
  f1.recommendation.fixes.push_back({"flag", {{"name", "--comm-dtype"}, {"value", "bf16"}}});
  Finding f2 = f1;
  f2.id = "hot_experts-1";
  f2.kind = FindingKind::HotExperts;
  f2.estimated_gain_pct = 25;
  f2.recommendation.fixes = {{"placement", {{"file", "placement.json"}}}};
  Finding f3 = f1;
  f3.id = "cold_expert_traffic-1";
  f3.kind = FindingKind::ColdExpertTraffic;
  f3.estimated_gain_pct = 0;
  Finding f4 = f1;  // code-only advice: described by the profile, not applied
  f4.id = "straggler-1";
  f4.kind = FindingKind::Straggler;
  f4.estimated_gain_pct = 10;
  f4.recommendation.fixes = {{"code", {{"description", "rebalance"}}}};
  ra.findings = {f1, f2, f3, f4};
  Profile applied;
  applied.flags = {"--comm-dtype", "bf16"};
  applied.placement_file = "placement.json";
  applied.findings = {"comm_precision-1", "hot_experts-1", "cold_expert_traffic-1", "gone-9", "straggler-1"};
  auto d = diff_runs(summarize(a, ra), summarize(b, {}), &applied);
  const auto& pm = d["predicted_vs_measured"];
  EXPECT_NEAR(pm["predicted_gain_pct"].get<double>(), 100.0 * (1 - 0.8 * 0.75), 1e-9);
  EXPECT_NEAR(pm["measured_gain_pct"].get<double>(), 40.0, 1e-9);
  EXPECT_NEAR(pm["error_points"].get<double>(), 0.0, 1e-9);
  ASSERT_EQ(pm["fixes"].size(), 5u);
  EXPECT_TRUE(pm["fixes"][2]["predicted_gain_pct"].is_null());  // applied (its flag is in the profile) but not sized
  EXPECT_EQ(pm["fixes"][3]["status"], "not in the before run's analysis");
  EXPECT_TRUE(pm["fixes"][4]["predicted_gain_pct"].is_null());  // code-only: left out of the prediction
  EXPECT_NE(pm["fixes"][4]["status"].get<std::string>().find("not applied"), std::string::npos);
  // Without a profile there is no prediction section.
  EXPECT_FALSE(diff_runs(summarize(a, ra), summarize(b, {})).contains("predicted_vs_measured"));
}
