// SPDX-License-Identifier: Apache-2.0
// The typed metrics and their JSON (metrics.h): each struct's fields are listed once for
// to_json and *_from_json, so a round trip keeps every field; BucketTimes::at follows
// kBucketKeys; the analyzers' JSON input files fail with one line naming the file.
// Values are made up (distinct per field, so a swapped field shows).
#include <gtest/gtest.h>

#include <fstream>

#include "anab_helpers.h"
#include "moetune/analyzers/metrics.h"
#include "moetune/analyzers/placement.h"
#include "moetune/analyzers/profile.h"
#include "moetune/analyzers/report.h"

using namespace moetune;
using namespace moetune::analyzers;

namespace {

BucketTimes buckets(double base) {
  BucketTimes b;
  b.compute_ms = base + 1, b.comm_transfer_ms = base + 2, b.comm_wait_ms = base + 3;
  b.memcpy_h2d_ms = base + 4, b.memcpy_d2h_ms = base + 5, b.memcpy_d2d_ms = base + 6, b.memcpy_p2p_ms = base + 7;
  b.host_gap_long_ms = base + 8, b.host_gap_short_ms = base + 9, b.idle_ms = base + 10;
  return b;
}

}  // namespace

TEST(MetricsJson, BucketIndexFollowsTheKeys) {
  const BucketTimes b = buckets(0.5);
  const auto j = to_json(b);
  ASSERT_EQ(j.size(), std::size_t(BucketTimes::kCount));
  for (int i = 0; i < BucketTimes::kCount; ++i) EXPECT_EQ(b.at(i), j.at(kBucketKeys[i]).get<double>()) << kBucketKeys[i];
  EXPECT_EQ(b.at(BucketTimes::kCount), 0.0);
  EXPECT_EQ(bucket_times_from_json(j).at(9), 10.5);
}

TEST(MetricsJson, RankRowRoundTripsEveryField) {
  RankMetrics m;
  m.rank = 3, m.steps = 7;
  m.step_time_ms = 11, m.compute_ms = 12, m.comm_ms = 13, m.exposed_comm_ms = 14, m.overlap_pct = 15;
  m.comm_ratio = 0.16, m.idle_ms = 17, m.overlap_ms = 18, m.total_ms = 19, m.compute_total_ms = 20;
  m.comm_total_ms = 21, m.exposed_comm_total_ms = 22, m.exposed_wait_ms = 23, m.whole_run = true;
  m.comm_kernels = 24, m.nccl_ops = 25, m.peer_copies = 26, m.buckets = buckets(100);
  m.step_buckets.push_back({5, 1000, 2000, 1.5, buckets(200)});
  m.long_gaps_per_step = 27, m.short_gaps_per_step = 28, m.api_calls_recorded = true;
  m.detected_period = DetectedPeriodMetrics{96, 4, 2.5, "gemm", 0.875};
  const auto j = to_json(m);
  EXPECT_EQ(j.at("comm_ratio").get<double>(), 0.16);
  EXPECT_EQ(j.at("host_gaps").at("short_per_step").get<double>(), 28);
  EXPECT_EQ(j.at("detected_period").at("anchor_kernel"), "gemm");
  const RankMetrics back = rank_metrics_from_json(j);
  EXPECT_EQ(to_json(back), j);
  EXPECT_EQ(back.peer_copies, 26);
  EXPECT_EQ(back.step_buckets.at(0).buckets.idle_ms, 210);
  ASSERT_TRUE(back.detected_period);
  EXPECT_EQ(back.detected_period->steps, 4u);
  m.detected_period.reset();
  EXPECT_TRUE(to_json(m).at("detected_period").is_null());
  EXPECT_FALSE(rank_metrics_from_json(to_json(m)).detected_period);
}

TEST(MetricsJson, StepRowRoundTripsAndWarmupHasNoWait) {
  StepMetrics s;
  s.rank = 2, s.step = 9, s.start_ns = 100, s.end_ns = 900, s.step_time_ms = 31, s.compute_ms = 32, s.comm_ms = 33;
  s.exposed_comm_ms = 34, s.overlap_pct = 35, s.comm_ratio = 0.36, s.idle_ms = 37, s.exposed_wait_ms = 38;
  const auto j = to_json(s);
  EXPECT_EQ(j.at("exposed_wait_ms").get<double>(), 38);
  EXPECT_FALSE(j.contains("warmup"));
  EXPECT_EQ(to_json(step_metrics_from_json(j)), j);
  s.warmup = true;
  const auto w = to_json(s);
  EXPECT_TRUE(w.at("warmup").get<bool>());
  EXPECT_FALSE(w.contains("exposed_wait_ms"));
  EXPECT_EQ(to_json(step_metrics_from_json(w)), w);
  auto broken = j;
  broken.erase("comm_ms");
  EXPECT_THROW(step_metrics_from_json(broken), nlohmann::json::exception);
}

TEST(MetricsJson, InputFilesFailWithOneLineNamingTheFile) {
  const auto missing = anab::tmpdir() / "no_such_plan.json";
  auto p = read_placement(missing);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message, missing.string() + ": cannot open");
  const auto bad = anab::write("bad_profile.json", "{\"version\": ");
  auto q = read_profile(bad);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().message, bad.string() + ": not valid JSON");
}
