// SPDX-License-Identifier: Apache-2.0
// The recorded 4x H200 moe_nccl fixture (tests/data/recorded/h200x4_moe_nccl.moetune, NCCL
// kernels recorded with mangled names, warm-up marked --warmup 2, skewed routing):
//  - the busiest rank by expert tokens (routing x placement, counted here from the rows) is
//    also the one with the most compute per steady step, and stragglers and hot_experts
//    name it; the lightly loaded rank that waits longest inside the send/recv kernel is not
//    a straggler (the mangled kernel name used to be counted as compute);
//  - the reports mark the warm-up steps in the per-step table and leave them out of the plot.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/comm_rules.h"
#include "moetune/analyzers/report.h"
#include "moetune/analyzers/steps.h"
#include "moetune/synth/synth.h"

using namespace moetune;
using namespace moetune::analyzers;

namespace {

const RunData& fixture() {
  static const RunData run = [] {
    auto r = RunData::load(std::filesystem::path(MOETUNE_TEST_DATA) / "recorded" / "h200x4_moe_nccl.moetune");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(*r) : RunData{};
  }();
  return run;
}

// Tokens each rank's experts compute over the steady steps (one copy per expert here).
std::map<int, double> hosted_tokens(const RunData& run) {
  std::map<std::pair<int, int>, int> owner;
  for (const auto& p : run.placement) owner[{p.layer, p.expert}] = static_cast<int>(p.rank.value);
  auto steady = steady_steps(run);
  std::map<int, double> t;
  for (const auto& r : run.routing)
    if (steady.is_steady(r.step)) t[owner.at({r.layer, r.expert})] += static_cast<double>(r.tokens);
  return t;
}

// Non-communication kernel time per rank inside its steady steps, by the classifier.
std::map<int, double> compute_ns(const RunData& run) {
  auto steady = steady_steps(run);
  CommClassifier cls(run.strings);
  std::map<int, double> c;
  for (const auto& k : run.kernels) {
    if (cls.is_comm(k.name)) continue;
    for (const auto& s : run.steps)
      if (s.rank == k.rank && steady.is_steady(s.step) && k.start_ns >= s.start_ns && k.start_ns < s.end_ns)
        c[static_cast<int>(k.rank.value)] += static_cast<double>(k.dur_ns);
  }
  return c;
}

int argmax(const std::map<int, double>& m) {
  return std::max_element(m.begin(), m.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
}

}  // namespace

TEST(X4Fixture, MangledNcclKernelsAreCommunication) {
  EXPECT_EQ(classify_kernel("_Z22ncclDevKernel_SendRecv24ncclDevKernelArgsStorageILm4096EE"), CommKind::NcclP2P);
  auto info = parse_nccl_kernel("_Z22ncclDevKernel_SendRecv24ncclDevKernelArgsStorageILm4096EE");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->func, "SendRecv");
  // A mangled compute kernel stays compute.
  EXPECT_EQ(classify_kernel("_ZN3moe43_GLOBAL__N__4ba12f4a_10_kernels_cu_f5391f486relu_kEPfl"), CommKind::None);
  const auto& run = fixture();
  int send_recv = 0;
  CommClassifier cls(run.strings);
  for (const auto& k : run.kernels)
    if (run.str(k.name).rfind("_Z22ncclDevKernel_SendRecv", 0) == 0) {
      ++send_recv;
      EXPECT_TRUE(cls.is_comm(k.name));
    }
  EXPECT_GT(send_recv, 0) << "the fixture records NCCL kernels mangled";
}

TEST(X4Fixture, StragglersFollowTheExpertLoadLikeHotExperts) {
  const auto& run = fixture();
  auto tokens = hosted_tokens(run);
  auto compute = compute_ns(run);
  ASSERT_EQ(tokens.size(), 4u);
  ASSERT_EQ(compute.size(), 4u);
  const int busiest = argmax(tokens);
  EXPECT_EQ(argmax(compute), busiest) << "compute per steady step follows the routed tokens";
  // Ranks ordered by tokens and by compute agree.
  std::vector<int> by_tok{0, 1, 2, 3}, by_cmp{0, 1, 2, 3};
  std::sort(by_tok.begin(), by_tok.end(), [&](int a, int b) { return tokens[a] > tokens[b]; });
  std::sort(by_cmp.begin(), by_cmp.end(), [&](int a, int b) { return compute[a] > compute[b]; });
  EXPECT_EQ(by_tok, by_cmp);

  auto r = analyze(run);
  std::vector<int> stragglers;
  int hot_rank = -1;
  for (const auto& f : r.findings) {
    if (f.kind == FindingKind::Straggler) {
      ASSERT_EQ(f.ranks.size(), 1u);
      stragglers.push_back(f.ranks[0]);
      // Every straggler here is slow because of its expert load, and says so.
      EXPECT_GE(f.evidence["expert_tokens_per_step"].get<double>(),
                1.1 * f.evidence["others_median_expert_tokens_per_step"].get<double>());
      EXPECT_NEAR(f.evidence["expert_tokens_per_step"].get<double>(),
                  tokens[f.ranks[0]] / steady_steps(run).used(), 1e-6);
      EXPECT_NE(f.evidence["cause"].get<std::string>().find("expert load"), std::string::npos);
      EXPECT_NE(f.recommendation.text.find("placement"), std::string::npos);
      EXPECT_NE(f.gain_basis.find("hot_experts"), std::string::npos);
    }
    if (f.kind == FindingKind::HotExperts && !f.ranks.empty()) hot_rank = f.ranks[0];
  }
  ASSERT_FALSE(stragglers.empty());
  EXPECT_EQ(stragglers.front(), busiest) << "the worst straggler is the busiest rank";
  EXPECT_EQ(hot_rank, busiest);
  const int lightest = std::min_element(tokens.begin(), tokens.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  for (int s : stragglers) {
    EXPECT_NE(s, lightest);
    EXPECT_GT(tokens[s], tokens[lightest]);
  }
}

TEST(X4Fixture, SynthStragglerIsNotBlamedOnLoad) {
  // Balanced routing, one slow GPU: the straggler finding points at the GPU, not placement.
  synth::Options o;
  o.ranks = 4;
  o.steps = 12;
  o.inject = "straggler:2";
  auto path = std::filesystem::temp_directory_path() / ("moetune_x4fix_" + std::to_string(::getpid()) + ".moetune");
  ASSERT_TRUE(synth::generate_file(path, o, true));
  auto run = RunData::load(path);
  ASSERT_TRUE(run.ok());
  auto r = analyze(*run);
  std::filesystem::remove(path);
  int found = 0;
  for (const auto& f : r.findings)
    if (f.kind == FindingKind::Straggler) {
      ++found;
      EXPECT_EQ(f.ranks, std::vector<int>{2});
      EXPECT_NE(f.evidence["cause"].get<std::string>().find("not the expert load"), std::string::npos);
      EXPECT_NE(f.recommendation.text.find("look at the GPU"), std::string::npos);
    }
  EXPECT_EQ(found, 1);
}

TEST(X4Fixture, ReportsMarkWarmupSteps) {
  const auto& run = fixture();
  auto steady = steady_steps(run);
  ASSERT_EQ(steady.rule, "marked");
  ASSERT_GT(steady.warmup, 0);
  auto r = analyze(run);
  auto sr = step_ratios(r);
  EXPECT_EQ(static_cast<int>(sr.warmup.size()), steady.warmup);
  for (auto s : sr.warmup) EXPECT_FALSE(steady.is_steady(s));
  EXPECT_EQ(static_cast<int>(sr.plotted().size()), steady.used());
  auto md = report_markdown(run, r);
  auto html = report_html(run, r);
  for (std::int64_t s = 0; s < steady.first_steady; ++s) {
    EXPECT_NE(md.find("| " + std::to_string(s) + " (warm-up) |"), std::string::npos) << s;
    EXPECT_NE(html.find(">" + std::to_string(s) + " (warm-up)<"), std::string::npos) << s;
  }
  EXPECT_EQ(md.find("| " + std::to_string(steady.first_steady) + " (warm-up)"), std::string::npos);
  // The plot's x axis starts at the first steady step.
  EXPECT_NE(html.find(">step " + std::to_string(steady.first_steady) + "</text>"), std::string::npos);
  EXPECT_EQ(html.find(">step 0</text>"), std::string::npos);
}
