// SPDX-License-Identifier: Apache-2.0
// Sharded analysis (docs/MULTIHOST.md): map where a node's data lives, reduce anywhere.
//
//   map:    moetune analyze --map -o node3.summary node3.moetune --peers 'parts/*'
//           gathers the node's ranks (analyses' per-rank step, gather.h) and writes a
//           summary: a small moetune store with the node's small tables (ranks, steps,
//           nccl_ops, expert routing/placement, topology, bench, stats, meta; NCCL kernels
//           only for runs without nccl_ops) and the gathers as JSON in meta
//           "summary.gathers". No kernel, copy, API call or NVTX row is kept.
//   reduce: moetune analyze node*.summary
//           combines the small tables, rebuilds the cross-rank context (collective
//           instances, warm-up rule) and runs the same measure/judge as analyze(run):
//           identical findings and metrics to analyzing the merged run.
//
// Why --peers: a rank's gather needs, from the other ranks, only when they arrived at each
// collective (a wait lasts until the last rank arrives) and the job step time (warm-up rule);
// both come from the other ranks' small tables (nccl_ops, steps), which the map reads from
// their files. Without them a multi-node map would misplace every wait; the reduce refuses
// such summaries.
#pragma once
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "moetune/analyzers/model.h"

namespace moetune::analyzers {

inline constexpr const char* kSummaryVersionKey = "moetune.summary";
inline constexpr int kSummaryVersion = 1;

struct MapOptions {
  std::set<int> ranks;                          // gather only these (empty: every rank of the run)
  std::vector<std::filesystem::path> peers;     // run files of the other ranks (small tables read)
  bool force = false;                           // overwrite the output
};

struct MapReport {
  std::set<int> ranks;       // gathered
  std::set<int> job_ranks;   // gathered + seen in peers
  std::uintmax_t bytes = 0;  // summary file size
};

// Map: gathers `run`'s ranks (with the peers' small tables) into the summary file `out`.
Expected<MapReport> write_summary(RunData run, const MapOptions& mo, const AnalyzeOptions& opts,
                                  const std::filesystem::path& out);

// True when the file is a summary (meta moetune.summary); false for a run or unreadable file.
bool is_summary(const std::filesystem::path& path);

// Reduce: the analysis of the summaries' union of ranks. Errors (one line, naming the file):
// not a summary, unsupported version, overlapping ranks, summaries of different runs or step
// sets, a map without the other ranks' small tables, different gather options. `combined`
// receives the combined small tables (for the text report) when not null.
Expected<AnalysisResult> reduce_summaries(const std::vector<std::filesystem::path>& files, const AnalyzeOptions& opts,
                                          RunData* combined = nullptr);

}  // namespace moetune::analyzers
