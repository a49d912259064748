// SPDX-License-Identifier: Apache-2.0
// The `moe` NVTX text conventions (docs/CONVENTIONS-NVTX.md): the one parser the live
// collector and the Kineto/nsys importers share. Anything malformed is rejected whole.
#include <gtest/gtest.h>

#include "moetune/trace/moe_text.h"

using namespace moetune;

TEST(MoeText, StepsRoutesPlacements) {
  EXPECT_EQ(parse_moe_step("step 7")->step, 7);
  EXPECT_EQ(parse_moe_step("step 7 tokens=4096")->tokens, 4096);
  EXPECT_FALSE(parse_moe_step("step x"));
  EXPECT_FALSE(parse_moe_step("step 7 tokens=-1"));
  EXPECT_FALSE(parse_moe_step("stepping 7"));
  EXPECT_EQ(parse_profiler_step("ProfilerStep#12")->step, 12);
  EXPECT_FALSE(parse_profiler_step("ProfilerStep#"));
  auto r = parse_moe_route("moe.route layer=3 tokens=10,0,5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->layer, 3);
  EXPECT_EQ(r->tokens, (std::vector<std::int64_t>{10, 0, 5}));
  EXPECT_FALSE(parse_moe_route("moe.route layer=3 tokens=10,,5"));
  EXPECT_FALSE(parse_moe_route("moe.route tokens=1"));
  auto p = parse_moe_placement("moe.placement layer=1 map=0:0,1:1|3,2:2");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->map.at(1), (std::vector<int>{1, 3}));
  EXPECT_FALSE(parse_moe_placement("moe.placement layer=1 map=0:0,0:1"));  // expert twice
  EXPECT_FALSE(parse_moe_placement("moe.placement layer=1 map=0"));
  EXPECT_FALSE(parse_moe_placement("moe.placement layer=0 map=0:"));
  auto q = parse_moe_placement("moe.placement layer=0 map=0:1|3,1:0");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->layer, 0);
  EXPECT_EQ(q->map.at(0), (std::vector<int>{1, 3}));  // primary on 1, replica on 3
  EXPECT_EQ(q->map.at(1), (std::vector<int>{0}));
}

