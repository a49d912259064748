// SPDX-License-Identifier: Apache-2.0
// Stragglers, host syncs and GPU idle gaps on the synth pathologies whose ground truth
// is known by construction (collectors/synth/README.md), plus "not enough data" cases.
#include <gtest/gtest.h>

#include "anaa_helpers.h"

using namespace anaa;

namespace {
const FindingKind kMine[] = {FindingKind::GlobalSync, FindingKind::ExposedComm, FindingKind::Straggler,
                             FindingKind::HostSync, FindingKind::GpuIdle};

std::string kinds(const AnalysisResult& r) {
  std::string s;
  for (const auto& f : r.findings) s += std::string(to_string(f.kind)) + " ";
  return s;
}

// Rank 0 alone: 10 steps of `period` ns, each opening with a gemm of `busy` ns on stream 7;
// `more(b, t)` adds what else a step starting at t holds.
template <class More>
RunData ten_steps(std::int64_t period, std::int64_t busy, More more) {
  Builder b;
  b.rank(0);
  for (int s = 0; s < 10; ++s) {
    std::int64_t t = s * period;
    b.kernel(0, 7, t, t + busy, "gemm");
    more(b, t);
    b.step(0, s, t, t + period);
  }
  return b.done();
}

}  // namespace

TEST(StragglersSynth, StragglerNamesTheRank) {
  auto r = analyze(synth_run("straggler:3"));
  const Finding* st = only_of_kind(r, FindingKind::Straggler);
  ASSERT_TRUE(st) << kinds(r);
  EXPECT_EQ(st->ranks, std::vector<int>{3});
  EXPECT_GT(st->evidence.at("slower_pct").get<double>(), 20.0);
  EXPECT_GT(st->evidence.at("others_waited_ms_total").get<double>(), 0.0);
  EXPECT_GT(st->evidence.at("collectives_arrived_last").get<int>(), 0);
  EXPECT_TRUE(of_kind(r, FindingKind::HostSync).empty());
  EXPECT_TRUE(of_kind(r, FindingKind::GpuIdle).empty());
  EXPECT_TRUE(of_kind(r, FindingKind::ExposedComm).empty()) << "others' waits are the straggler's, not exposed comm";
}

TEST(StragglersSynth, StragglerDefaultRankIsOne) {
  auto r = analyze(synth_run("straggler", 4, 8));
  const Finding* st = only_of_kind(r, FindingKind::Straggler);
  ASSERT_TRUE(st) << kinds(r);
  EXPECT_EQ(st->ranks, std::vector<int>{1});
}

TEST(StragglersSynth, HostSyncNamesTheRankAndTheCall) {
  auto r = analyze(synth_run("host_sync:2"));
  const Finding* hs = only_of_kind(r, FindingKind::HostSync);
  ASSERT_TRUE(hs) << kinds(r);
  EXPECT_EQ(hs->ranks, std::vector<int>{2});
  EXPECT_TRUE(hs->evidence.at("by_api").contains("cudaDeviceSynchronize"));
  // README: GPU idle >= 3 ms per step on R, 20 steps.
  EXPECT_GE(hs->evidence.at("gpu_idle_after_sync_ms").get<double>(), 20 * 3.0 * 0.99);
  EXPECT_TRUE(of_kind(r, FindingKind::GpuIdle).empty()) << "the idle is the sync's, not a second finding";
  EXPECT_TRUE(of_kind(r, FindingKind::Straggler).empty());
  EXPECT_TRUE(of_kind(r, FindingKind::ExposedComm).empty());
}

TEST(StragglersSynth, GpuIdleNamesTheRank) {
  auto r = analyze(synth_run("gpu_idle:5"));
  const Finding* gi = only_of_kind(r, FindingKind::GpuIdle);
  ASSERT_TRUE(gi) << kinds(r);
  EXPECT_EQ(gi->ranks, std::vector<int>{5});
  // 6 ms of host work; the GPU drains the ~1 ms launch queue first, so each gap is ~5 ms.
  for (const auto& g : gi->evidence.at("largest_gaps")) EXPECT_GE(g.at("gap_ms").get<double>(), 4.5);
  EXPECT_FALSE(gi->time_ranges.empty());
  EXPECT_TRUE(of_kind(r, FindingKind::HostSync).empty());
  EXPECT_TRUE(of_kind(r, FindingKind::Straggler).empty());
  EXPECT_TRUE(of_kind(r, FindingKind::GlobalSync).empty());
  EXPECT_TRUE(of_kind(r, FindingKind::ExposedComm).empty());
}

TEST(StragglersSynth, CleanRunHasNoneOfPartAKinds) {
  auto r = analyze(synth_run(""));
  for (auto k : kMine) EXPECT_TRUE(of_kind(r, k).empty()) << to_string(k) << " in " << kinds(r);
}

TEST(StragglersSynth, CleanHeterogeneousTopologyHasNoneOfPartAKinds) {
  synth::Options o;
  o.topology = "nvlink:4,pcie:2,net:2";
  auto path = tmpdir() / "hetero.moetune";
  ASSERT_TRUE(synth::generate_file(path, o, true));
  auto run = RunData::load(path);
  ASSERT_TRUE(run);
  auto r = analyze(*run);
  for (auto k : kMine) EXPECT_TRUE(of_kind(r, k).empty()) << to_string(k) << " in " << kinds(r);
}

TEST(Stragglers, OneRankIsNotEnoughData) {
  auto r = analyze(synth_run("", 1, 4));
  EXPECT_TRUE(of_kind(r, FindingKind::Straggler).empty());
  EXPECT_TRUE(has_note(r, "not enough data: straggler"));
  EXPECT_TRUE(has_note(r, "not enough data: global_sync"));
}

TEST(Stragglers, SyncCallWithGpuBusyAfterItIsNotHostSync) {
  // cudaStreamSynchronize returns while the GPU still runs another stream: no idle behind it.
  auto run = ten_steps(10'000'000, 9'000'000, [](Builder& b, std::int64_t t) {
    b.kernel(0, 9, t + 4'000'000, t + 10'000'000, "gemm2");
    ApiCallRow c;
    c.rank = RankId(0);
    c.start_ns = t + 1'000'000;
    c.dur_ns = 8'000'000;  // returns at t + 9 ms, stream 9 still busy
    c.name = b.s("cudaStreamSynchronize");
    b.d.api_calls.push_back(c);
  });
  auto r = run_analysis(analyze_stragglers, run);
  EXPECT_TRUE(of_kind(r, FindingKind::HostSync).empty());
  EXPECT_TRUE(of_kind(r, FindingKind::GpuIdle).empty());
}

TEST(Stragglers, GapThresholdIsAnOption) {
  // 0.5 ms gaps every 2 ms: reported with idle_gap_ns = 0.25 ms, not with the default 1 ms.
  auto run = ten_steps(2'000'000, 1'500'000, [](Builder&, std::int64_t) {});
  run.meta["warmup_steps"] = "0";  // all 10 steps count (else the first 10 % is warm-up)
  AnalysisResult r1, r2;
  analyze_stragglers(run, {}, r1);
  EXPECT_TRUE(of_kind(r1, FindingKind::GpuIdle).empty());
  AnalyzeOptions o;
  o.idle_gap_ns = 250'000;
  analyze_stragglers(run, o, r2);
  const Finding* gi = only_of_kind(r2, FindingKind::GpuIdle);
  ASSERT_TRUE(gi);
  EXPECT_NEAR(gi->evidence.at("idle_ms_total").get<double>(), 10 * 0.5, 1e-9);
}
