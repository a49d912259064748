// SPDX-License-Identifier: Apache-2.0
// Internal to moetune_analyzers: time accounting of a rank's steps. Every ns of a window
// (step) lands in exactly one bucket; where GPU activities overlap, the first of this
// order wins (docs/ANALYZE-JSON.md):
//   compute > comm transfer > comm wait > memcpy H2D > D2H > P2P > D2D (memsets and
//   unknown-kind copies count as D2D) > host gaps (long, short) > idle.
// comm = communication kernels + nccl_ops (not copies); comm wait = the front part of a
// collective instance member, [start, start + wait + first-call setup) (collective_instances.h);
// the rest of comm is transfer. A gap (no GPU work) shorter than 1 ms is a
// short host gap (the GPU waits for the next launch); a gap >= 1 ms is a long host gap when
// the host is in CUDA API calls for >= half of it or starts calls at >= 1 per 100 us of it
// (launching, allocating, blocking copies), else idle (the host is elsewhere: Python, data
// loading, I/O, waiting outside CUDA). Ranks with no API calls recorded: long gaps are idle.
// Cost: O(N) interval passes per rank (the sets are disjoint and sorted), then
// O(log N + k) per window.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "collective_instances.h"
#include "moetune/analyzers/metrics.h"
#include "rank_activity.h"
#include "sat_math.h"

namespace moetune::analyzers::detail {

inline constexpr std::int64_t kLongGapNs = 1'000'000;

struct Buckets {
  std::int64_t step = 0, compute = 0, transfer = 0, wait = 0, h2d = 0, d2h = 0, d2d = 0, p2p = 0;
  std::int64_t gap_long = 0, gap_short = 0, idle = 0;
  std::int64_t long_gaps = 0, short_gaps = 0;  // how many gaps of each kind
  Buckets& operator+=(const Buckets& o);
  std::int64_t memcpy() const { return sat_add(sat_add(h2d, d2h), sat_add(d2d, p2p)); }
  std::int64_t sum() const {
    return sat_add(sat_add(sat_add(compute, transfer), sat_add(wait, memcpy())), sat_add(sat_add(gap_long, gap_short), idle));
  }
  // In ms (compute_ms ... idle_ms, metrics.h), each value / div.
  BucketTimes times(double div = 1) const;
};

// Disjoint bucket interval sets of one rank (compute is the activity's own set).
struct RankBuckets {
  Intervals transfer, wait, h2d, d2h, d2d, p2p;
  Intervals api;                          // union of the rank's host API calls
  std::vector<std::int64_t> api_starts;   // sorted
};

// Per rank: [start, start + wait) of each collective member (wait) and the rest of the
// member (transfer), from the aligned instances.
struct CommParts {
  std::map<int, Intervals> wait, transfer;
};
CommParts comm_parts(const std::vector<CollInstance>& instances);

// API calls grouped by rank (one pass; RunData keeps them sorted by rank, start).
std::map<int, std::pair<Intervals, std::vector<std::int64_t>>> api_by_rank(const RunData& run);

RankBuckets build_buckets(const RankActivity& a, Intervals wait, Intervals transfer, Intervals api,
                          std::vector<std::int64_t> api_starts);
Buckets measure_buckets(const RankActivity& a, const RankBuckets& b, std::int64_t s, std::int64_t e);

}  // namespace moetune::analyzers::detail
