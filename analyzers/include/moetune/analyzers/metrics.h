// SPDX-License-Identifier: Apache-2.0
// Typed metrics: the values the GUI and the reports read, produced by the analyses as
// structs. The analyze --json document (docs/ANALYZE-JSON.md) is their serialisation:
// each analysis fills its struct and writes metrics.<key> = to_json(struct) at once, so
// the JSON and the struct never disagree. Readers use the structs, never the JSON keys.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moetune::analyzers {

// Where a rank's step time goes (ms; the buckets of one step sum to its step time).
// Order and meaning: docs/ANALYZE-JSON.md "Time buckets".
struct BucketTimes {
  double compute_ms = 0, comm_transfer_ms = 0, comm_wait_ms = 0;
  double memcpy_h2d_ms = 0, memcpy_d2h_ms = 0, memcpy_d2d_ms = 0, memcpy_p2p_ms = 0;
  double host_gap_long_ms = 0, host_gap_short_ms = 0, idle_ms = 0;
  static constexpr int kCount = 10;
  // By index in the order of kBucketKeys (report.h): compute ... idle.
  double at(int i) const;
  double memcpy_ms() const { return memcpy_h2d_ms + memcpy_d2h_ms + memcpy_d2d_ms + memcpy_p2p_ms; }
};

// One step of a rank (or one detected period when the run has no steps).
struct StepBuckets {
  std::int64_t step = 0, start_ns = 0, end_ns = 0;
  double step_time_ms = 0;
  BucketTimes buckets;
};

// The repeating kernel sequence found when a rank has no steps (steps.h).
struct DetectedPeriodMetrics {
  std::int64_t kernels_per_step = 0;
  std::size_t steps = 0;
  double mean_step_ms = 0;
  std::string anchor_kernel;
  double self_match = 0;
};

// metrics.per_rank[]: means per step of one rank (comm_overlap).
struct RankMetrics {
  int rank = -1;
  int steps = 0;  // 0 when the whole run is one window
  double step_time_ms = 0, compute_ms = 0, comm_ms = 0, exposed_comm_ms = 0, overlap_pct = 0, comm_ratio = 0,
         idle_ms = 0, overlap_ms = 0;
  double total_ms = 0, compute_total_ms = 0, comm_total_ms = 0, exposed_comm_total_ms = 0;
  double exposed_wait_ms = 0;
  bool whole_run = false;
  std::int64_t comm_kernels = 0, nccl_ops = 0, peer_copies = 0;
  BucketTimes buckets;                   // means per step
  std::vector<StepBuckets> step_buckets;  // per step (or per detected period)
  double long_gaps_per_step = 0, short_gaps_per_step = 0;
  bool api_calls_recorded = false;
  std::optional<DetectedPeriodMetrics> detected_period;
};

// metrics.per_step[]: one step of one rank (comm_overlap). Warm-up rows carry warmup
// and no exposed_wait_ms; they are listed for plots and left out of every sum.
struct StepMetrics {
  int rank = -1;
  std::int64_t step = 0, start_ns = 0, end_ns = 0;
  double step_time_ms = 0, compute_ms = 0, comm_ms = 0, exposed_comm_ms = 0, overlap_pct = 0, comm_ratio = 0,
         idle_ms = 0;
  double exposed_wait_ms = 0;
  bool warmup = false;
};

// metrics.experts.hot[] / cold[]: the top / bottom experts of a layer by smoothed load.
struct ExpertMark {
  int layer = 0, expert = 0;
  double tokens_per_step = 0, share_pct = 0;
  std::vector<int> ranks;  // ranks holding the expert today
};
struct ExpertMarks {
  std::vector<ExpertMark> hot, cold;
};

// The link a collective crosses and what NCCL can reach on it (link_rates.h).
struct LinkCeiling {
  double achievable_gbps = 0;  // raw x achievable fraction (the ceiling the analyses judge with)
  double raw_gbps = 0;
  double fraction = 0;
  std::string link, fabric;
};

// metrics.collectives[]: bus bandwidth per (func, algo, proto, size), median over instances.
struct CollectiveMetrics {
  std::string func, algo, proto;
  std::int64_t bytes = 0;
  std::size_t count = 0;
  double busbw_gbps = 0, busbw_max_gbps = 0;
  int nranks = 0, ranks_seen = 0;
  std::optional<LinkCeiling> ceiling;
  std::optional<double> nccl_tests_baseline_busbw_gbps;
};

nlohmann::json to_json(const BucketTimes& b);
// The inverse of to_json for the per-rank and per-step rows (the sharded analysis' summaries
// carry them, summary.h); throws nlohmann::json::exception on a malformed row.
BucketTimes bucket_times_from_json(const nlohmann::json& j);
RankMetrics rank_metrics_from_json(const nlohmann::json& j);
StepMetrics step_metrics_from_json(const nlohmann::json& j);
nlohmann::json to_json(const RankMetrics& m);
nlohmann::json to_json(const StepMetrics& m);
nlohmann::json to_json(const ExpertMark& m);
nlohmann::json to_json(const CollectiveMetrics& m);
template <class T>
nlohmann::json to_json_array(const std::vector<T>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& x : v) a.push_back(to_json(x));
  return a;
}

}  // namespace moetune::analyzers
