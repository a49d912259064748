// SPDX-License-Identifier: Apache-2.0
#include "routing.h"

#include <algorithm>
#include <cmath>

namespace moetune::synth {

RoutingModel make_routing(int ranks, int experts, bool zipf, int slow_rank) {
  RoutingModel m;
  m.home.resize(experts);
  m.weight.resize(experts);
  double total = 0;
  for (int e = 0; e < experts; ++e) total += m.weight[e] = zipf ? 1.0 / std::pow(e + 1.0, 1.2) : 1.0;
  for (auto& w : m.weight) w /= total;
  if (!zipf || ranks == 1) {
    for (int e = 0; e < experts; ++e) m.home[e] = static_cast<int>(static_cast<std::int64_t>(e) * ranks / experts);
    return m;
  }
  std::vector<int> others;
  for (int r = 0; r < ranks; ++r)
    if (r != slow_rank) others.push_back(r);
  for (int e = 0; e < experts; ++e)
    m.home[e] = e < 3 ? slow_rank : others[static_cast<std::size_t>(e - 3) % others.size()];
  return m;
}

std::vector<std::vector<std::int64_t>> route(const RoutingModel& m, int ranks, std::int64_t assignments, Rng& rng) {
  const int experts = static_cast<int>(m.weight.size());
  std::vector<std::vector<std::int64_t>> t(ranks, std::vector<std::int64_t>(experts));
  for (int r = 0; r < ranks; ++r) {
    std::int64_t sum = 0;
    for (int e = 0; e < experts; ++e) sum += t[r][e] = rng.jitter(m.weight[e] * static_cast<double>(assignments), 0.05);
    // spread the jitter remainder over all experts in proportion, so each row sums exactly
    std::int64_t left = assignments - sum;
    for (int e = 0; e < experts && left != 0; ++e) {
      std::int64_t d = static_cast<std::int64_t>(std::llround(static_cast<double>(assignments - sum) * m.weight[e]));
      if ((left > 0 && d > left) || (left < 0 && d < left)) d = left;
      d = std::max(d, -t[r][e]);
      t[r][e] += d;
      left -= d;
    }
    for (int e = r % experts; left != 0; e = (e + 1) % experts) {  // what rounding left over
      std::int64_t d = left > 0 ? 1 : (t[r][e] > 0 ? -1 : 0);
      t[r][e] += d;
      left -= d;
    }
  }
  return t;
}

}  // namespace moetune::synth
