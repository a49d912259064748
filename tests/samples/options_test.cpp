// SPDX-License-Identifier: Apache-2.0
// moe_nccl's option parsing and size checks: bad input is one line, never a crash.
#include <gtest/gtest.h>

#include "options.h"

namespace {

moetune::Expected<moe::Options> parse(std::vector<std::string> a,
                                      std::vector<std::pair<std::string, std::string>> env = {}) {
  return moe::parse_options(a, env);
}

TEST(Options, ParsesKnobsAndEnv) {
  auto o = parse({"--experts", "16", "--top-k=4", "--comm-dtype", "bf16", "--overlap-chunks", "4", "--skew", "1.1",
                  "--slow-rank", "2:1.5", "--grad-allreduce", "--init-file", "/tmp/x"},
                 {{"RANK", "3"}, {"WORLD_SIZE", "4"}});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->experts, 16);
  EXPECT_EQ(o->top_k, 4);
  EXPECT_EQ(o->comm_dtype, moe::CommDtype::bf16);
  EXPECT_EQ(o->overlap_chunks, 4);
  EXPECT_DOUBLE_EQ(o->skew, 1.1);
  EXPECT_EQ(o->slow_rank, 2);
  EXPECT_DOUBLE_EQ(o->slow_factor, 1.5);
  EXPECT_TRUE(o->grad_allreduce);
  EXPECT_EQ(o->rank, 3);
  EXPECT_EQ(o->nranks, 4);
}

void bad(std::vector<std::string> a, const std::string& needle,
         std::vector<std::pair<std::string, std::string>> env = {}) {
  auto o = parse(a, env);
  ASSERT_FALSE(o) << needle;
  EXPECT_NE(o.error().message.find(needle), std::string::npos) << o.error().message;
  EXPECT_EQ(o.error().message.rfind("moe_nccl: ", 0), 0u);
}

TEST(Options, RejectsImpossibleSizes) {
  bad({"--top-k", "9"}, "--top-k");
  bad({"--experts", "4", "--top-k", "5"}, "exceeds --experts");
  bad({"--tokens", "0"}, ">= 1");
  bad({"--hidden", "abc"}, "not a number");
  bad({"--comm-dtype", "fp8"}, "fp32, bf16 or fp16");
  bad({"--slow-rank", "3"}, "R:F");
  bad({"--rank", "4", "--nranks", "4", "--init-file", "f"}, "outside 0..3");
  bad({"--nranks", "2"}, "--init-file");
  bad({"--nranks", "16", "--experts", "8", "--init-file", "f"}, "only 8 experts");
  bad({"--slow-rank", "5:2"}, "there are 1 ranks");
  bad({"--tokens", "1000000000", "--top-k", "2"}, "too large");
  bad({"--overlap-chunks", "9", "--tokens", "8"}, "--overlap-chunks");
  bad({"--bogus"}, "unknown option");
  bad({"--experts"}, "needs a value");
  bad({}, "WORLD_SIZE", {{"WORLD_SIZE", "x"}});
}

TEST(Options, MemoryEstimateGrowsWithRanksAndDtype) {
  moe::Options o;
  const auto base = moe::device_bytes_needed(o, 4);
  o.nranks = 4;
  EXPECT_GT(moe::device_bytes_needed(o, 4), base);
  moe::Options h;
  h.comm_dtype = moe::CommDtype::bf16;
  EXPECT_LT(moe::device_bytes_needed(h, 4), base);
  // 8 experts x 2 x 1024 x 4096 floats dominate: at least the weights themselves.
  EXPECT_GE(base, int64_t(2) * 4 * 2 * 1024 * 4096 * 4);
}

}  // namespace
