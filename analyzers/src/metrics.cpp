// SPDX-License-Identifier: Apache-2.0
// Serialisation of the typed metrics (metrics.h) into the analyze --json keys
// (docs/ANALYZE-JSON.md). Keys are added, never renamed. Each struct's plain fields are
// listed once (the *_fields visitors below) for to_json and *_from_json alike.
#include "moetune/analyzers/metrics.h"

#include "json_io.h"

namespace moetune::analyzers {
namespace {
using detail::JsonRead;
using detail::JsonWrite;

// In the order of kBucketKeys (report.h), which BucketTimes::at follows.
template <class B, class F>
void bucket_fields(B& b, F&& f) {
  f("compute_ms", b.compute_ms), f("comm_transfer_ms", b.comm_transfer_ms), f("comm_wait_ms", b.comm_wait_ms);
  f("memcpy_h2d_ms", b.memcpy_h2d_ms), f("memcpy_d2h_ms", b.memcpy_d2h_ms);
  f("memcpy_d2d_ms", b.memcpy_d2d_ms), f("memcpy_p2p_ms", b.memcpy_p2p_ms);
  f("host_gap_long_ms", b.host_gap_long_ms), f("host_gap_short_ms", b.host_gap_short_ms), f("idle_ms", b.idle_ms);
}

// What a per-rank row (means per step) and a per-step row both carry.
template <class M, class F>
void step_figures(M& m, F&& f) {
  f("step_time_ms", m.step_time_ms), f("compute_ms", m.compute_ms), f("comm_ms", m.comm_ms);
  f("exposed_comm_ms", m.exposed_comm_ms), f("overlap_pct", m.overlap_pct), f("comm_ratio", m.comm_ratio);
  f("idle_ms", m.idle_ms);
}

template <class M, class F>
void rank_fields(M& m, F&& f) {
  f("rank", m.rank), f("steps", m.steps);
  step_figures(m, f);
  f("overlap_ms", m.overlap_ms), f("total_ms", m.total_ms);
  f("compute_total_ms", m.compute_total_ms), f("comm_total_ms", m.comm_total_ms);
  f("exposed_comm_total_ms", m.exposed_comm_total_ms), f("exposed_wait_ms", m.exposed_wait_ms);
  f("whole_run", m.whole_run);
  f("comm_kernels", m.comm_kernels), f("nccl_ops", m.nccl_ops), f("peer_copies", m.peer_copies);
}

template <class M, class F>
void host_gap_fields(M& m, F&& f) {
  f("long_per_step", m.long_gaps_per_step), f("short_per_step", m.short_gaps_per_step);
  f("api_calls_recorded", m.api_calls_recorded);
}

template <class D, class F>
void period_fields(D& d, F&& f) {
  f("kernels_per_step", d.kernels_per_step), f("steps", d.steps), f("mean_step_ms", d.mean_step_ms);
  f("anchor_kernel", d.anchor_kernel), f("self_match", d.self_match);
}

template <class M, class F>
void step_fields(M& m, F&& f) {
  f("rank", m.rank), f("step", m.step), f("start_ns", m.start_ns), f("end_ns", m.end_ns);
  step_figures(m, f);
}

}  // namespace

double BucketTimes::at(int i) const {
  double v = 0;
  int n = 0;
  bucket_fields(*this, [&](const char*, double x) {
    if (n++ == i) v = x;
  });
  return v;
}

nlohmann::json to_json(const BucketTimes& b) {
  nlohmann::json j = nlohmann::json::object();
  bucket_fields(b, JsonWrite{j});
  return j;
}

nlohmann::json to_json(const RankMetrics& m) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : m.step_buckets) {
    auto row = to_json(s.buckets);
    row["step"] = s.step, row["start_ns"] = s.start_ns, row["end_ns"] = s.end_ns, row["step_time_ms"] = s.step_time_ms;
    steps.push_back(std::move(row));
  }
  nlohmann::json detected = nullptr;
  if (const auto& d = m.detected_period) period_fields(*d, JsonWrite{detected});
  nlohmann::json gaps = nlohmann::json::object();
  host_gap_fields(m, JsonWrite{gaps});
  nlohmann::json j = nlohmann::json::object();
  rank_fields(m, JsonWrite{j});
  j["buckets"] = to_json(m.buckets);
  j["step_buckets"] = std::move(steps);
  j["host_gaps"] = std::move(gaps);
  j["detected_period"] = std::move(detected);
  return j;
}

nlohmann::json to_json(const StepMetrics& m) {
  nlohmann::json j = nlohmann::json::object();
  step_fields(m, JsonWrite{j});
  if (m.warmup) j["warmup"] = true;
  else j["exposed_wait_ms"] = m.exposed_wait_ms;
  return j;
}

nlohmann::json to_json(const ExpertMark& m) {
  return {{"layer", m.layer},
          {"expert", m.expert},
          {"tokens_per_step", m.tokens_per_step},
          {"share_pct", m.share_pct},
          {"ranks", m.ranks}};
}

nlohmann::json to_json(const CollectiveMetrics& m) {
  nlohmann::json row{{"func", m.func},       {"algo", m.algo},   {"proto", m.proto},
                     {"bytes", m.bytes},     {"count", m.count}, {"busbw_gbps", m.busbw_gbps},
                     {"busbw_max_gbps", m.busbw_max_gbps},       {"nranks", m.nranks},
                     {"ranks_seen", m.ranks_seen}};
  if (m.ranks_seen < m.nranks)
    row["note"] = "not every rank is in the trace: the duration includes this rank's waiting, busbw is a lower bound";
  if (const auto& c = m.ceiling) {
    row["ceiling_gbps"] = c->achievable_gbps;  // what NCCL can reach: raw x achievable fraction
    row["link_raw_gbps"] = c->raw_gbps;
    row["achievable_fraction"] = c->fraction;
    row["link"] = c->link;
    row["fabric"] = c->fabric;
  }
  if (m.nccl_tests_baseline_busbw_gbps) row["nccl_tests_baseline_busbw_gbps"] = *m.nccl_tests_baseline_busbw_gbps;
  return row;
}

BucketTimes bucket_times_from_json(const nlohmann::json& j) {
  BucketTimes b;
  bucket_fields(b, JsonRead{j});
  return b;
}

RankMetrics rank_metrics_from_json(const nlohmann::json& j) {
  RankMetrics m;
  rank_fields(m, JsonRead{j});
  m.buckets = bucket_times_from_json(j.at("buckets"));
  for (const auto& r : j.at("step_buckets"))
    m.step_buckets.push_back({r.at("step"), r.at("start_ns"), r.at("end_ns"), r.at("step_time_ms"), bucket_times_from_json(r)});
  host_gap_fields(m, JsonRead{j.at("host_gaps")});
  if (const auto& d = j.at("detected_period"); !d.is_null()) period_fields(m.detected_period.emplace(), JsonRead{d});
  return m;
}

StepMetrics step_metrics_from_json(const nlohmann::json& j) {
  StepMetrics m;
  step_fields(m, JsonRead{j});
  m.warmup = j.value("warmup", false);
  if (!m.warmup) m.exposed_wait_ms = j.at("exposed_wait_ms");
  return m;
}

}  // namespace moetune::analyzers
