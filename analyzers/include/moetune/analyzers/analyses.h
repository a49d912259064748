// SPDX-License-Identifier: Apache-2.0
// The individual analyses, one file each in src/. Each fills its typed metrics
// (metrics.h) and writes them, with its other metrics, under its own key of
// result.metrics; appends its findings to result.findings, judged with the thresholds of
// AnalyzeOptions (options.h), and a "not enough data: ..." note when the run lacks what it needs.
//
// Each analysis is split into a per-rank GATHER (the only code that reads event tables:
// kernels, copies, memsets, API calls, NVTX), and a MEASURE/JUDGE step that reads the
// gathers and the run's small tables (src/gather.h). analyze() gathers every rank once and
// judges; the functions below gather and judge one analysis (tests, single use; defined
// together in analyze.cpp, the files named below hold the gather and judge). The
// sharded analysis (summary.h) runs the same judge on gathers written by several nodes.
#pragma once
#include "moetune/analyzers/model.h"

namespace moetune::analyzers {

// comm_overlap.cpp: per rank and step: compute, comm, exposed comm, overlap %, idle, time
// buckets -> per_rank, per_step; finding exposed_comm.
void analyze_comm_overlap(const RunData& run, const AnalyzeOptions& opts, AnalysisResult& out);
// bucket_findings.cpp: from the time buckets (per_rank[].buckets, filled by
// analyze_comm_overlap, which must run first) and the copies / all-reduces of the run
// -> memcpy_bound, launch_bound, grad_compression.
void analyze_time_buckets(const RunData& run, const AnalyzeOptions& opts, AnalysisResult& out);
// Orders findings so the top one addresses the largest non-compute bucket (analyze.cpp);
// adds metrics.ranking and a note when no finding can address it.
void rank_by_accounting(AnalysisResult& out, const AnalyzeOptions& opts);
// global_sync.cpp: collective instances aligned across ranks -> finding global_sync.
void analyze_global_sync(const RunData& run, const AnalyzeOptions& opts, AnalysisResult& out);
// stragglers.cpp: compute skew, host syncs, GPU idle gaps -> straggler, host_sync, gpu_idle.
void analyze_stragglers(const RunData& run, const AnalyzeOptions& opts, AnalysisResult& out);
// experts.cpp: expert load, hot/cold (-> experts), balancedness, traffic, placement plan
// -> metrics.experts; hot_experts, cold_expert_traffic, expert_imbalance.
void analyze_experts(const RunData& run, const AnalyzeOptions& opts, AnalysisResult& out);
// precision.cpp: 32-bit dispatch/combine payloads -> comm_precision.
void analyze_precision(const RunData& run, const AnalyzeOptions& opts, AnalysisResult& out);
// bandwidth.cpp: bus bandwidth per collective vs link ceiling, topology
// -> collectives; low_bandwidth, pcie_topology.
void analyze_bandwidth(const RunData& run, const AnalyzeOptions& opts, AnalysisResult& out);

}  // namespace moetune::analyzers
