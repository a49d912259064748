// SPDX-License-Identifier: Apache-2.0
#include "moetune/analyzers/model.h"

#include <algorithm>

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

// RunData::load: run_load.cpp.

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
