// SPDX-License-Identifier: Apache-2.0
// Internal to moetune_analyzers: collective instances aligned across ranks.
// An instance is one call of one collective (or one point-to-point transfer) on one
// communicator, seen by several ranks. Two ways to align:
//  - by id: nccl_ops with a communicator and a sequence number -> key (comm_hash, seq),
//    trusted as recorded (NCCL profiler plugin, nsys NCCL ranges);
//  - by launch order, checked (collective_align.cpp): ops without a sequence number and,
//    for runs without nccl_ops, NCCL kernels decoded by name. Per communicator (or per
//    NCCL stream when the communicator is unknown) and function family, the n-th call of
//    every rank is matched to the n-th call of the others only if it is consistent: same
//    function, same element count where both are known, and the calls overlap in time
//    (a collective's calls all run at once: from each rank's arrival to the common end).
//    A call that overlaps no call of another rank is refused (not aligned); the matching
//    re-synchronises after a call that is missing on one rank. Point-to-point calls with a
//    known peer pair sender and receiver by (direction, order); a small send may finish
//    before its receive starts (NCCL copies it into the peer's buffer), so such a pair
//    only has to be causal: the receive ends after the send starts.
// Cost: O(ops log ops).
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
  std::string comm;   // communicator label ("" unknown; "stream N" when aligned per stream)
  std::string func;   // "AllReduce", "AllToAll", "SendRecv", ...
  std::string algo;   // "Ring", "Tree", ... ("" unknown)
  std::int64_t order = 0;  // seq, or n-th aligned call of func on comm
  bool first = false;      // first instance of (comm, func)
  bool by_id = false;      // aligned by (comm, seq); else by checked launch order
  std::vector<Member> members;  // one per rank, ordered by rank
  // Derived: transfer = min duration; wait(m) = dur(m) - transfer, at the front of the
  // member's interval: [m.start_ns, m.start_ns + wait(m)).
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

// How the instances were aligned (for metrics and notes).
struct AlignStats {
  std::string source;            // "nccl_ops" or "kernel names"
  std::int64_t by_id = 0;        // instances aligned by (comm, seq)
  std::int64_t by_order = 0;     // instances aligned by checked launch order
  std::int64_t refused = 0;      // calls (one rank's op or kernel) that matched no other rank
  std::int64_t refused_size = 0; // of those: time-overlapping but element counts differ
  std::int64_t groups = 0;       // (communicator or stream, function) sequences aligned by order
  std::int64_t ranks = 0;        // ranks with NCCL calls
  std::int64_t id_without_overlap = 0;  // by-id collectives whose members share no instant
                                        // (clocks of different hosts apart, or an id that is
                                        // itself a launch count that slipped); kept as recorded
};

// Instances seen by at least two ranks, in time order of their first arrival.
// `source` is set to "nccl_ops" or "kernel names".
std::vector<CollInstance> collective_instances(const RunData& run, std::string* source = nullptr,
                                               AlignStats* stats = nullptr);

// One rank's call that takes part in alignment by order.
struct AlignCall {
  int rank = -1;
  std::int64_t start_ns = 0, end_ns = 0;
  std::int64_t count = 0;  // elements (0 unknown)
  std::string func, algo;
  int dir = 0;  // point-to-point with a known peer: +1 send, -1 receive; 0 otherwise
};

// Checked launch-order alignment of one sequence group: `per_rank[i]` holds one rank's
// calls sorted by start. Returns groups of call pointers (one per rank, >= 2 ranks);
// adds unmatched calls to stats.refused. `check_count` compares element counts.
std::vector<std::vector<const AlignCall*>> align_by_order(const std::vector<std::vector<AlignCall>>& per_rank,
                                                          bool check_count, AlignStats& stats);

}  // namespace moetune::analyzers::detail
