// SPDX-License-Identifier: Apache-2.0
// `moe` NVTX conventions: text parsing and the marker-stream decoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "moetune/live/moe_nvtx.h"
#include "moetune/trace/reader.h"

using namespace moetune;
using namespace moetune::live;

TEST(MoeNvtx, ParsesStepRouteAndPlacement) {
  auto s = parse_step("step 12 tokens=4096");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->step, 12);
  EXPECT_EQ(s->tokens.value(), 4096);
  EXPECT_FALSE(parse_step("step x"));
  EXPECT_FALSE(parse_step("step 3 tokens=-1"));
  EXPECT_FALSE(parse_step("stepping 3"));
  auto r = parse_route("moe.route layer=2 tokens=5,0,17");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->layer, 2);
  EXPECT_EQ(r->tokens, (std::vector<std::int64_t>{5, 0, 17}));
  EXPECT_FALSE(parse_route("moe.route layer=2 tokens=5,,17"));
  EXPECT_FALSE(parse_route("moe.route tokens=5"));
  auto p = parse_placement("moe.placement layer=0 map=0:1|3,1:0");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->copies.size(), 3u);
  EXPECT_EQ(p->copies[1].rank, 3);
  EXPECT_EQ(p->copies[1].replica, 1);
  EXPECT_FALSE(parse_placement("moe.placement layer=0 map=0:"));
}

TEST(MoeNvtx, DecoderWritesStepsRoutingAndRanges) {
  auto path = std::filesystem::temp_directory_path() / "moetune_moe_nvtx_test.moetune";
  {
    auto w = TraceWriter::create(path, {.force = true});
    ASSERT_TRUE(w) << w.error().message;
    MarkerDecoder d(RankId(3));
    d.range_start(1, 77, 1000, "step 5 tokens=64", "moe", **w);
    d.range_start(2, 77, 1100, "dispatch", "moe", **w);
    d.instant(77, 1200, "moe.route layer=1 tokens=10,20", "moe", **w);
    d.instant(77, 1250, "moe.route layer=1 tokens=oops", "moe", **w);
    d.range_end(2, 1300, **w);
    d.range_end(1, 2000, **w);
    d.range_end(99, 2100, **w);  // end without start
    d.instant(78, 2500, "moe.route layer=0 tokens=1", "", **w);  // default domain, no step on tid 78
    EXPECT_EQ(d.steps(), 1u);
    EXPECT_EQ(d.malformed(), 1u);
    EXPECT_EQ(d.unmatched_ends(), 1u);
    ASSERT_TRUE((*w)->finish());
  }
  auto rd = TraceReader::open(path);
  ASSERT_TRUE(rd);
  auto steps = (*rd)->steps();
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].rank.value, 3);
  EXPECT_EQ(steps[0].step, 5);
  EXPECT_EQ(steps[0].end_ns - steps[0].start_ns, 1000);
  EXPECT_EQ(steps[0].tokens.value(), 64);
  auto routing = (*rd)->expert_routing();
  ASSERT_EQ(routing.size(), 3u);
  std::sort(routing.begin(), routing.end(), [](const auto& a, const auto& b) { return a.time_ns < b.time_ns; });
  EXPECT_EQ(routing[0].step, 5);
  EXPECT_EQ(routing[1].tokens, 20);
  EXPECT_EQ(routing[2].step, -1);
  auto nvtx = (*rd)->nvtx();
  EXPECT_EQ(nvtx.size(), 5u);  // 2 ranges + 3 marks
  std::filesystem::remove(path);
}
