// SPDX-License-Identifier: Apache-2.0
// Serialisation of the typed metrics (metrics.h) into the analyze --json keys
// (docs/ANALYZE-JSON.md). Keys are added, never renamed.
#include "moetune/analyzers/metrics.h"

namespace moetune::analyzers {

double BucketTimes::at(int i) const {
  switch (i) {
    case 0: return compute_ms;
    case 1: return comm_transfer_ms;
    case 2: return comm_wait_ms;
    case 3: return memcpy_h2d_ms;
    case 4: return memcpy_d2h_ms;
    case 5: return memcpy_d2d_ms;
    case 6: return memcpy_p2p_ms;
    case 7: return host_gap_long_ms;
    case 8: return host_gap_short_ms;
    case 9: return idle_ms;
  }
  return 0;
}

nlohmann::json to_json(const BucketTimes& b) {
  return {{"compute_ms", b.compute_ms},         {"comm_transfer_ms", b.comm_transfer_ms},
          {"comm_wait_ms", b.comm_wait_ms},     {"memcpy_h2d_ms", b.memcpy_h2d_ms},
          {"memcpy_d2h_ms", b.memcpy_d2h_ms},   {"memcpy_d2d_ms", b.memcpy_d2d_ms},
          {"memcpy_p2p_ms", b.memcpy_p2p_ms},   {"host_gap_long_ms", b.host_gap_long_ms},
          {"host_gap_short_ms", b.host_gap_short_ms}, {"idle_ms", b.idle_ms}};
}

nlohmann::json to_json(const RankMetrics& m) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : m.step_buckets) {
    auto row = to_json(s.buckets);
    row["step"] = s.step, row["start_ns"] = s.start_ns, row["end_ns"] = s.end_ns, row["step_time_ms"] = s.step_time_ms;
    steps.push_back(std::move(row));
  }
  nlohmann::json detected = nullptr;
  if (const auto& d = m.detected_period)
    detected = {{"kernels_per_step", d->kernels_per_step},
                {"steps", d->steps},
                {"mean_step_ms", d->mean_step_ms},
                {"anchor_kernel", d->anchor_kernel},
                {"self_match", d->self_match}};
  return {{"rank", m.rank},
          {"steps", m.steps},
          {"step_time_ms", m.step_time_ms},
          {"compute_ms", m.compute_ms},
          {"comm_ms", m.comm_ms},
          {"exposed_comm_ms", m.exposed_comm_ms},
          {"overlap_pct", m.overlap_pct},
          {"comm_ratio", m.comm_ratio},
          {"idle_ms", m.idle_ms},
          {"overlap_ms", m.overlap_ms},
          {"total_ms", m.total_ms},
          {"compute_total_ms", m.compute_total_ms},
          {"comm_total_ms", m.comm_total_ms},
          {"exposed_comm_total_ms", m.exposed_comm_total_ms},
          {"exposed_wait_ms", m.exposed_wait_ms},
          {"whole_run", m.whole_run},
          {"comm_kernels", m.comm_kernels},
          {"nccl_ops", m.nccl_ops},
          {"peer_copies", m.peer_copies},
          {"buckets", to_json(m.buckets)},
          {"step_buckets", std::move(steps)},
          {"host_gaps", {{"long_per_step", m.long_gaps_per_step},
                         {"short_per_step", m.short_gaps_per_step},
                         {"api_calls_recorded", m.api_calls_recorded}}},
          {"detected_period", std::move(detected)}};
}

nlohmann::json to_json(const StepMetrics& m) {
  nlohmann::json j = {{"rank", m.rank},
                      {"step", m.step},
                      {"start_ns", m.start_ns},
                      {"end_ns", m.end_ns},
                      {"step_time_ms", m.step_time_ms},
                      {"compute_ms", m.compute_ms},
                      {"comm_ms", m.comm_ms},
                      {"exposed_comm_ms", m.exposed_comm_ms},
                      {"overlap_pct", m.overlap_pct},
                      {"comm_ratio", m.comm_ratio},
                      {"idle_ms", m.idle_ms}};
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
  b.compute_ms = j.at("compute_ms"), b.comm_transfer_ms = j.at("comm_transfer_ms"), b.comm_wait_ms = j.at("comm_wait_ms");
  b.memcpy_h2d_ms = j.at("memcpy_h2d_ms"), b.memcpy_d2h_ms = j.at("memcpy_d2h_ms");
  b.memcpy_d2d_ms = j.at("memcpy_d2d_ms"), b.memcpy_p2p_ms = j.at("memcpy_p2p_ms");
  b.host_gap_long_ms = j.at("host_gap_long_ms"), b.host_gap_short_ms = j.at("host_gap_short_ms"), b.idle_ms = j.at("idle_ms");
  return b;
}

RankMetrics rank_metrics_from_json(const nlohmann::json& j) {
  RankMetrics m;
  m.rank = j.at("rank"), m.steps = j.at("steps");
  m.step_time_ms = j.at("step_time_ms"), m.compute_ms = j.at("compute_ms"), m.comm_ms = j.at("comm_ms");
  m.exposed_comm_ms = j.at("exposed_comm_ms"), m.overlap_pct = j.at("overlap_pct"), m.comm_ratio = j.at("comm_ratio");
  m.idle_ms = j.at("idle_ms"), m.overlap_ms = j.at("overlap_ms"), m.total_ms = j.at("total_ms");
  m.compute_total_ms = j.at("compute_total_ms"), m.comm_total_ms = j.at("comm_total_ms");
  m.exposed_comm_total_ms = j.at("exposed_comm_total_ms"), m.exposed_wait_ms = j.at("exposed_wait_ms");
  m.whole_run = j.at("whole_run");
  m.comm_kernels = j.at("comm_kernels"), m.nccl_ops = j.at("nccl_ops"), m.peer_copies = j.at("peer_copies");
  m.buckets = bucket_times_from_json(j.at("buckets"));
  for (const auto& r : j.at("step_buckets"))
    m.step_buckets.push_back({r.at("step"), r.at("start_ns"), r.at("end_ns"), r.at("step_time_ms"), bucket_times_from_json(r)});
  const auto& g = j.at("host_gaps");
  m.long_gaps_per_step = g.at("long_per_step"), m.short_gaps_per_step = g.at("short_per_step");
  m.api_calls_recorded = g.at("api_calls_recorded");
  if (const auto& d = j.at("detected_period"); !d.is_null())
    m.detected_period = DetectedPeriodMetrics{d.at("kernels_per_step"), d.at("steps"), d.at("mean_step_ms"),
                                              d.at("anchor_kernel"), d.at("self_match")};
  return m;
}

StepMetrics step_metrics_from_json(const nlohmann::json& j) {
  StepMetrics m;
  m.rank = j.at("rank"), m.step = j.at("step"), m.start_ns = j.at("start_ns"), m.end_ns = j.at("end_ns");
  m.step_time_ms = j.at("step_time_ms"), m.compute_ms = j.at("compute_ms"), m.comm_ms = j.at("comm_ms");
  m.exposed_comm_ms = j.at("exposed_comm_ms"), m.overlap_pct = j.at("overlap_pct"), m.comm_ratio = j.at("comm_ratio");
  m.idle_ms = j.at("idle_ms");
  m.warmup = j.value("warmup", false);
  if (!m.warmup) m.exposed_wait_ms = j.at("exposed_wait_ms");
  return m;
}

}  // namespace moetune::analyzers
