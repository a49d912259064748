// SPDX-License-Identifier: Apache-2.0
// "moe.route layer=L step=S tokens=..." (the PyTorch helper's deferred routes): the step
// named in the text, and the malformed variants rejected.
#include <gtest/gtest.h>

#include "moetune/trace/moe_text.h"

using namespace moetune;

TEST(MoeRouteStep, ExplicitStepIsParsed) {
  auto r = parse_moe_route("moe.route layer=2 step=17 tokens=4,0,9");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->layer, 2);
  ASSERT_TRUE(r->step);
  EXPECT_EQ(*r->step, 17);
  EXPECT_EQ(r->tokens, (std::vector<std::int64_t>{4, 0, 9}));
  auto plain = parse_moe_route("moe.route layer=2 tokens=4");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->step);
}

TEST(MoeRouteStep, MalformedStepIsRejected) {
  EXPECT_FALSE(parse_moe_route("moe.route layer=2 step= tokens=1"));
  EXPECT_FALSE(parse_moe_route("moe.route layer=2 step=x tokens=1"));
  EXPECT_FALSE(parse_moe_route("moe.route layer=2 stop=3 tokens=1"));
  EXPECT_FALSE(parse_moe_route("moe.route layer=2 step=3 tokens=1 extra=2"));
  EXPECT_FALSE(parse_moe_route("moe.route layer=2 tokens=1 step=3"));
}
