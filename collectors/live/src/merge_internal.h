// SPDX-License-Identifier: Apache-2.0
// Internal to merge.cpp: the clock-alignment steps that read parts and write stats.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "moetune/live/merge_clock.h"
#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"

namespace moetune::live {

// Appends the end time of every collective the part's ranks took part in: nccl_ops
// (not Send/Recv: a point-to-point op ends when its own transfer does) keyed by
// (comm_hash, seq), else by (communicator, func, n-th call on the rank); a part without
// nccl_ops gives its NCCL collective kernels keyed by (kernel name, n-th launch).
// Keys name the instance without the rank, so the same instance matches across parts.
void collect_ends(TraceReader& part, const std::function<int(std::int64_t)>& domain_of_rank,
                  std::vector<CollEnd>& ends);

// Stats (trace health) per clock domain and ranks.clock_offset_ns of its ranks.
void write_clock_stats(const std::vector<HostClock>& clocks, std::map<std::int64_t, RankRow>& rank_rows,
                       TraceWriter& out);

}  // namespace moetune::live
