// SPDX-License-Identifier: Apache-2.0
// The findings model shared by every analysis, the GUI and the reports.
// An analysis is a function (RunData in, findings + metrics out). Results are
// plain values (copyable, immutable once built) so the GUI can hand them across
// threads. JSON shape: docs/ANALYZE-JSON.md (add keys, never rename).
#pragma once
#include <cstdint>
#include <memory>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "moetune/analyzers/metrics.h"
#include "moetune/analyzers/options.h"
#include "moetune/trace/comm_vocab.h"
#include "moetune/trace/reader.h"

namespace moetune::analyzers {

enum class FindingKind {
  GlobalSync,
  ExposedComm,
  HotExperts,
  ColdExpertTraffic,
  ExpertImbalance,
  CommPrecision,
  LowBandwidth,
  PcieTopology,
  Straggler,
  HostSync,
  GpuIdle,
  MemcpyBound,     // host<->device / device copies dominate the step (time_buckets)
  LaunchBound,     // GPU busy < half the step, many short launch gaps
  GradCompression, // exposed fp32 gradient all-reduce on a slow link
};
const char* to_string(FindingKind k);  // "global_sync", "exposed_comm", ...

enum class FindingSeverity { Low, Medium, High, Critical };
const char* to_string(FindingSeverity s);  // "low", "medium", "high", "critical"

struct TimeRange {
  std::int64_t start_ns = 0, end_ns = 0;
};

// One machine-applicable fix. `type` is "env", "flag", "placement" or "code";
// the other keys depend on the type:
//   env:       {"name": "NCCL_ALGO", "value": "Ring", "scope": "AllReduce"}
//   flag:      {"name": "--comm-dtype", "value": "bf16"}
//   placement: {"file": "placement.json", "plan": {...}}
//   code:      {"description": "..."}
struct Fix {
  std::string type;
  nlohmann::json body = nlohmann::json::object();
};

struct Recommendation {
  std::string text;
  std::vector<Fix> fixes;
};

struct Finding {
  std::string id;  // stable within one analysis: "<kind>-<n>"
  FindingKind kind = FindingKind::GpuIdle;
  FindingSeverity severity = FindingSeverity::Low;
  std::string title;
  std::vector<int> ranks;
  std::vector<TimeRange> time_ranges;
  nlohmann::json evidence = nlohmann::json::object();
  Recommendation recommendation;
  double estimated_gain_pct = 0;
  std::string gain_basis;  // what the estimate assumes
};

// Everything an analysis may read, loaded once into memory (sorted by rank, start).
struct RunData {
  std::filesystem::path path;
  std::map<std::string, std::string> meta;
  std::vector<RankRow> ranks;
  std::vector<std::string> strings;
  std::vector<KernelRow> kernels;
  std::vector<MemcpyRow> memcpys;
  std::vector<MemsetRow> memsets;
  std::vector<ApiCallRow> api_calls;
  std::vector<NvtxRow> nvtx;
  std::vector<NcclOpRow> nccl_ops;
  std::vector<StepRow> steps;
  std::vector<ExpertRoutingRow> routing;
  std::vector<ExpertPlacementRow> placement;
  std::vector<TopologyRow> topology;
  std::vector<BenchResultRow> bench;
  std::vector<StatRow> stats;

  const std::string& str(StringId id) const;
  static Expected<RunData> load(const std::filesystem::path& path);
};


struct AnalysisResult {
  // The typed metrics the GUI and the reports read (metrics.h); each is also serialised
  // under its key of `metrics` by the analysis that fills it.
  std::vector<RankMetrics> per_rank;            // metrics.per_rank (comm_overlap)
  std::vector<StepMetrics> per_step;            // metrics.per_step (comm_overlap)
  ExpertMarks experts;                          // metrics.experts.hot / cold (experts)
  std::vector<CollectiveMetrics> collectives;   // metrics.collectives (bandwidth)
  // The analyze --json metrics: the serialised typed metrics above plus the analyses'
  // other keys ("link_model", "comm_vocabulary", "ranking", "experts" details, ...).
  nlohmann::json metrics = nlohmann::json::object();
  std::vector<Finding> findings;
  std::vector<std::string> notes;  // "not enough data: ..." and similar, one line each
};

nlohmann::json to_json(const Finding& f);
nlohmann::json to_json(const AnalysisResult& r);  // the analyze --json document

// Runs every analysis in order and numbers the findings.
AnalysisResult analyze(const RunData& run, const AnalyzeOptions& opts = {});

}  // namespace moetune::analyzers
