// SPDX-License-Identifier: Apache-2.0
// Internal to moetune_analyzers: the per-rank GATHER step shared by every analysis.
//
// analyze(run) = gather (per rank, from that rank's events) -> measure (across ranks) ->
// judge (thresholds -> findings). Each analysis file holds its own gather (the part that
// reads event tables: kernels, copies, memsets, API calls, NVTX) and its measure/judge (the
// part that reads only RankGather values and the run's small tables: steps, nccl_ops,
// routing, placement, topology, bench, meta). The sharded analysis (summary.h) runs the
// gather where a node's parts live, stores the RankGathers, and runs the same measure/judge
// on the gathers of all nodes: one code path, so the two give the same output.
//
// What a rank's gather needs from the other ranks is only in the small tables: the
// collective instances (aligned from nccl_ops, or from NCCL kernels when a run has none:
// a wait is "until the last rank arrives") and the warm-up rule (the job step time is the
// max over ranks). GatherContext holds both; it is rebuilt from the small tables, never
// stored. Size of a RankGather: O(steps + collectives the rank arrives last at + distinct
// names of API / comm-like kernels), never O(kernels).
#pragma once
#include "moetune/analyzers/metrics.h"
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "collective_instances.h"
#include "late_cause.h"
#include "moetune/analyzers/model.h"
#include "moetune/analyzers/steps.h"
#include "rank_activity.h"
#include "time_buckets.h"

namespace moetune::analyzers::detail {

struct GatherContext {
  std::vector<CollInstance> instances;  // collective_instances(run)
  std::string source;
  AlignStats stats;
  SteadySteps steady;
  static GatherContext build(const RunData& run);
};

struct CopyStats {  // memcpy_bound: one copy kind on one rank
  std::int64_t bytes = 0, dur = 0, n = 0, small = 0;
};

struct RankGather {
  int rank = -1;
  std::int64_t kernels = 0, memcpys = 0;  // rows of the rank in the run
  bool api_calls = false;                 // any CUDA API call recorded for the rank

  // comm_overlap (comm_overlap.cpp): the rank's metrics rows and the sums the finding uses.
  bool has_windows = false;  // the rank has steady windows (or its whole run)
  bool whole_run = false, detected = false, no_api = false, any_comm = false;
  RankMetrics per_rank_row;                  // metrics.per_rank[] (metrics.h)
  std::vector<StepMetrics> per_step_rows;    // metrics.per_step[] of the rank
  std::int64_t step = 0, comm = 0, exposed = 0, wait = 0, hideable = 0;
  struct Worst {
    std::int64_t ns = 0, step = 0, s = 0, e = 0;
  };
  std::vector<Worst> worst;                          // exposed transfer per window
  std::map<std::string, std::int64_t> exposed_by_op; // exposed comm per nccl func / kernel family

  // stragglers (stragglers.cpp)
  std::int64_t window_ns = 0, compute_ns = 0, nwindows = 0;
  std::int64_t sync_idle = 0, sync_gaps = 0;
  std::map<std::string, std::pair<int, std::int64_t>> sync_by_api;  // name -> (calls, idle ns)
  std::vector<TimeRange> sync_worst;                                // up to 5, longest first
  std::int64_t idle_ns = 0, idle_gaps = 0;
  std::vector<TimeRange> idle_worst;        // up to 5, longest first
  nlohmann::json idle_worst_ev = nlohmann::json::array();

  // global_sync (global_sync.cpp): traced span and what the rank did before arriving last.
  bool has_busy = false;
  std::int64_t busy_first = 0, busy_last = 0;
  std::map<std::int64_t, LateActivity> late;  // index in GatherContext::instances -> cause

  // experts (experts.cpp): compute kernel time (is_comm_kernel rule) and NVTX MoE phases.
  double expert_compute_ns = 0, moe_phase_ns = 0;
  // precision (precision.cpp): first..last kernel or copy of the rank.
  std::optional<std::pair<std::int64_t, std::int64_t>> km_span;
  // bucket_findings.cpp: copies by kind; exposed fp32 all-reduce over the steady windows.
  std::map<std::string, CopyStats> copies;
  bool grad_has = false;
  std::int64_t grad_exposed = 0, grad_step = 0;
  // analyze.cpp comm_vocabulary: comm-looking names no rule classifies -> (ns, kernels).
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> unclassified;
};

// The gathers of a run (or of the summaries of a sharded run) plus the context.
struct Gathered {
  GatherContext ctx;
  std::map<int, RankGather> ranks;
  bool any_kernels = false, any_memcpys = false, any_api_calls = false;
  void add(RankGather g);  // keeps the any_* flags
  static Gathered of(const RunData& run, const AnalyzeOptions& opts, const std::set<int>* only = nullptr);
};

// Per-analysis gathers (in their analysis' file), called by Gathered::of for each rank.
struct GatherInputs {
  const GatherContext& ctx;
  const CommClassifier& cls;
  const RankActivity& a;
  const CommParts& parts;  // wait / transfer parts of the rank's collectives
  const Intervals& wait_iv;  // [start, start + wait + setup) of the rank's members, normalised
  const std::pair<Intervals, std::vector<std::int64_t>>& api;  // the rank's API calls (time_buckets.h)
  const std::vector<const NcclOpRow*>& ops;  // the rank's nccl_ops, in run order
  std::span<const KernelRow> kernels;        // the rank's kernels (RunData keeps them sorted by rank)
  const std::vector<const ApiCallRow*>& syncs;  // the rank's blocking sync API calls, in run order
  std::span<const ApiCallRow> api_rows;      // the rank's API calls when api_sorted
  bool api_sorted;                           // run.api_calls sorted by (rank, start)
  const LateCauses& late;
  const std::vector<const NvtxRow*>& nvtx;      // the rank's NVTX ranges, in run order
  const std::vector<const MemcpyRow*>& memcpys;  // the rank's copies, in run order
};
void gather_comm_overlap(const RunData& run, const GatherInputs& in, RankGather& g);
void gather_stragglers(const RunData& run, const GatherInputs& in, const AnalyzeOptions& opts, RankGather& g);
void gather_late_causes(const RunData& run, const GatherInputs& in, const AnalyzeOptions& opts, RankGather& g);
void gather_experts(const RunData& run, const GatherInputs& in, RankGather& g);
void gather_precision(const RunData& run, const GatherInputs& in, RankGather& g);
void gather_copies_and_grad(const RunData& run, const GatherInputs& in, const AnalyzeOptions& opts, RankGather& g);

// Global-sync's rule for an instance that makes most ranks wait (shared by gather and judge).
bool is_sync_instance(const CollInstance& in, std::int64_t min_wait_ns);
// grad_compression's all-reduces (>= min_bytes of 32/64-bit floats) of one rank.
Intervals fp32_allreduce_intervals(const std::vector<const NcclOpRow*>& ops, std::int64_t min_bytes);

nlohmann::json to_json(const RankGather& g);
RankGather rank_gather_from_json(const nlohmann::json& j);  // throws nlohmann::json::exception

// The judge steps (one per analysis file): read only gathers + the small tables.
void judge_comm_overlap(const RunData& run, const Gathered& g, const AnalyzeOptions& opts, AnalysisResult& out);
void judge_stragglers(const RunData& run, const Gathered& g, const AnalyzeOptions& opts, AnalysisResult& out);
void judge_global_sync(const RunData& run, const Gathered& g, const AnalyzeOptions& opts, AnalysisResult& out);
void judge_experts(const RunData& run, const Gathered& g, const AnalyzeOptions& opts, AnalysisResult& out);
void judge_precision(const RunData& run, const Gathered& g, const AnalyzeOptions& opts, AnalysisResult& out);
void judge_time_buckets(const RunData& run, const Gathered& g, const AnalyzeOptions& opts, AnalysisResult& out);
// measure + judge of every analysis, in analyze()'s order, and the finding ids.
AnalysisResult judge_all(const RunData& run, const Gathered& g, const AnalyzeOptions& opts);

}  // namespace moetune::analyzers::detail
