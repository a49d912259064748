// SPDX-License-Identifier: Apache-2.0
// Placement files (docs/PLACEMENT.md) as the samples read them, and the copy-choice rule.
#include <gtest/gtest.h>

#include "placement.h"

namespace {

const char* kGood = R"({"format":"moetune-placement","version":1,"experts":4,"ranks":2,
  "layers":{"0":{"0":[0],"1":[1,0],"2":[0],"3":[1]},
            "1":{"0":[1],"1":[0],"2":[1],"3":[0,1]}}})";

TEST(Placement, DefaultIsExpertModRanks) {
  auto p = moe::default_placement(2, 8, 3);
  EXPECT_EQ(p.copies[1][5], std::vector<int>({2}));
  EXPECT_EQ(p.local_experts(0, 1), std::vector<int>({1, 4, 7}));
  EXPECT_EQ(p.max_local_experts(), 3);
  EXPECT_FALSE(p.replicated());
  EXPECT_EQ(p.nvtx_map(0), "0:0,1:1,2:2,3:0,4:1,5:2,6:0,7:1");
}

TEST(Placement, ParsesReplicasPrimaryFirst) {
  auto p = moe::parse_placement(kGood, "p.json", 2, 4, 2);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->copies[0][1], std::vector<int>({1, 0}));
  EXPECT_EQ(p->local_experts(0, 0), std::vector<int>({0, 1, 2}));
  EXPECT_EQ(p->local_experts(1, 1), std::vector<int>({0, 2, 3}));
  EXPECT_TRUE(p->replicated());
  EXPECT_EQ(p->nvtx_map(0), "0:0,1:1|0,2:0,3:1");
}

TEST(Placement, LayersAbsentKeepDefault) {
  auto p = moe::parse_placement(kGood, "p.json", 3, 4, 2);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->copies[2][3], std::vector<int>({1}));
}

void expect_error(const std::string& text, const std::string& needle, int experts = 4, int ranks = 2) {
  auto p = moe::parse_placement(text, "bad.json", 2, experts, ranks);
  ASSERT_FALSE(p) << text;
  EXPECT_NE(p.error().message.find("bad.json: "), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find(needle), std::string::npos) << p.error().message;
  EXPECT_EQ(p.error().message.find('\n'), std::string::npos) << "one line";
}

TEST(Placement, BadFilesGiveOneLine) {
  expect_error("{not json", "not JSON");
  expect_error(R"({"format":"moetune-placement","version":1,"experts":4,"ranks":2,
    "layers":{"0":{"0":[0],"1":[1],"3":[1]}}})", "misses expert 2");
  expect_error(R"({"format":"moetune-placement","version":1,"experts":4,"ranks":2,
    "layers":{"0":{"0":[0],"1":[5],"2":[0],"3":[1]}}})", "names rank 5, which does not exist");
  expect_error(R"({"format":"moetune-placement","version":1,"experts":4,"ranks":2,
    "layers":{"0":{"0":[0],"1":[1,1],"2":[0],"3":[1]}}})", "twice");
  expect_error(R"({"format":"moetune-placement","version":1,"experts":4,"ranks":2,
    "layers":{"0":{"0":[],"1":[1],"2":[0],"3":[1]}}})", "non-empty");
  expect_error(kGood, "\"experts\" must be 8", 8, 2);
  expect_error(kGood, "\"ranks\" must be 4", 4, 4);
  expect_error(R"({"format":"other","version":1})", "format");
  EXPECT_FALSE(moe::load_placement("/nonexistent/p.json", 1, 4, 2));
}

TEST(Placement, ChooserPrefersOwnRankThenNodeThenRoundRobin) {
  moe::Placement p = moe::default_placement(1, 3, 4);
  p.copies[0][0] = {2, 0};     // own copy on rank 0
  p.copies[0][1] = {3, 2};     // rank 1 is on node {0,1}: no copy there -> round-robin 3,2
  p.copies[0][2] = {3, 1, 2};  // rank 1 holds one
  moe::CopyChooser c0(p, 0, /*src*/ 0, /*ranks_per_node*/ 2);
  EXPECT_EQ(c0.pick(0), 0);
  moe::CopyChooser c1(p, 0, 1, 2);
  EXPECT_EQ(c1.pick(2), 1);
  std::vector<int> seq;
  for (int i = 0; i < 4; ++i) seq.push_back(c1.pick(1));
  EXPECT_EQ(seq, std::vector<int>({2, 3, 2, 3}));  // starts at offset src_rank=1
  moe::CopyChooser c3(p, 0, 3, 2);                   // rank 3, node {2,3}: both copies on node
  EXPECT_EQ(c3.pick(1), 3);
  moe::CopyChooser c2(p, 0, 2, 2);
  EXPECT_EQ(c2.pick(0), 2);
}

}  // namespace
