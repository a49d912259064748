// SPDX-License-Identifier: Apache-2.0
// The run's links seen from ranks: which node each rank is on, the link code and the
// unidirectional bandwidth between two ranks, raw and achievable by NCCL (link_rates.h). Built once from the topology
// table (rank_a/rank_b when recorded, else "GPUd"/"host:GPUd" labels matched to
// ranks.device) with the PCIe gen x width of the ranks as a fallback ceiling for
// PCIe codes. NVLink pairs are marked switched when the host's GPUs form an NVSwitch
// fabric (link_rates.h, Fabric): then the NV# rate is each GPU's port, shared by all its
// peers, not a per-pair link. Used by the experts (traffic, planner) and bandwidth analyses.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "moetune/analyzers/model.h"
#include "moetune/trace/link_rates.h"

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
  // Raw unidirectional link rate GB/s between two ranks (topology bandwidth_gbps, else
  // PCIe gen x width for PCIe codes); empty when unknown.
  std::optional<double> bandwidth(int a, int b) const;
  // What NCCL can reach over that link: raw x the link kind's achievable fraction
  // (moetune/trace/link_rates.h); empty when the raw rate is unknown.
  std::optional<double> achievable(int a, int b) const;
  // How a and b share the link: Switch when both sit on one NVSwitch fabric.
  links::Fabric fabric(int a, int b) const;
  // Achievable rate from a to b while a sends to all the other ranks at once (all-to-all):
  // on a switch fabric a's port is split over its switched peers, a point-to-point link
  // is the pair's own. Empty when the raw rate is unknown.
  std::optional<double> peer_share(int a, int b) const;
  // The slowest known link (by achievable rate) among the given ranks, all pairs.
  struct Ceiling {
    double raw_gbps = 0, achievable_gbps = 0, fraction = 0;
    std::string link;         // its code ("NV18", "PHB", "NET", ...)
    std::string basis;        // where the fraction comes from (measured / assumed)
    links::Fabric fabric = links::Fabric::PointToPoint;  // switch: raw is the per-GPU port, shared by all peers
  };
  std::optional<Ceiling> slowest(const std::vector<int>& ranks) const;
  // Achievable rate of the slowest known link among the given ranks; empty if none known.
  std::optional<double> ceiling(const std::vector<int>& ranks) const;
  // Mean known peer_share from r to the other ranks (0 when nothing is known).
  double mean_bandwidth(int r) const;
  bool any_known() const { return known_ > 0; }

 private:
  int n_ = 0, known_ = 0;
  std::vector<int> node_;
  std::vector<std::string> code_;              // n*n
  std::vector<std::optional<double>> bw_;      // n*n
  std::vector<char> switched_;                 // n*n: 1 when the pair is on an NVSwitch fabric
  std::vector<int> switched_peers_;            // n: switched peers of each rank
};

// Number of ranks of a run: ranks rows, else the highest rank any row names + 1.
int rank_count(const RunData& run);

}  // namespace moetune::analyzers
