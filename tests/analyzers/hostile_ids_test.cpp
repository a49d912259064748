// SPDX-License-Identifier: Apache-2.0
// Hostile ids (issue 16, item 1): layer, expert and rank numbers read from a file index
// the analyzers' tables. Out-of-range ids (INT_MAX, -1, 2^40) must be skipped with a
// note, never crash or size a table by the largest id. Synthetic fixtures, labelled so.
#include <gtest/gtest.h>
#include <zlib.h>

#include <climits>
#include <filesystem>
#include <fstream>

#include "anaa_helpers.h"
#include "common/run_command.h"
#include "common/scratch_dir.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/topology.h"
#include "moetune/trace/writer.h"

namespace fs = std::filesystem;
using namespace moetune;
using namespace moetune::analyzers;
using anaa::has_note;
using anaa::run_analysis;

namespace {

const fs::path& tmpdir() { return moetune::test::process_dir("moetune_hostile_ids"); }

void add_rank(RunData& d, std::int64_t rank, const std::string& host = "") {
  RankRow row;
  row.rank = RankId(rank);
  row.host = host;
  d.ranks.push_back(row);
}

// Synthetic: 2 ranks, one layer of 4 experts, 3 steps, expert e's tokens grow with e.
RunData small_moe_run() {
  RunData d;
  for (int r = 0; r < 2; ++r) add_rank(d, r, "h0");
  for (std::int64_t step = 0; step < 3; ++step)
    for (int r = 0; r < 2; ++r)
      for (int e = 0; e < 4; ++e) d.routing.push_back({step, 0, RankId(r), e, 100 * (e + 1), std::nullopt});
  for (int e = 0; e < 4; ++e) d.placement.push_back({0, e, RankId(e % 2), 0});
  return d;
}

// analyze_experts on `d` keeps no experts metrics and says why in a note containing `why`.
void expect_no_experts(const RunData& d, const std::string& why) {
  auto out = run_analysis(analyze_experts, d);
  EXPECT_FALSE(out.metrics.contains("experts"));
  EXPECT_TRUE(has_note(out, why));
}

}  // namespace

TEST(HostileIds, ExpertsSkipOutOfRangeRoutingAndPlacementIds) {
  RunData d = small_moe_run();
  d.routing.push_back({0, 0, RankId(0), INT_MAX, 5, std::nullopt});     // expert INT_MAX (+1 overflows)
  d.routing.push_back({0, 0, RankId(0), -1, 5, std::nullopt});          // expert -1
  d.routing.push_back({0, INT_MAX, RankId(1), 0, 5, std::nullopt});     // layer INT_MAX
  d.routing.push_back({0, -7, RankId(1), 0, 5, std::nullopt});          // layer < 0
  d.routing.push_back({0, 0, RankId(-1), 1, 5, std::nullopt});          // rank -1
  d.routing.push_back({0, 0, RankId(1LL << 40), 1, 5, std::nullopt});   // rank 2^40
  d.routing.push_back({0, 0, RankId(0), 1, -9, std::nullopt});          // negative tokens
  d.placement.push_back({0, INT_MAX, RankId(0), 0});                    // the moe.placement of the issue
  d.placement.push_back({0, 1, RankId(1LL << 40), 1});
  d.placement.push_back({0, 2, RankId(-3), 1});
  AnalysisResult out;
  analyze_experts(d, {}, out);
  ASSERT_TRUE(out.metrics.contains("experts")) << (out.notes.empty() ? "" : out.notes.front());
  EXPECT_EQ(out.metrics["experts"]["experts"], 4);
  EXPECT_EQ(out.metrics["experts"]["layers"], 1);
  EXPECT_EQ(out.metrics["experts"]["ranks"], 2);
  EXPECT_TRUE(has_note(out, "ignored 10 expert_routing/expert_placement rows"));
  // The whole pipeline (every analysis) runs too.
  auto all = analyze(d);
  EXPECT_TRUE(all.metrics.contains("experts"));
}

TEST(HostileIds, ExpertsWithOnlyBadRowsSayNotEnoughData) {
  RunData d;
  d.routing.push_back({0, 0, RankId(0), INT_MIN, 5, std::nullopt});
  d.routing.push_back({0, INT_MIN, RankId(0), 0, 5, std::nullopt});
  expect_no_experts(d, "no usable expert_routing rows");
}

TEST(HostileIds, ExpertsRefuseHugeDenseTables) {
  // Synthetic: 2 ranks, 64 layers, 300 experts per layer recorded, and 2000 ranks named
  // by ranks rows: 64 x 2000 x 300 > the 2^25-cell limit; a note, no 300 MB tables.
  RunData d;
  for (int r = 0; r < 2000; ++r) add_rank(d, r);
  for (int l = 0; l < 64; ++l)
    for (int e = 0; e < 300; ++e) d.routing.push_back({0, l, RankId(e % 2), e, 1, std::nullopt});
  expect_no_experts(d, "exceeds the analysis limit");
}

TEST(HostileIds, RankLinksFollowDistinctRanksNotTheLargestId) {
  // One ranks row with rank 1000000 used to size the topology model by 10^12 pairs.
  RunData d;
  for (std::int64_t r : {0LL, 1LL, 1000000LL, -5LL}) add_rank(d, r, "h0");
  TopologyRow t;
  t.host = "h0";
  t.a = "GPU0";
  t.b = "GPU1";
  t.rank_a = 0;
  t.rank_b = 1;
  t.link = "NV18";
  t.bandwidth_gbps = 450;
  d.topology.push_back(t);
  TopologyRow far = t;
  far.rank_b = 1000000;  // beyond the model: skipped
  d.topology.push_back(far);
  EXPECT_EQ(rank_count(d), 2);
  auto links = RankLinks::build(d);
  EXPECT_EQ(links.ranks(), 2);
  EXPECT_EQ(links.link(0, 1), "NV18");
  EXPECT_EQ(links.link(1, 0), "NV18");
  ASSERT_TRUE(links.bandwidth(0, 1));
  EXPECT_DOUBLE_EQ(*links.bandwidth(0, 1), 450.0);
  EXPECT_FALSE(links.bandwidth(0, 1000000));
  EXPECT_GT(links.mean_bandwidth(0), 0.0);
  auto all = analyze(d);  // every analysis on it
  SUCCEED();
}

TEST(HostileIds, ApiCallsWithHugeRankIdLoad) {
  // Out-of-order api_calls with rank 2^40: the loader bucketed by rank into a table of
  // 2^40 entries. Now it sorts instead.
  auto p = tmpdir() / "api_rank.moetune";
  {
    auto w = TraceWriter::create(p, {.force = true});
    ASSERT_TRUE(w) << w.error().message;
    auto name = (*w)->intern("cudaLaunchKernel");
    for (std::int64_t rank : {1LL << 40, 0LL, 1LL << 40, 0LL}) {
      ApiCallRow a;
      a.rank = RankId(rank);
      a.start_ns = 1000 - rank % 7;
      a.dur_ns = 10;
      a.name = name;
      (*w)->add(a);
    }
    ASSERT_TRUE((*w)->finish());
  }
  auto run = RunData::load(p);
  ASSERT_TRUE(run) << run.error().message;
  ASSERT_EQ(run->api_calls.size(), 4u);
  EXPECT_EQ(run->api_calls.front().rank.value, 0);
  EXPECT_EQ(run->api_calls.back().rank.value, 1LL << 40);
  auto all = analyze(*run);
  SUCCEED();
}

// End to end, as the issue found it: a Kineto trace whose moe.placement mark names expert
// 2147483647 imports (exit 0); analyze, report and plan must then work, not SIGSEGV.
TEST(HostileIds, KinetoPlacementMarkWithExpertIntMaxAnalyzes) {
  const fs::path src = fs::path(MOETUNE_TEST_DATA) / "recorded" / "torch_moe_2rank_rank0.pt.trace.json.gz";
  gzFile f = gzopen(src.c_str(), "rb");
  ASSERT_TRUE(f);
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  gzclose(f);
  const std::string from = "moe.placement layer=0 map=0:0,", to = "moe.placement layer=0 map=2147483647:0,0:0,";
  auto at = text.find(from);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, from.size(), to);
  const fs::path json = tmpdir() / "bad_expert.json", run = tmpdir() / "bad_expert.moetune";
  std::ofstream(json, std::ios::binary) << text;
  const std::string cli = MOETUNE_CLI;
  auto imp = test::run_command(cli + " import " + json.string() + " -o " + run.string() + " --force");
  ASSERT_EQ(imp.rc, 0) << imp.out;
  auto an = test::run_command(cli + " analyze " + run.string() + " --json");
  EXPECT_EQ(an.rc, 0) << an.out;
  auto rep = test::run_command(cli + " report " + run.string() + " --format md -o " + (tmpdir() / "r.md").string());
  EXPECT_EQ(rep.rc, 0) << rep.out;
  auto plan = test::run_command(cli + " plan " + run.string() + " -o " + (tmpdir() / "p.json").string() + " --force");
  EXPECT_NE(plan.rc, -1) << plan.out;  // killed by a signal reads -1
  EXPECT_LE(plan.rc, 2) << plan.out;
  auto diff = test::run_command(cli + " diff " + run.string() + " " + run.string());
  EXPECT_NE(diff.rc, -1) << diff.out;
  EXPECT_LE(diff.rc, 2) << diff.out;
}
