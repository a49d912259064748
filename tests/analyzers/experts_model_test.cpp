// SPDX-License-Identifier: Apache-2.0
// analyze_experts on small hand-built runs: cross-node traffic to hot experts on the other
// node (cold_expert_traffic), and a placement that piles experts onto one rank
// (expert_imbalance). Loads and placements are chosen so the expected numbers follow by hand.
#include <gtest/gtest.h>

#include "moetune/analyzers/analyses.h"

using namespace moetune;
using namespace moetune::analyzers;

namespace {

RunData four_ranks_two_nodes() {
  RunData run;
  const char* hosts[] = {"a", "a", "b", "b"};
  for (int r = 0; r < 4; ++r) {
    RankRow row;
    row.rank = RankId(r);
    row.host = hosts[r];
    row.device = r % 2;
    run.ranks.push_back(row);
  }
  return run;
}

void route(RunData& run, int step, int rank, int expert, std::int64_t tokens) {
  ExpertRoutingRow r;
  r.step = step;
  r.layer = 0;
  r.rank = RankId(rank);
  r.expert = expert;
  r.tokens = tokens;
  run.routing.push_back(r);
}

const Finding* find(const AnalysisResult& r, FindingKind k) {
  for (const auto& f : r.findings)
    if (f.kind == k) return &f;
  return nullptr;
}

}  // namespace

TEST(ExpertsModel, CrossNodeTrafficToTheOtherNodesExperts) {
  // Default placement e % 4: rank0 {0,4}, rank1 {1,5}, rank2 {2,6}, rank3 {3,7}. Node a (ranks 0,1)
  // sends 100 tokens each to experts 2 and 3 (node b); node b sends 100 each to experts 0 and 1;
  // experts 4..7 get 1 token from every rank (cold). Every rank processes 204 tokens: balanced.
  auto run = four_ranks_two_nodes();
  for (int step = 0; step < 3; ++step)
    for (int s = 0; s < 4; ++s) {
      for (int e = 0; e < 4; ++e) route(run, step, s, e, (s < 2) == (e >= 2) ? 100 : 0);
      for (int e = 4; e < 8; ++e) route(run, step, s, e, 1);
    }
  AnalysisResult r;
  analyze_experts(run, {}, r);
  const auto& ex = r.metrics["experts"];
  EXPECT_DOUBLE_EQ(ex["balancedness"].get<double>(), 1.0);
  // cross node: the 800 hot tokens plus 2 of each rank's 4 cold tokens (experts on the other node)
  EXPECT_NEAR(ex["traffic"]["cross_node_pct"].get<double>(), 100.0 * 808 / 816, 1e-9);
  EXPECT_DOUBLE_EQ(ex["traffic"]["matrix_tokens_per_step"][0][2].get<double>(), 101.0);  // 100 to expert 2, 1 to expert 6
  EXPECT_EQ(find(r, FindingKind::HotExperts), nullptr);
  EXPECT_EQ(find(r, FindingKind::ExpertImbalance), nullptr);
  const auto* f = find(r, FindingKind::ColdExpertTraffic);
  ASSERT_NE(f, nullptr);
  EXPECT_LT(f->evidence["plan"]["cross_node_tokens_per_step"].get<double>(),
            0.8 * f->evidence["current"]["cross_node_tokens_per_step"].get<double>());
  EXPECT_EQ(f->recommendation.fixes.at(0).type, "placement");
}

TEST(ExpertsModel, PiledUpPlacementIsExpertImbalance) {
  // Every expert gets the same 10 tokens from every rank, but experts 0..5 all live on rank 0.
  auto run = four_ranks_two_nodes();
  for (auto& r : run.ranks) r.host = "a";
  for (int step = 0; step < 2; ++step)
    for (int s = 0; s < 4; ++s)
      for (int e = 0; e < 8; ++e) route(run, step, s, e, 10);
  for (int e = 0; e < 8; ++e) run.placement.push_back({0, e, RankId(e < 6 ? 0 : e - 5), 0});
  AnalysisResult r;
  analyze_experts(run, {}, r);
  // rank 0 processes 6 x 40 = 240 of 320 tokens: balancedness = 80 / 240
  EXPECT_NEAR(r.metrics["experts"]["balancedness"].get<double>(), 1.0 / 3.0, 1e-9);
  EXPECT_EQ(r.metrics["experts"]["placement_basis"], "recorded (expert_placement)");
  EXPECT_EQ(find(r, FindingKind::HotExperts), nullptr) << "equal loads: no expert is hot";
  const auto* f = find(r, FindingKind::ExpertImbalance);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->ranks, std::vector<int>{0});
  EXPECT_LT(f->evidence["plan"]["max_rank_time_tokens"].get<double>(), 240.0);
}

TEST(ExpertsModel, EmaWeighsHistory) {
  auto run = four_ranks_two_nodes();
  for (int s = 0; s < 4; ++s)
    for (int e = 0; e < 4; ++e) {
      route(run, 0, s, e, 100);
      route(run, 1, s, e, e == 0 ? 200 : 100);
    }
  AnalyzeOptions o;
  o.ema_alpha = 0.5;
  AnalysisResult r;
  analyze_experts(run, o, r);
  // expert 0 from rank 0: 0.5 x 100 + 0.5 x 200 = 150
  EXPECT_DOUBLE_EQ(r.metrics["experts"]["load_ema"][0][0][0].get<double>(), 150.0);
  EXPECT_DOUBLE_EQ(r.metrics["experts"]["load_ema"][0][0][1].get<double>(), 100.0);
}
