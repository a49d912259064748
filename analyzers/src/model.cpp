// SPDX-License-Identifier: Apache-2.0
#include "moetune/analyzers/model.h"

#include <algorithm>
#include <future>

namespace moetune::analyzers {

const char* to_string(FindingKind k) {
  switch (k) {
    case FindingKind::GlobalSync: return "global_sync";
    case FindingKind::ExposedComm: return "exposed_comm";
    case FindingKind::HotExperts: return "hot_experts";
    case FindingKind::ColdExpertTraffic: return "cold_expert_traffic";
    case FindingKind::ExpertImbalance: return "expert_imbalance";
    case FindingKind::CommPrecision: return "comm_precision";
    case FindingKind::LowBandwidth: return "low_bandwidth";
    case FindingKind::PcieTopology: return "pcie_topology";
    case FindingKind::Straggler: return "straggler";
    case FindingKind::HostSync: return "host_sync";
    case FindingKind::GpuIdle: return "gpu_idle";
    case FindingKind::MemcpyBound: return "memcpy_bound";
    case FindingKind::LaunchBound: return "launch_bound";
    case FindingKind::GradCompression: return "grad_compression";
  }
  return "unknown";
}

const char* to_string(FindingSeverity s) {
  switch (s) {
    case FindingSeverity::Low: return "low";
    case FindingSeverity::Medium: return "medium";
    case FindingSeverity::High: return "high";
    case FindingSeverity::Critical: return "critical";
  }
  return "low";
}

const std::string& RunData::str(StringId id) const {
  static const std::string empty;
  if (id.value < 0 || static_cast<std::size_t>(id.value) >= strings.size()) return empty;
  return strings[id.value];
}

namespace {

// api_calls in storage order, sorted in memory by (rank, start) only when needed:
// reading through the (rank, start_ns) index costs a row lookup per call (2.2 s vs
// 0.8 s for 5 M calls), and writers already store them in that order.
std::vector<ApiCallRow> load_api_calls(TraceReader& rd) {
  std::vector<ApiCallRow> out;
  out.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, rd.counts().get("api_calls"))));
  if (!rd.for_each_api_call_stored([&out](const ApiCallRow& a) { out.push_back(a); })) return rd.api_calls();
  // Bucket by rank (stable, O(n)), then sort a rank's calls by start only if needed.
  std::int64_t max_rank = -1;
  bool sorted = true;
  for (std::size_t i = 0; i < out.size(); ++i) {
    max_rank = std::max(max_rank, out[i].rank.value);
    if (i > 0 && (out[i].rank < out[i - 1].rank ||
                  (out[i].rank == out[i - 1].rank && out[i].start_ns < out[i - 1].start_ns)))
      sorted = false;
  }
  if (sorted || max_rank < 0) return out;
  auto by_rank_start = [](const ApiCallRow& a, const ApiCallRow& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.start_ns < b.start_ns;
  };
  if (max_rank > 4 * static_cast<std::int64_t>(out.size()) + 16) {  // sparse rank ids: no table sized by them
    std::stable_sort(out.begin(), out.end(), by_rank_start);
    return out;
  }
  std::vector<std::size_t> first(static_cast<std::size_t>(max_rank) + 2, 0);
  for (const auto& a : out) ++first[static_cast<std::size_t>(std::max<std::int64_t>(a.rank.value, 0)) + 1];
  for (std::size_t i = 1; i < first.size(); ++i) first[i] += first[i - 1];
  std::vector<ApiCallRow> byrank(out.size());
  auto pos = first;
  for (const auto& a : out) byrank[pos[static_cast<std::size_t>(std::max<std::int64_t>(a.rank.value, 0))]++] = a;
  auto by_start = [](const ApiCallRow& a, const ApiCallRow& b) { return a.start_ns < b.start_ns; };
  for (std::size_t r = 0; r + 1 < first.size(); ++r) {
    auto b = byrank.begin() + static_cast<std::ptrdiff_t>(first[r]), e = byrank.begin() + static_cast<std::ptrdiff_t>(first[r + 1]);
    if (!std::is_sorted(b, e, by_start)) std::stable_sort(b, e, by_start);
  }
  return byrank;
}

}  // namespace

// The two big tables (kernels, api_calls) load in parallel, each on its own
// connection (SQLite readers do not share a connection across threads).
Expected<RunData> RunData::load(const std::filesystem::path& path) {
  auto r = TraceReader::open(path);
  if (!r) return r.error();
  auto& rd = **r;
  RunData d;
  d.path = path;
  auto second = TraceReader::open(path, false);  // checked by the first open
  std::future<std::vector<ApiCallRow>> api;
  if (second) api = std::async(std::launch::async, [&second] { return load_api_calls(**second); });
  d.meta = rd.meta();
  d.ranks = rd.ranks();
  d.strings = rd.strings();
  // Reserve from the writer's stored counts: no reallocation of the biggest vector.
  d.kernels.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, rd.counts().get("kernels"))));
  rd.for_each_kernel([&d](const KernelRow& k) { d.kernels.push_back(k); });
  d.memcpys = rd.memcpys();
  d.memsets = rd.memsets();
  d.api_calls = second ? api.get() : load_api_calls(rd);
  d.nvtx = rd.nvtx();
  d.nccl_ops = rd.nccl_ops();
  d.steps = rd.steps();
  d.routing = rd.expert_routing();
  d.placement = rd.expert_placement();
  d.topology = rd.topology();
  d.bench = rd.bench_results();
  d.stats = rd.stats();
  return d;
}

nlohmann::json to_json(const Finding& f) {
  nlohmann::json j;
  j["id"] = f.id;
  j["kind"] = to_string(f.kind);
  j["severity"] = to_string(f.severity);
  j["title"] = f.title;
  j["ranks"] = f.ranks;
  auto& tr = j["time_ranges_ns"] = nlohmann::json::array();
  for (const auto& t : f.time_ranges) tr.push_back({t.start_ns, t.end_ns});
  j["evidence"] = f.evidence;
  auto& rec = j["recommendation"];
  rec["text"] = f.recommendation.text;
  rec["fixes"] = nlohmann::json::array();
  for (const auto& fx : f.recommendation.fixes) {
    nlohmann::json x = fx.body;
    x["type"] = fx.type;
    rec["fixes"].push_back(x);
  }
  j["estimated_gain_pct"] = f.estimated_gain_pct;
  j["gain_basis"] = f.gain_basis;
  return j;
}

nlohmann::json to_json(const AnalysisResult& r) {
  nlohmann::json j;
  j["format_version"] = 1;
  j["metrics"] = r.metrics;
  j["findings"] = nlohmann::json::array();
  for (const auto& f : r.findings) j["findings"].push_back(to_json(f));
  j["notes"] = r.notes;
  return j;
}

}  // namespace moetune::analyzers
