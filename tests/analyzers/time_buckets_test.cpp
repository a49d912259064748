// SPDX-License-Identifier: Apache-2.0
// Time accounting (metrics.per_rank[].buckets, docs/ANALYZE-JSON.md): hand-computed
// fixtures for every bucket and the precedence rule, comm wait from aligned collectives,
// the sum invariant on synth runs, step-period detection, and the new findings on their
// synth injections (memcpy_bound, launch_bound, grad_compression; synthetic runs).
#include <gtest/gtest.h>

#include "anaa_helpers.h"
#include "moetune/analyzers/report.h"
#include "moetune/analyzers/steps.h"

using namespace anaa;

namespace {

double bsum(const nlohmann::json& b) {
  double s = 0;
  for (const char* k : kBucketKeys) s += b.at(k).get<double>();
  return s;
}

// Every per_rank row and every step_buckets row: exactly the ten keys, summing to the step.
void expect_buckets_sum(const AnalysisResult& r, const std::string& what) {
  ASSERT_TRUE(r.metrics.contains("per_rank")) << what;
  for (const auto& row : r.metrics.at("per_rank")) {
    ASSERT_TRUE(row.contains("buckets")) << what;
    EXPECT_EQ(row.at("buckets").size(), 10u) << what;
    const double step = row.at("step_time_ms");
    EXPECT_NEAR(bsum(row.at("buckets")), step, 1e-9 * std::max(1.0, step)) << what << " rank " << row.at("rank");
    for (const auto& sb : row.at("step_buckets"))
      EXPECT_NEAR(bsum(sb), sb.at("step_time_ms").get<double>(), 1e-9 * std::max(1.0, step)) << what;
  }
}

void memcpy_row(Builder& b, int r, std::int64_t s0, std::int64_t s1, CopyKind kind, std::int64_t bytes = 1000) {
  MemcpyRow m;
  m.rank = RankId(r), m.start_ns = s0, m.dur_ns = s1 - s0, m.kind = kind, m.bytes = bytes;
  b.d.memcpys.push_back(m);
}
void api_row(Builder& b, int r, std::int64_t s0, std::int64_t s1, const std::string& name) {
  ApiCallRow a;
  a.rank = RankId(r), a.start_ns = s0, a.dur_ns = s1 - s0, a.name = b.s(name);
  b.d.api_calls.push_back(a);
}

}  // namespace

TEST(TimeBuckets, EveryBucketByHandWithPrecedence) {
  Builder b;
  b.rank(0);
  b.kernel(0, 7, 0, 1000, "gemm");
  b.kernel(0, 13, 500, 3000, "ncclDevKernel_AllReduce_Sum_f32_RING_LL(x)");  // under compute for [500, 1000)
  memcpy_row(b, 0, 2500, 4000, CopyKind::HtoD);                                 // under comm for [2500, 3000)
  memcpy_row(b, 0, 4000, 4500, CopyKind::DtoH);
  MemsetRow ms;
  ms.rank = RankId(0), ms.start_ns = 4500, ms.dur_ns = 100;
  b.d.memsets.push_back(ms);                                                    // memsets count as D2D
  memcpy_row(b, 0, 4600, 5000, CopyKind::PtoP);
  b.kernel(0, 7, 5400, 6000, "gemm");                          // short gap [5000, 5400)
  api_row(b, 0, 6100, 1'606'100, "cudaMalloc");                // 1.5 ms of a 2 ms gap: host gap
  b.kernel(0, 7, 2'006'000, 2'007'000, "gemm");                // long gap [6000, 2 006 000)
  b.step(0, 0, 0, 10'000'000);                                 // idle [2 007 000, 10 000 000): no API call
  auto run = b.done();
  auto r = run_analysis(analyze_comm_overlap, run);
  const auto& bk = rank_row(r, 0).at("buckets");
  EXPECT_DOUBLE_EQ(bk.at("compute_ms").get<double>(), 2600e-6);
  EXPECT_DOUBLE_EQ(bk.at("comm_transfer_ms").get<double>(), 2000e-6);
  EXPECT_DOUBLE_EQ(bk.at("comm_wait_ms").get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(bk.at("memcpy_h2d_ms").get<double>(), 1000e-6);
  EXPECT_DOUBLE_EQ(bk.at("memcpy_d2h_ms").get<double>(), 500e-6);
  EXPECT_DOUBLE_EQ(bk.at("memcpy_d2d_ms").get<double>(), 100e-6);
  EXPECT_DOUBLE_EQ(bk.at("memcpy_p2p_ms").get<double>(), 400e-6);
  EXPECT_DOUBLE_EQ(bk.at("host_gap_short_ms").get<double>(), 400e-6);
  EXPECT_DOUBLE_EQ(bk.at("host_gap_long_ms").get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(bk.at("idle_ms").get<double>(), 7.993);
  expect_buckets_sum(r, "fixture");
  EXPECT_EQ(rank_row(r, 0).at("host_gaps").at("long_per_step"), 1.0);
  EXPECT_EQ(rank_row(r, 0).at("host_gaps").at("short_per_step"), 1.0);
}

TEST(TimeBuckets, EarlyRankWaitsAtTheFrontOfTheCollective) {
  // Rank 0 reaches the all-reduce at 1000, rank 1 at 4000; both end at 5000: the transfer
  // is the shorter duration (1000 ns), rank 0 waits [1000, 4000).
  Builder b;
  for (int r = 0; r < 2; ++r) b.rank(r);
  b.op(0, "AllReduce", 1000, 5000, 0);
  b.op(1, "AllReduce", 4000, 5000, 0);
  b.kernel(1, 7, 0, 4000, "gemm");
  b.step(0, 0, 0, 6000);
  b.step(1, 0, 0, 6000);
  auto run = b.done();
  auto r = run_analysis(analyze_comm_overlap, run);
  const auto& b0 = rank_row(r, 0).at("buckets");
  EXPECT_DOUBLE_EQ(b0.at("comm_wait_ms").get<double>(), 3000e-6);
  EXPECT_DOUBLE_EQ(b0.at("comm_transfer_ms").get<double>(), 1000e-6);
  const auto& b1 = rank_row(r, 1).at("buckets");
  EXPECT_DOUBLE_EQ(b1.at("comm_wait_ms").get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(b1.at("comm_transfer_ms").get<double>(), 1000e-6);
  EXPECT_DOUBLE_EQ(b1.at("compute_ms").get<double>(), 4000e-6);
  expect_buckets_sum(r, "wait fixture");
}

TEST(TimeBuckets, LongGapsWithoutApiCallsAreIdleAndNoted) {
  Builder b;
  b.rank(0);
  b.kernel(0, 7, 0, 1000, "gemm");
  b.kernel(0, 7, 3'001'000, 3'002'000, "gemm");
  auto run = b.done();
  auto r = run_analysis(analyze_comm_overlap, run);
  const auto& bk = rank_row(r, 0).at("buckets");
  EXPECT_DOUBLE_EQ(bk.at("idle_ms").get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(bk.at("host_gap_long_ms").get<double>(), 0.0);
  EXPECT_TRUE(has_note(r, "no CUDA API calls recorded"));
}

TEST(TimeBuckets, SumToStepTimeOnEverySynthRun) {
  for (std::string inj : {"", "tree_sync", "host_sync", "gpu_idle", "no_overlap", "memcpy_bound", "launch_bound"}) {
    AnalysisResult r = analyze(synth_run(inj, 4, 6));
    expect_buckets_sum(r, inj.empty() ? "clean" : inj);
  }
}

TEST(TimeBuckets, CleanSynthIsComputeAndHiddenComm) {
  AnalysisResult r = analyze(synth_run("", 4, 6));
  for (const auto& row : r.metrics.at("per_rank")) {
    const double step = row.at("step_time_ms");
    EXPECT_GT(row.at("buckets").at("compute_ms").get<double>() / step, 0.8) << row.dump();
    EXPECT_EQ(row.at("step_buckets").size(), 6u);
  }
  for (auto k : {FindingKind::MemcpyBound, FindingKind::LaunchBound, FindingKind::GradCompression})
    EXPECT_TRUE(of_kind(r, k).empty()) << to_string(k);
}

TEST(TimeBuckets, TreeSyncWaitsAreCommWait) {
  // tree_sync: 7 of 8 ranks wait up to 3 ms per step for the last backward kernel of a late rank.
  AnalysisResult r = analyze(synth_run("tree_sync"));
  double wait = 0, transfer = 0;
  for (const auto& row : r.metrics.at("per_rank")) {
    wait += row.at("buckets").at("comm_wait_ms").get<double>();
    transfer += row.at("buckets").at("comm_transfer_ms").get<double>();
  }
  EXPECT_GT(wait, transfer);
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings.front().kind, FindingKind::GlobalSync);
  EXPECT_EQ(r.metrics.at("ranking").at("largest_bucket"), "comm_wait");
}

TEST(StepPeriod, DetectedOnSynthWithStepsRemoved) {
  RunData run = synth_run("", 4, 6);
  run.steps.clear();
  std::int64_t per_step = 0;  // kernels of rank 0 in one step
  for (const auto& k : run.kernels) per_step += k.rank.value == 0;
  per_step /= 6;
  auto p = detect_step_period(run, 0);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kernels, per_step);
  EXPECT_GE(p->windows.size(), 4u);  // 6 steps, the anchor opens 5 complete ones at most
  auto r = run_analysis(analyze_comm_overlap, run);
  const auto& row = rank_row(r, 0);
  ASSERT_FALSE(row.at("detected_period").is_null());
  EXPECT_EQ(row.at("step_buckets").size(), p->windows.size());
  expect_buckets_sum(r, "detected");
  // The detected step lasts what a marked step lasts (same program every step; the median
  // marked step, since the first one starts before the GPU has work and is shorter).
  AnalysisResult with_steps;
  analyze_comm_overlap(synth_run("", 4, 6), {}, with_steps);
  std::vector<double> marked_steps;
  for (const auto& sb : rank_row(with_steps, 0).at("step_buckets")) marked_steps.push_back(sb.at("step_time_ms"));
  const double marked = median_of(marked_steps);
  EXPECT_NEAR(row.at("detected_period").at("mean_step_ms").get<double>(), marked, 0.05 * marked);
}

TEST(StepPeriod, NothingRepeatingIsNotAPeriod) {
  Builder b;
  b.rank(0);
  for (int i = 0; i < 40; ++i) b.kernel(0, 7, i * 100, i * 100 + 50, "k" + std::to_string(i));
  EXPECT_FALSE(detect_step_period(b.done(), 0));
}

TEST(NewFindings, MemcpyBoundOnItsInjection) {
  // memcpy_bound (synthetic): 64 MiB H2D per rank per step at 12 GB/s = 5.59 ms, blocking the step.
  AnalysisResult r = analyze(synth_run("memcpy_bound", 4, 6));
  const Finding* v = only_of_kind(r, FindingKind::MemcpyBound);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->ranks.size(), 4u);
  const auto& h2d = v->evidence.at("by_kind").at("h2d");
  EXPECT_EQ(h2d.at("bytes").get<std::int64_t>(), 4 * 6 * (64LL << 20));  // 4 ranks x 6 steps
  EXPECT_NEAR(h2d.at("achieved_gbps").get<double>(), 12.0, 0.01);
  EXPECT_NEAR(h2d.at("pcie_raw_gbps").get<double>(), 63.008, 0.01);  // H200: PCIe gen5 x16
  EXPECT_NE(v->evidence.at("host_memory_inferred").get<std::string>().find("pageable"), std::string::npos);
  const double step = rank_row(r, 0).at("step_time_ms");
  EXPECT_NEAR(rank_row(r, 0).at("buckets").at("memcpy_h2d_ms").get<double>(), 5.59, 0.01);
  EXPECT_NEAR(v->estimated_gain_pct, 100 * 5.59 / step, 1.0);
  EXPECT_EQ(r.findings.front().kind, FindingKind::MemcpyBound);
}

TEST(NewFindings, LaunchBoundOnItsInjection) {
  // launch_bound (synthetic): 80 us of host time before every launch; kernels last 5-100 us.
  AnalysisResult r = analyze(synth_run("launch_bound", 4, 6));
  const Finding* v = only_of_kind(r, FindingKind::LaunchBound);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->ranks.size(), 4u);
  EXPECT_EQ(r.findings.front().kind, FindingKind::LaunchBound);
  EXPECT_EQ(r.metrics.at("ranking").at("largest_bucket"), "host_gap_short");
}

TEST(NewFindings, GradCompressionOnlyForExposedFp32AllReduceOnSlowLink) {
  // fp32_grad_allreduce (synthetic): 2 x 64 MiB fp32 gradient all-reduces after the backward.
  auto path = tmpdir() / "fp32ar_pcie.moetune";
  synth::Options o;
  o.ranks = 4, o.steps = 6, o.inject = "fp32_grad_allreduce", o.topology = "pcie:4";
  ASSERT_TRUE(synth::generate_file(path, o, true));
  auto run = RunData::load(path);
  ASSERT_TRUE(run);
  AnalysisResult r = analyze(*run);
  const Finding* v = only_of_kind(r, FindingKind::GradCompression);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->evidence.at("dtype_bits"), 32);
  EXPECT_EQ(v->evidence.at("link"), "PHB");
  EXPECT_GT(v->estimated_gain_pct, 3.0);
  // Same injection over NVLink: exposed, but not a slow link.
  AnalysisResult fast = analyze(synth_run("fp32_grad_allreduce", 4, 6));
  EXPECT_TRUE(of_kind(fast, FindingKind::GradCompression).empty());
  // 32-bit all-to-all is comm_precision's, never grad_compression.
  AnalysisResult a2a = analyze(synth_run("fp32_dispatch", 4, 6));
  EXPECT_TRUE(of_kind(a2a, FindingKind::GradCompression).empty());
}

TEST(NewFindings, OtherInjectionsRaiseNoneOfTheNewKinds) {
  for (auto inj : {"straggler", "host_sync", "gpu_idle", "tree_sync", "no_overlap", "slow_link", "hot_experts_slow_rank"}) {
    AnalysisResult r = analyze(synth_run(inj, 4, 6));
    for (auto k : {FindingKind::MemcpyBound, FindingKind::LaunchBound, FindingKind::GradCompression})
      EXPECT_TRUE(of_kind(r, k).empty()) << inj << ": " << to_string(k);
  }
}

TEST(TimeBuckets, ReportsShowTheBuckets) {
  const RunData& run = synth_run("memcpy_bound", 4, 6);
  AnalysisResult r = analyze(run);
  const std::string text = report_text(run, r), md = report_markdown(run, r), html = report_html(run, r);
  EXPECT_NE(text.find("time buckets, % of step"), std::string::npos);
  EXPECT_NE(text.find("     63.9"), std::string::npos) << text;  // H2D share of every rank
  EXPECT_NE(md.find("## Time accounting"), std::string::npos);
  EXPECT_NE(md.find("| 0 | 36.1 | 0.0 | 0.0 | 63.9 |"), std::string::npos) << md;
  EXPECT_NE(html.find("<h2>Time accounting (% of step)</h2>"), std::string::npos);
  EXPECT_NE(html.find("title=\"H2D 63.9 %\""), std::string::npos);
}
