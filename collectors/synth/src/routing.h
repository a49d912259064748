// SPDX-License-Identifier: Apache-2.0
// Expert routing model: expert popularity (uniform or Zipf), primary placement, and
// the tokens each rank sends to each expert in one (step, layer).
#pragma once
#include <cstdint>
#include <vector>

#include "sim.h"

namespace moetune::synth {

struct RoutingModel {
  std::vector<int> home;        // expert -> rank holding its primary copy
  std::vector<double> weight;   // expert -> share of routed tokens (sums to 1)
};

// Balanced: uniform weights, contiguous placement (expert e on rank e*N/E).
// Zipf (s = 1.2): experts 0,1,2 hottest, all three on `slow_rank`, the rest round-robin on the others.
RoutingModel make_routing(int ranks, int experts, bool zipf, int slow_rank);

// tokens[r][e]: tokens rank r routes to expert e; each row sums to `assignments`
// (tokens x top-k); every count is weight x assignments x (1 +- 5 %).
std::vector<std::vector<std::int64_t>> route(const RoutingModel& m, int ranks, std::int64_t assignments, Rng& rng);

}  // namespace moetune::synth
