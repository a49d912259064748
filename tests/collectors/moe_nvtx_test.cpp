// SPDX-License-Identifier: Apache-2.0
// `moe` NVTX conventions: text parsing and the marker-stream decoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "common/expect_rows.h"
#include "common/scratch_dir.h"
#include "common/store.h"
#include "moetune/live/moe_nvtx.h"
#include "moetune/trace/reader.h"

using namespace moetune;
using namespace moetune::live;

namespace {

// Drives a MarkerDecoder for `rank` with `feed(decoder, writer)` into a new store and opens
// it; a failing step is a test failure and gives nullptr.
template <class Feed>
std::unique_ptr<TraceReader> decode(const std::string& name, RankId rank, Feed feed) {
  return test::make_store(test::process_dir("moetune-moe-nvtx") / name, [&](TraceWriter& w) {
    MarkerDecoder d(rank);
    feed(d, w);
    return true;
  });
}

}  // namespace

TEST(MoeNvtx, DecoderWritesStepsRoutingAndRanges) {
  auto rd = decode("decoder.moetune", RankId(3), [](MarkerDecoder& d, TraceWriter& w) {
    d.range_start(1, 77, 1000, "step 5 tokens=64", "moe", w);
    d.range_start(2, 77, 1100, "dispatch", "moe", w);
    d.instant(77, 1200, "moe.route layer=1 tokens=10,20", "moe", w);
    d.instant(77, 1250, "moe.route layer=1 tokens=oops", "moe", w);
    d.range_end(2, 1300, w);
    d.range_end(1, 2000, w);
    d.range_end(99, 2100, w);  // end without start
    d.instant(78, 2500, "moe.route layer=0 tokens=1", "", w);  // default domain, no step on tid 78
    EXPECT_EQ(d.steps(), 1u);
    EXPECT_EQ(d.malformed(), 1u);
    EXPECT_EQ(d.unmatched_ends(), 1u);
  });
  ASSERT_TRUE(rd);
  auto steps = test::rows(rd->steps());
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].rank.value, 3);
  EXPECT_EQ(steps[0].step, 5);
  EXPECT_EQ(steps[0].end_ns - steps[0].start_ns, 1000);
  EXPECT_EQ(steps[0].tokens.value(), 64);
  auto routing = test::rows(rd->expert_routing());
  ASSERT_EQ(routing.size(), 3u);
  std::sort(routing.begin(), routing.end(), [](const auto& a, const auto& b) { return a.time_ns < b.time_ns; });
  EXPECT_EQ(routing[0].step, 5);
  EXPECT_EQ(routing[1].tokens, 20);
  EXPECT_EQ(routing[2].step, -1);
  auto nvtx = test::rows(rd->nvtx());
  EXPECT_EQ(nvtx.size(), 5u);  // 2 ranges + 3 marks
}

// torch.cuda.nvtx cannot name a domain: torch_moe writes "moe:step N tokens=T" and
// "moe.route ..." in the default domain; both decode, and a placement mark lands once.
TEST(MoeNvtx, DecoderReadsTorchPrefixedTextsInDefaultDomain) {
  auto rd = decode("torch.moetune", RankId(1), [](MarkerDecoder& d, TraceWriter& w) {
    d.range_start(1, 5, 1000, "moe:step 2 tokens=1024", "", w);
    d.instant(5, 1500, "moe.route layer=0 tokens=3,4", "", w);
    d.instant(5, 1600, "moe:moe.placement layer=0 map=0:1|0,1:0", "", w);
    d.range_end(1, 3000, w);
    EXPECT_EQ(d.steps(), 1u);
    EXPECT_EQ(d.malformed(), 0u);
  });
  ASSERT_TRUE(rd);
  auto steps = test::rows(rd->steps());
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].step, 2);
  EXPECT_EQ(steps[0].tokens.value_or(-1), 1024);
  auto routing = test::rows(rd->expert_routing());
  ASSERT_EQ(routing.size(), 2u);
  EXPECT_EQ(routing[0].step, 2);
  auto placement = test::rows(rd->expert_placement());
  ASSERT_EQ(placement.size(), 3u);  // expert 0 on 1 (+ replica on 0), expert 1 on 0
}
