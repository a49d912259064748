// SPDX-License-Identifier: Apache-2.0
// Internal to moetune_analyzers: collective instances aligned across ranks.
// An instance is one call of one collective on one communicator, seen by several
// ranks. Alignment key: (comm_hash, seq) where both are recorded; otherwise
// (communicator, func, n-th call of that func on that communicator on the rank).
// Runs without nccl_ops fall back to NCCL kernels decoded by name, aligned by
// (func, n-th call). Send/Recv without a sequence number are not aligned (a
// point-to-point call is not seen by every rank). Cost: O(ops log ops).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "moetune/analyzers/model.h"

namespace moetune::analyzers::detail {

struct Member {
  int rank = -1;
  std::int64_t start_ns = 0, end_ns = 0;
  std::int64_t dur() const { return end_ns - start_ns; }
};

struct CollInstance {
  std::string comm;   // communicator label ("" unknown)
  std::string func;   // "AllReduce", "AllToAll", ...
  std::string algo;   // "Ring", "Tree", ... ("" unknown)
  std::int64_t order = 0;  // seq, or n-th call of func on comm
  bool first = false;      // first instance of (comm, func)
  std::vector<Member> members;  // one per rank, ordered by rank
  // Derived: transfer = min duration; wait(r) = dur(r) - transfer.
  std::int64_t transfer_ns = 0;
  std::int64_t first_arrival = 0, last_arrival = 0;
  int late_rank = -1;  // rank with the latest start
  // First-call setup: for the first instance of (comm, func) whose transfer is >= 5x the
  // median transfer of the later ones (and >= 50 us more), the excess; else 0.
  std::int64_t setup_ns = 0;
  std::int64_t median_later_ns = 0;  // median transfer of the later instances (0 if < 2)
  std::int64_t wait(const Member& m) const { return m.dur() - transfer_ns; }
  std::int64_t total_wait() const;
};

// Instances seen by at least two ranks, in time order of their first arrival.
// `source` is set to "nccl_ops" or "kernel names".
std::vector<CollInstance> collective_instances(const RunData& run, std::string* source = nullptr);

}  // namespace moetune::analyzers::detail
