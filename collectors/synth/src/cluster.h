// SPDX-License-Identifier: Apache-2.0
// Cluster: the synthetic machine a run is generated on: one RankInfo per rank and the
// link (code + one-direction bandwidth) of every rank pair, built from a topology spec.
// Immutable after build_cluster(); O(ranks^2) memory.
#pragma once
#include <string>
#include <vector>

#include "moetune/synth/synth.h"
#include "moetune/trace/writer.h"

namespace moetune::synth {

struct RankInfo {
  std::string host, gpu, kind, compute_cap;
  int device = 0, sm_count = 0, pcie_gen = 0, pcie_width = 0, group = 0;
  std::int64_t memory_bytes = 0, pid = 0;
};

struct Cluster {
  std::vector<RankInfo> ranks;
  std::vector<std::vector<std::string>> link;  // [a][b] link code, "X" on the diagonal
  std::vector<std::vector<double>> bw;         // [a][b] GB/s one direction, 0 on the diagonal
  double ceiling = 0;                          // lowest raw pair bandwidth (all-rank communicator)
  // NCCL's achievable share of raw on the link that sets the ceiling (moetune/trace/link_rates.h):
  // a clean run's collectives reach healthy_eff x ceiling bus bandwidth.
  double healthy_eff = 0;
  bool all_nvlink = true;
  int slowest_rank = 0;                        // lowest mean bandwidth to the others, ties -> highest
  int size() const { return static_cast<int>(ranks.size()); }
};

Cluster build_cluster(const std::vector<TopologyGroup>& groups, std::uint64_t seed);
void write_cluster(const Cluster& c, TraceWriter& w);

}  // namespace moetune::synth
