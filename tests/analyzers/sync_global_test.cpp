// SPDX-License-Identifier: Apache-2.0
// Global sync points: synth ground truth (tree_sync -> Tree AllReduce with Ring advice
// scoped to AllReduce; first-call setup; secondary waits behind a straggler attributed
// to it) and fixtures for the truthful-advice rule (never NCCL_ALGO for all-to-all).
#include <gtest/gtest.h>

#include "anaa_helpers.h"

using namespace anaa;

namespace {

bool has_nccl_algo_fix(const Finding& f) {
  for (const auto& fx : f.recommendation.fixes)
    if (fx.type == "env" && fx.body.value("name", "") == "NCCL_ALGO") return true;
  return false;
}

// n ranks, `instances` collectives of `func`; in instance i rank (i*3 % n) arrives
// 2 ms late and everyone ends together; transfer 100 us. Compute fills the gaps.
RunData rotating_late(const std::string& func, const std::string& algo, int n = 4, int instances = 8) {
  Builder b;
  for (int r = 0; r < n; ++r) b.rank(r);
  const std::int64_t period = 10'000'000, late = 2'000'000, transfer = 100'000;
  for (int i = 0; i < instances; ++i) {
    std::int64_t t0 = i * period + 1'000'000;
    int late_rank = (i * 3) % n;
    for (int r = 0; r < n; ++r) {
      std::int64_t arrive = t0 + (r == late_rank ? late : 0);
      b.kernel(r, 7, i * period, arrive, "gemm");
      b.op(r, func, arrive, t0 + late + transfer, i, algo);
      b.step(r, i, i * period, (i + 1) * period);
    }
  }
  return b.done();
}

}  // namespace

TEST(GlobalSyncSynth, TreeSyncIsTheAlgorithmWithRingAdviceForAllReduceOnly) {
  auto r = analyze(synth_run("tree_sync"));
  auto gs = of_kind(r, FindingKind::GlobalSync);
  const Finding* tree = nullptr;
  const Finding* first = nullptr;
  for (const auto* f : gs) {
    if (f->evidence.value("cause", "") == "algorithm") tree = f;
    if (f->evidence.value("cause", "") == "first_call") first = f;
  }
  ASSERT_NE(tree, nullptr) << "no global_sync finding with cause algorithm";
  EXPECT_EQ(tree->evidence.at("func"), "AllReduce");
  EXPECT_EQ(tree->evidence.at("algo"), "Tree");
  EXPECT_GE(tree->evidence.at("sync_instances").get<int>(), 15);  // 1 per step, 20 steps, first is setup
  EXPECT_EQ(tree->ranks.size(), 8u);
  ASSERT_TRUE(has_nccl_algo_fix(*tree));
  const auto& fx = tree->recommendation.fixes.front();
  EXPECT_EQ(fx.body.at("value"), "Ring");
  EXPECT_EQ(fx.body.at("scope"), "AllReduce");
  EXPECT_GE(tree->severity, FindingSeverity::Medium);
  ASSERT_NE(first, nullptr) << "first-call setup (40 ms on instance 0) not reported";
  EXPECT_NEAR(first->evidence.at("first_transfer_ms").get<double>(), 40.0, 2.0);
  // Nothing else is there by construction.
  EXPECT_TRUE(of_kind(r, FindingKind::Straggler).empty());
  EXPECT_TRUE(of_kind(r, FindingKind::HostSync).empty());
  for (const auto& f : r.findings) {
    if (has_nccl_algo_fix(f)) {
      EXPECT_EQ(f.recommendation.fixes.front().body.at("scope"), "AllReduce");
    }
  }
}

TEST(GlobalSyncSynth, StragglerWaitsAreAttributedNotDuplicated) {
  auto r = analyze(synth_run("straggler:3"));
  EXPECT_TRUE(of_kind(r, FindingKind::GlobalSync).empty());
  EXPECT_TRUE(has_note(r, "global_sync: rank 3 arrives last"));
}

TEST(GlobalSyncSynth, CleanRunHasNoSyncPoint) {
  auto r = analyze(synth_run(""));
  EXPECT_TRUE(of_kind(r, FindingKind::GlobalSync).empty());
}

TEST(GlobalSync, TreeAllReduceWithRotatingLateRankRecommendsRing) {
  auto run = rotating_late("AllReduce", "Tree");
  auto r = run_analysis(analyze_global_sync, run);
  const Finding* gs = only_of_kind(r, FindingKind::GlobalSync);
  ASSERT_TRUE(gs);
  EXPECT_EQ(gs->evidence.at("cause"), "algorithm");
  EXPECT_TRUE(has_nccl_algo_fix(*gs));
  // transfer = the fastest rank's duration; waits are 2 ms on the 3 early ranks.
  EXPECT_NEAR(gs->evidence.at("mean_transfer_ms").get<double>(), 0.1, 1e-9);
  EXPECT_NEAR(gs->evidence.at("total_wait_ms_all_ranks").get<double>(), 8 * 3 * 2.0, 1e-6);
}

TEST(GlobalSync, AllToAllNeverGetsNcclAlgo) {
  for (const char* algo : {"Tree", "Ring", ""}) {
    auto run = rotating_late("AllToAll", algo);
    auto r = run_analysis(analyze_global_sync, run);
    const Finding* gs = only_of_kind(r, FindingKind::GlobalSync);
    ASSERT_TRUE(gs) << algo;
    EXPECT_FALSE(has_nccl_algo_fix(*gs)) << algo;
    EXPECT_NE(gs->recommendation.text.find("NCCL_MAX_P2P_NCHANNELS"), std::string::npos);
  }
}

TEST(GlobalSync, RingAllReduceWithSkewGetsNoAlgoChange) {
  auto run = rotating_late("AllReduce", "Ring");
  auto r = run_analysis(analyze_global_sync, run);
  const Finding* gs = only_of_kind(r, FindingKind::GlobalSync);
  ASSERT_TRUE(gs);
  EXPECT_FALSE(has_nccl_algo_fix(*gs));
  EXPECT_EQ(gs->evidence.at("cause"), "arrival skew");
}

TEST(GlobalSync, AlignsKernelsByNameWithoutNcclOps) {
  // Same pattern as kernels only: ncclDevKernel names carry func and algo.
  Builder b;
  for (int r = 0; r < 4; ++r) b.rank(r);
  for (int i = 0; i < 8; ++i) {
    std::int64_t t0 = i * 10'000'000 + 1'000'000;
    for (int r = 0; r < 4; ++r) {
      std::int64_t arrive = t0 + (r == (i * 3) % 4 ? 2'000'000 : 0);
      b.kernel(r, 7, i * 10'000'000, arrive, "gemm");
      b.kernel(r, 13, arrive, t0 + 2'100'000, "ncclDevKernel_AllReduce_Sum_bf16_TREE_LL(x)");
    }
  }
  auto run = b.done();
  auto r = run_analysis(analyze_global_sync, run);
  const Finding* gs = only_of_kind(r, FindingKind::GlobalSync);
  ASSERT_TRUE(gs);
  EXPECT_EQ(gs->evidence.at("alignment"), "kernel names");
  EXPECT_EQ(gs->evidence.at("algo"), "Tree");
}

TEST(GlobalSync, OneRankOrNoNcclIsNotEnoughData) {
  {
    auto run = rotating_late("AllReduce", "Tree", 1);
    auto r = run_analysis(analyze_global_sync, run);
    EXPECT_TRUE(of_kind(r, FindingKind::GlobalSync).empty());
    EXPECT_TRUE(has_note(r, "not enough data: global_sync"));
  }
  {
    Builder b;
    b.rank(0), b.rank(1);
    b.kernel(0, 7, 0, 100, "gemm");
    b.kernel(1, 7, 0, 100, "gemm");
    auto run = b.done();
    auto r = run_analysis(analyze_global_sync, run);
    EXPECT_TRUE(has_note(r, "not enough data: global_sync"));
  }
}
