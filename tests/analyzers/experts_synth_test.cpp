// SPDX-License-Identifier: Apache-2.0
// Golden tests of the part-B analyses (experts, precision, bandwidth, topology) on synth
// runs whose ground truth is known by construction (collectors/synth/README.md).
#include <gtest/gtest.h>

#include "moetune/trace/link_rates.h"

#include <set>

#include "anab_helpers.h"
#include "moetune/analyzers/analyses.h"

using namespace moetune::analyzers;

namespace {

const std::set<FindingKind> kMine = {FindingKind::HotExperts,   FindingKind::ColdExpertTraffic,
                                     FindingKind::ExpertImbalance, FindingKind::CommPrecision,
                                     FindingKind::LowBandwidth, FindingKind::PcieTopology};

struct Analyzed {
  RunData run;
  AnalysisResult res;
};

Analyzed analyze_synth(const std::string& args) {
  auto run = anab::load_synth(args);
  EXPECT_TRUE(run.ok()) << run.error().message;
  Analyzed a{std::move(*run), {}};
  a.res = analyze(a.run);
  return a;
}

std::vector<const Finding*> mine(const AnalysisResult& r) {
  std::vector<const Finding*> v;
  for (const auto& f : r.findings)
    if (kMine.count(f.kind)) v.push_back(&f);
  return v;
}

std::string kinds(const std::vector<const Finding*>& v) {
  std::string s;
  for (const auto* f : v) s += std::string(to_string(f->kind)) + " ";
  return s;
}

// The only finding of our kinds, which must be of kind `k`; a test failure and nullptr otherwise.
const Finding* only_mine(const AnalysisResult& r, FindingKind k) {
  auto v = mine(r);
  if (v.size() != 1) {
    ADD_FAILURE() << "expected one " << to_string(k) << ", got " << kinds(v);
    return nullptr;
  }
  EXPECT_EQ(v[0]->kind, k);
  return v[0];
}

}  // namespace

TEST(PartBSynth, CleanRunHasNoneOfOurKinds) {
  auto a = analyze_synth("--ranks 8");
  EXPECT_TRUE(mine(a.res).empty()) << kinds(mine(a.res));
  const auto& ex = a.res.metrics["experts"];
  EXPECT_EQ(ex["layers"], 2);
  EXPECT_EQ(ex["experts"], 16);
  EXPECT_GT(ex["balancedness"].get<double>(), 0.9);  // README: balancedness > 0.9
  EXPECT_EQ(ex["hot"].size(), 6u);                   // top-3 per layer
  EXPECT_EQ(ex["heatmap"][0]["steps"].size(), 6u);
  EXPECT_EQ(ex["heatmap"][0]["tokens"][0].size(), 16u);
  // README: clean busbw is the achievable fraction x the raw ceiling (NV18: 0.69 x 18 x 26.5625 GB/s),
  // and the analyzer reports that same figure as the ceiling, with the raw rate beside it.
  const double raw = 18 * moetune::links::kNvlink4PerLinkGbps, ach = moetune::links::kNvlinkAchievable.fraction;
  bool seen = false;
  for (const auto& c : a.res.metrics["collectives"]) {
    if (c["func"] != "AllToAll") continue;
    seen = true;
    EXPECT_NEAR(c["busbw_gbps"].get<double>(), ach * raw, 0.02 * ach * raw) << c.dump();
    EXPECT_DOUBLE_EQ(c["ceiling_gbps"].get<double>(), ach * raw);
    EXPECT_DOUBLE_EQ(c["link_raw_gbps"].get<double>(), raw);
    EXPECT_EQ(c["link"], "NV18");
  }
  EXPECT_TRUE(seen);
}

TEST(PartBSynth, Fp32DispatchIsCommPrecision) {
  auto a = analyze_synth("--ranks 8 --inject fp32_dispatch");
  const Finding* only = only_mine(a.res, FindingKind::CommPrecision);
  ASSERT_TRUE(only);
  const auto& f = *only;
  auto bytes = f.evidence["alltoall_bytes_32bit"].get<std::int64_t>();
  EXPECT_EQ(f.evidence["bytes_saved_at_16bit"].get<std::int64_t>(), bytes / 2);
  std::int64_t a2a = 0;
  for (const auto& o : a.run.nccl_ops)
    if (o.func == "AllToAll") a2a += o.bytes;
  EXPECT_EQ(bytes, a2a);
  bool flag = false;
  for (const auto& fx : f.recommendation.fixes)
    flag = flag || (fx.type == "flag" && fx.body["name"] == "--comm-dtype" && fx.body["value"] == "bf16");
  EXPECT_TRUE(flag);
  EXPECT_GT(f.estimated_gain_pct, 0);
  EXPECT_FALSE(f.gain_basis.empty());
}

TEST(PartBSynth, HotExpertsOnSlowRankGetAPlanThatMovesThem) {
  auto a = analyze_synth("--ranks 8 --inject hot_experts_slow_rank");
  const Finding* only = only_mine(a.res, FindingKind::HotExperts);
  ASSERT_TRUE(only);
  const auto& f = *only;
  EXPECT_EQ(f.ranks, std::vector<int>{7});  // README: S = N-1 on a uniform topology
  const auto& hot = a.res.metrics["experts"]["hot"];
  for (const auto& h : hot) {
    EXPECT_LE(h["expert"].get<int>(), 2) << "README: the 3 hottest are experts 0, 1, 2";
    EXPECT_EQ(h["ranks"], nlohmann::json({7}));
  }
  ASSERT_EQ(f.recommendation.fixes.size(), 1u);
  const auto& fix = f.recommendation.fixes[0];
  EXPECT_EQ(fix.type, "placement");
  const auto& plan = fix.body["plan"];
  EXPECT_EQ(plan["format"], "moetune-placement");
  for (const auto& [layer, experts] : plan["layers"].items())
    for (int e = 0; e < 3; ++e) {
      bool off = false;
      for (const auto& r : experts[std::to_string(e)]) off = off || r.get<int>() != 7;
      EXPECT_TRUE(off) << "layer " << layer << " expert " << e << " still only on rank 7";
    }
  auto cur = f.evidence["current"]["rank_tokens_per_step"][7].get<double>();
  auto aft = f.evidence["plan"]["rank_tokens_per_step"][7].get<double>();
  EXPECT_LT(aft, 0.5 * cur);
  EXPECT_LE(f.evidence["plan"]["max_rank_time_tokens"].get<double>(),
            f.evidence["eplb_greedy"]["max_rank_time_tokens"].get<double>() + 1e-6);
  EXPECT_LE(f.evidence["plan"]["memory_cost_pct"].get<double>(), 15.0 + 1e-9);
  EXPECT_TRUE(plan.contains("eplb"));
}

TEST(PartBSynth, SlowLinkIsLowBandwidthWithoutAlgoAdvice) {
  auto a = analyze_synth("--ranks 8 --inject slow_link");
  const Finding* only = only_mine(a.res, FindingKind::LowBandwidth);
  ASSERT_TRUE(only);
  const auto& f = *only;
  EXPECT_EQ(f.evidence["func"], "AllToAll");
  const double raw = 18 * moetune::links::kNvlink4PerLinkGbps;
  const double clean = moetune::links::kNvlinkAchievable.fraction * raw;
  EXPECT_NEAR(f.evidence["busbw_gbps"].get<double>(), 0.10 * clean, 0.02 * clean);  // README: 0.10 x clean busbw
  EXPECT_DOUBLE_EQ(f.evidence["link_raw_gbps"].get<double>(), raw);
  EXPECT_DOUBLE_EQ(f.evidence["link_achievable_gbps"].get<double>(), moetune::links::kNvlinkAchievable.fraction * raw);
  EXPECT_NE(f.evidence["achievable_basis"].get<std::string>().find("h200x2_a2a_bw.jsonl"), std::string::npos);
  for (const auto& fx : f.recommendation.fixes)
    if (fx.type == "env") {
      EXPECT_NE(fx.body["name"], "NCCL_ALGO");
      EXPECT_NE(fx.body["name"], "NCCL_PROTO");
    }
  EXPECT_FALSE(f.recommendation.fixes.empty());
}

TEST(PartBSynth, HeterogeneousTopologyIsPcie) {
  auto a = analyze_synth("--ranks 8 --topology nvlink:4,pcie:2,net:2");
  auto v = mine(a.res);
  ASSERT_FALSE(v.empty());
  std::set<int> ranks;
  for (const auto* f : v) {
    EXPECT_EQ(f->kind, FindingKind::PcieTopology) << f->title;
    ranks.insert(f->ranks.begin(), f->ranks.end());
  }
  EXPECT_TRUE(ranks.count(4) && ranks.count(5)) << "README: PCIe box ranks 4-5";
  EXPECT_FALSE(ranks.count(0)) << "NVLink island ranks are fine";
}

TEST(PartBSynth, SxmWithoutNvlink) {
  auto a = analyze_synth("--ranks 4 --topology sxm-no-nvlink:4");
  const Finding* f = only_mine(a.res, FindingKind::PcieTopology);
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->evidence.contains("sold_as_sxm_without_nvlink"));
  EXPECT_EQ(f->evidence["sold_as_sxm_without_nvlink"].size(), 4u);
}

TEST(PartBSynth, OtherInjectionsAreNotOurs) {
  for (auto inj : {"straggler", "host_sync", "gpu_idle", "tree_sync", "no_overlap"}) {
    auto a = analyze_synth(std::string("--ranks 8 --inject ") + inj);
    EXPECT_TRUE(mine(a.res).empty()) << inj << ": " << kinds(mine(a.res));
  }
}

TEST(PartBSynth, NotEnoughDataIsSaid) {
  RunData empty;
  AnalysisResult r;
  analyze_experts(empty, {}, r);
  analyze_precision(empty, {}, r);
  analyze_bandwidth(empty, {}, r);
  ASSERT_EQ(r.notes.size(), 3u);
  for (const auto& n : r.notes) EXPECT_EQ(n.rfind("not enough data: ", 0), 0u) << n;
  EXPECT_TRUE(r.findings.empty());
}
