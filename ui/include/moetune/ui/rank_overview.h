// SPDX-License-Identifier: Apache-2.0
// The ranks x time overview of runs with many ranks (TimelineView's node mode).
//
// RankNodes groups the ranks by node: by the ranks table's host; a host holding more
// than kMaxNodeRanks ranks (a synthetic run puts 512 GPUs on one "host", a real node has
// 4-16) is cut into nodes of kSplitRanks consecutive ranks, labelled "host/k". Ranks
// without a ranks row (or without a host) form the node "?".
//
// RankHeat is what the overview colours, per rank and time:
//  * once the analysis is there, the comm wait share of each step, from
//    metrics.per_rank[].step_buckets (comm_wait_ms / step_time_ms over the step's
//    [start_ns, end_ns)): one cell per rank and step;
//  * before it (first paint, preview), the share of a time bin covered by the rank's
//    communication kernels (comm lane; the NCCL ops lane where a rank has no comm
//    kernels), from the timeline's events: a merged interval list with prefix sums, so
//    the share of any [t0, t1) costs two binary searches.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "moetune/ui/timeline_data.h"

class QColor;

namespace moetune::analyzers {
struct RunData;
}

namespace moetune::ui {

// Runs with more ranks than this get the node overview; fewer keep the plain lanes.
constexpr int kNodeModeMinRanks = 17;

struct NodeGroup {
  std::string label;       // "node1/3 · ranks 536-543"
  std::string host;
  std::vector<int> ranks;  // ascending
};

struct RankNodes {
  static constexpr int kMaxNodeRanks = 16;
  static constexpr int kSplitRanks = 8;
  std::vector<NodeGroup> nodes;
  std::map<int, int> node_of;  // rank -> index into nodes

  // Ranks from the ranks table and from the timeline's lane groups.
  static RankNodes build(const analyzers::RunData& run, const TimelineData& tl);
  int node_of_rank(int rank) const;  // -1 when unknown
  int rank_count() const { return int(node_of.size()); }
};

struct StepCell {
  std::int64_t t0 = 0, t1 = 0, step = 0;
  double wait_ms = 0, step_ms = 0;
  double share() const { return step_ms > 0 ? wait_ms / step_ms : 0; }
};

class RankHeat {
 public:
  // The comm busy intervals of every rank of `tl` (the pre-analysis source).
  static RankHeat from_timeline(const TimelineData& tl, std::int64_t data_t0, std::int64_t data_t1);
  // Switches to the analysis' per-step comm wait when `metrics` has step_buckets;
  // returns whether it did (metrics without them keep the timeline source).
  bool set_metrics(const nlohmann::json& metrics);

  bool from_analysis() const { return from_analysis_; }
  // The largest share shown (the colour scale's top; at least 1 %).
  double scale_max() const { return scale_max_; }
  // Step cells of a rank (analysis source), empty when none.
  const std::vector<StepCell>& steps_of(int rank) const;
  // Share of [t0, t1) (clipped to the loaded events' span) the rank's comm kernels
  // cover (timeline source); -1 where the loaded events do not reach into [t0, t1) (a
  // preview window) or the rank has none.
  double busy_share(int rank, std::int64_t t0, std::int64_t t1) const;

 private:
  struct Busy {
    std::vector<std::int64_t> start, end, prefix;  // merged, sorted; prefix[i] = sum of lengths before i
  };
  std::map<int, Busy> busy_;
  std::map<int, std::vector<StepCell>> steps_;
  std::int64_t data_t0_ = 0, data_t1_ = 0;
  bool from_analysis_ = false;
  double scale_max_ = 0.01;
};

// The overview's colour for a share v in [0, 1] of the scale: pale blue (none) through
// orange to dark red (the scale's top), readable on light and dark themes.
QColor heat_color(double v);

}  // namespace moetune::ui
