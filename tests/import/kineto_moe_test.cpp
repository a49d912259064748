// SPDX-License-Identifier: Apache-2.0
// Golden test: the `moe` conventions in real torch.profiler traces recorded on the H200
// by samples/torch_moe (--torch-profiler, 2 emulated nodes): "moe:step N tokens=T"
// ranges become steps with tokens, "moe.route" marks expert_routing rows, and the
// job-wide "moe.placement" is stored once although both rank files carry it.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/expect_rows.h"
#include "common/import_store.h"
#include "moetune/import/import.h"
#include "moetune/trace/reader.h"

namespace fs = std::filesystem;
using namespace moetune;

TEST(KinetoMoe, TorchMoeTracesYieldStepsRoutingAndPlacement) {
  const fs::path dir = fs::path(MOETUNE_TEST_DATA) / "recorded";
  const fs::path out = fs::temp_directory_path() / ("kineto_moe_" + std::to_string(::getpid()) + ".moetune");
  auto rd = test::import_store(
      {dir / "torch_moe_2rank_rank0.pt.trace.json.gz", dir / "torch_moe_2rank_rank1.pt.trace.json.gz"}, out);
  ASSERT_TRUE(rd);
  // Each rank recorded steps 1..3 of 1024 tokens (the profiler's active window).
  auto steps = test::rows(rd->steps());
  ASSERT_EQ(steps.size(), 6u);
  for (const auto& s : steps) {
    EXPECT_GE(s.step, 1);
    EXPECT_LE(s.step, 3);
    EXPECT_EQ(s.tokens.value_or(-1), 1024);
  }
  // Routing: 2 layers x 8 experts x 3 steps x 2 ranks; every rank routes top-2 of its
  // 1024 tokens, so per (rank, step, layer) the tokens add up to 2048.
  auto routing = test::rows(rd->expert_routing());
  ASSERT_EQ(routing.size(), 2u * 8u * 3u * 2u);
  std::map<std::tuple<std::int64_t, std::int64_t, int>, std::int64_t> sum;
  for (const auto& r : routing) sum[{r.rank.value, r.step, r.layer}] += r.tokens;
  ASSERT_EQ(sum.size(), 12u);
  for (const auto& [k, v] : sum) EXPECT_EQ(v, 2048);
  // Placement of layer 0 as the trace's text says: 0:0,1:1,2:0,3:1|0,4:0,5:1,6:0,7:1|0.
  auto placement = test::rows(rd->expert_placement());
  ASSERT_EQ(placement.size(), 20u);  // 2 layers x (8 primaries + 2 replicas), stored once
  int replicas_l0 = 0;
  for (const auto& p : placement)
    if (p.layer == 0 && p.replica > 0) {
      ++replicas_l0;
      EXPECT_TRUE(p.expert == 3 || p.expert == 7);
      EXPECT_EQ(p.rank.value, 0);
    }
  EXPECT_EQ(replicas_l0, 2);
  fs::remove(out);
}
