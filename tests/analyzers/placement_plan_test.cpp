// SPDX-License-Identifier: Apache-2.0
// Placement plan file, EPLB layout, evaluation and planners on small loads worked by hand.
#include <gtest/gtest.h>

#include "anab_helpers.h"
#include "moetune/analyzers/placement.h"

using namespace moetune::analyzers;

namespace {

// 4 ranks, 8 experts, 1 layer; every rank sends `hot` tokens to expert 0 and 10 to the others.
PlanInputs skewed(double hot) {
  PlanInputs in;
  in.experts = 8;
  in.ranks = 4;
  in.load.assign(1, std::vector<std::vector<double>>(4, std::vector<double>(8, 10.0)));
  for (auto& src : in.load[0]) src[0] = hot;
  in.current = default_placement(1, 8, 4);  // expert e on rank e % 4: experts 0 and 4 on rank 0
  in.node_of_rank = {0, 0, 0, 0};
  in.speed = {1, 1, 1, 1};
  in.memory_budget_pct = 25;  // 2 extra copies
  return in;
}

}  // namespace

TEST(PlacementPlan, JsonRoundTripAndEplbLayout) {
  PlacementPlan p;
  p.experts = 4;
  p.ranks = 2;
  p.layers[0] = {{0}, {1, 0}, {1}, {0}};
  p.layers[3] = {{1}, {0}, {0}, {1}};
  auto j = to_json(p);
  EXPECT_EQ(j["format"], "moetune-placement");
  EXPECT_EQ(j["layers"]["0"]["1"], nlohmann::json({1, 0}));
  auto back = placement_from_json(j, "mem");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->layers, p.layers);
  auto e = to_eplb(p);
  EXPECT_EQ(e.slots_per_rank, 3);  // rank 0 holds experts 0, 1 (replica) and 3 in layer 0
  ASSERT_EQ(e.phy2log.size(), 2u);
  EXPECT_EQ(e.logcnt[0], (std::vector<int>{1, 2, 1, 1}));
  // every physical slot listed in log2phy holds that expert, and lives on the rank the plan says
  for (std::size_t l = 0; l < 1; ++l)
    for (int x = 0; x < 4; ++x)
      for (int slot : e.log2phy[l][static_cast<std::size_t>(x)]) {
        if (slot < 0) continue;
        EXPECT_EQ(e.phy2log[l][static_cast<std::size_t>(slot)], x);
        int rank = slot / e.slots_per_rank;
        const auto& rs = p.layers.at(0)[static_cast<std::size_t>(x)];
        EXPECT_NE(std::find(rs.begin(), rs.end(), rank), rs.end());
      }
  auto file = anab::tmpdir() / "plan.json";
  ASSERT_TRUE(write_placement(file, p).ok());
  auto rd = read_placement(file);
  ASSERT_TRUE(rd.ok());
  EXPECT_EQ(rd->layers, p.layers);
}

TEST(PlacementPlan, ValidationNamesTheProblem) {
  auto bad = [](const std::string& text) {
    auto r = placement_from_json(nlohmann::json::parse(text), "p.json");
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(bad(R"({"experts":2,"ranks":2,"layers":{"0":{"0":[0]}}})").find("expert 1: no rank"), std::string::npos);
  EXPECT_NE(bad(R"({"experts":2,"ranks":2,"layers":{"0":{"0":[0],"1":[2]}}})").find("out of range"), std::string::npos);
  EXPECT_NE(bad(R"({"experts":2,"ranks":2,"layers":{"0":{"0":[0,0],"1":[1]}}})").find("twice"), std::string::npos);
  EXPECT_NE(bad(R"({"experts":2,"ranks":2,"layers":{"x":{}}})").find("layer key"), std::string::npos);
  EXPECT_NE(bad(R"({"format":"other","experts":2,"ranks":2,"layers":{}})").find("format"), std::string::npos);
  EXPECT_EQ(bad(R"({"experts":2,"ranks":2,"layers":{"0":{"0":[1],"1":[0]}}})"), "");
}

TEST(PlacementPlan, EvaluateByHand) {
  auto in = skewed(50);
  auto ev = evaluate_plan(in, in.current);
  // Rank 0 holds experts 0 and 4: local tokens = 50 + 10 from rank 0 itself; total 4 x (50 + 70).
  EXPECT_DOUBLE_EQ(ev.rank_tokens[0], 4 * 50.0 + 4 * 10.0);
  EXPECT_DOUBLE_EQ(ev.rank_tokens[1], 80.0);
  EXPECT_DOUBLE_EQ(ev.local_pct, 100.0 * 120.0 / 480.0);  // each rank reaches its own 2 experts
  EXPECT_DOUBLE_EQ(ev.cross_node_pct, 0.0);
  EXPECT_DOUBLE_EQ(ev.balancedness, (480.0 / 4) / 240.0);
  EXPECT_EQ(ev.extra_copies, 0);
}

TEST(PlacementPlan, PlannersBalanceAHotExpertWithinBudget) {
  auto in = skewed(50);
  EXPECT_EQ(replica_budget(in), 2);
  auto before = evaluate_plan(in, in.current);
  auto ours = plan_placement(in);
  ASSERT_TRUE(validate(ours).ok());
  auto eo = evaluate_plan(in, ours);
  EXPECT_LT(eo.max_rank_time, before.max_rank_time);
  EXPECT_LE(eo.extra_copies, 2);
  EXPECT_GT(ours.layers.at(0)[0].size(), 1u) << "the hot expert gets a replica";
  auto eplb = plan_eplb_greedy(in);
  ASSERT_TRUE(validate(eplb).ok());
  EXPECT_EQ(eplb.copies(0), 10);  // 8 experts + 2 replicas, all spent on the heaviest
  EXPECT_EQ(eplb.layers.at(0)[0].size(), 3u);
  auto ee = evaluate_plan(in, eplb);
  EXPECT_LE(eo.max_rank_time, ee.max_rank_time + 1e-9) << "ours is refined from the greedy packing too";
}

TEST(PlacementPlan, SlowRankLosesItsLoad) {
  auto in = skewed(10);  // balanced tokens
  in.speed = {1, 1, 1, 0.25};
  in.memory_budget_pct = 25;  // 2 spare slots: ranks may hold up to 3 copies
  auto before = evaluate_plan(in, in.current);
  auto plan = plan_placement(in);
  auto after = evaluate_plan(in, plan);
  EXPECT_LT(after.max_rank_time, before.max_rank_time);
  EXPECT_LT(after.rank_tokens[3], before.rank_tokens[3]) << "work moves off the slow rank";
  EXPECT_LE(after.extra_copies, 2);
}

TEST(PlacementPlan, CrossNodeTrafficCountsRemoteCopies) {
  auto in = skewed(10);
  in.node_of_rank = {0, 0, 1, 1};
  auto ev = evaluate_plan(in, in.current);
  // From each rank, the 4 experts on the other node (2 ranks x 2 experts) are remote: 40 of 80 tokens.
  EXPECT_DOUBLE_EQ(ev.cross_node_pct, 50.0);
  EXPECT_DOUBLE_EQ(ev.cross_node_tokens, 160.0);
}
