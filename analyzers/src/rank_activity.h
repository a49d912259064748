// SPDX-License-Identifier: Apache-2.0
// Internal to moetune_analyzers: per-rank GPU activity folded into sorted, disjoint
// interval sets (plain interval arithmetic). Built once per analysis in O(N log N)
// worst case (O(N) when rows arrive sorted by start, as RunData's are), then windows
// (steps) are measured by binary search, so cost per window is O(log N + k).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "moetune/analyzers/comm_rules.h"
#include "moetune/analyzers/model.h"

namespace moetune::analyzers::detail {

struct Interval {
  std::int64_t s = 0, e = 0;
};
using Intervals = std::vector<Interval>;  // sorted by s, disjoint, each e > s

// Sorts (if needed) and merges overlapping/touching intervals in place.
void normalize(Intervals& v);
// Union of two normalised sets.
Intervals unite(const Intervals& a, const Intervals& b);
// Intersection of two normalised sets.
Intervals intersect(const Intervals& a, const Intervals& b);
// a minus b (parts of a not covered by b); both normalised.
Intervals subtract(const Intervals& a, const Intervals& b);
// Total length of v inside [t0, t1).
std::int64_t measure(const Intervals& v, std::int64_t t0, std::int64_t t1);
// Gaps of v inside [t0, t1) that are at least min_len long.
Intervals gaps(const Intervals& v, std::int64_t t0, std::int64_t t1, std::int64_t min_len);

struct Window {
  std::int64_t step = -1;  // application step number, -1 for "whole run"
  std::int64_t s = 0, e = 0;
};

// GPU activity of one rank.
struct RankActivity {
  int rank = -1;
  Intervals compute;   // non-communication kernels, all streams
  Intervals comm;      // communication kernels + nccl_ops + peer memcpys
  Intervals overlap;   // compute ∩ comm
  Intervals busy;      // any GPU work: kernels, memcpys, memsets, nccl_ops
  // For the time buckets (time_buckets.h): communication without copies (comm kernels +
  // nccl_ops), and copies by kind. Peer copies (is_comm_memcpy) are `p2p`; unknown-kind
  // copies and memsets are device-memory writes and go with `d2d`.
  Intervals comm_core, h2d, d2h, d2d, p2p;
  std::int64_t h2d_bytes = 0, d2h_bytes = 0, d2d_bytes = 0, p2p_bytes = 0;
  std::int64_t h2d_dur = 0, d2h_dur = 0, d2d_dur = 0, p2p_dur = 0;  // summed copy durations (overlaps counted twice)
  std::vector<Window> windows;  // steady steps of this rank (steps.h), or one window = first..last GPU work
  std::vector<Window> warmup_windows;  // the rank's warm-up steps (left out of `windows`)
  bool whole_run = false;       // true when the rank has no steps
  std::int64_t kernels = 0, comm_kernels = 0, nccl_ops = 0, peer_copies = 0;
};

// One entry per rank that has GPU work or steps, ordered by rank. Warm-up steps
// (steady_steps(run), steps.h) go to warmup_windows unless they are all the rank has.
std::vector<RankActivity> build_rank_activity(const RunData& run, const CommClassifier& cls);

// Numbers of one window (step) of one rank, all in ns.
struct WindowStats {
  std::int64_t step_ns = 0, compute_ns = 0, comm_ns = 0, overlap_ns = 0, exposed_ns = 0, idle_ns = 0;
};
WindowStats window_stats(const RankActivity& a, const Window& w);

double ms(std::int64_t ns);

}  // namespace moetune::analyzers::detail
