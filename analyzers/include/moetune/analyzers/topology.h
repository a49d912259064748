// SPDX-License-Identifier: Apache-2.0
// The run's links seen from ranks: which node each rank is on, the link code and the
// unidirectional bandwidth ceiling between two ranks. Built once from the topology
// table (rank_a/rank_b when recorded, else "GPUd"/"host:GPUd" labels matched to
// ranks.device) with the PCIe gen x width of the ranks as a fallback ceiling for
// PCIe codes. Used by the experts (traffic, planner) and bandwidth analyses.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "moetune/analyzers/model.h"

namespace moetune::analyzers {

class RankLinks {
 public:
  static RankLinks build(const RunData& run);

  int ranks() const { return n_; }
  int node_of(int r) const;
  const std::vector<int>& nodes() const { return node_; }
  int node_count() const;
  // Link code between two ranks ("NV18", "PHB", "NET", ...; "" unknown).
  const std::string& link(int a, int b) const;
  // Unidirectional ceiling GB/s between two ranks; empty when unknown.
  std::optional<double> bandwidth(int a, int b) const;
  // Slowest known link among the given ranks (all pairs); empty if none known.
  std::optional<double> ceiling(const std::vector<int>& ranks) const;
  // Mean known bandwidth from r to the other ranks (0 when nothing is known).
  double mean_bandwidth(int r) const;
  bool any_known() const { return known_ > 0; }

 private:
  int n_ = 0, known_ = 0;
  std::vector<int> node_;
  std::vector<std::string> code_;              // n*n
  std::vector<std::optional<double>> bw_;      // n*n
};

// Number of ranks of a run: ranks rows, else the highest rank any row names + 1.
int rank_count(const RunData& run);

}  // namespace moetune::analyzers
