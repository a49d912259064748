// SPDX-License-Identifier: Apache-2.0
// moe_hot_placement: writes a moetune-placement file (docs/PLACEMENT.md) that replicates the
// N experts the Zipf prior of `moe_nccl --skew S --seed X` makes hottest onto every rank,
// the rest staying on e % R. A hand-made plan for measuring the placement knob; the analyzer's
// planner derives its plan from measured traffic instead.
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>

#include <nlohmann/json.hpp>

#include "plan.h"

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: moe_hot_placement EXPERTS RANKS LAYERS SKEW SEED N_HOT OUT.json\n");
    return 2;
  }
  int E = 0, R = 0, L = 0, n = 0;
  double skew = 0;
  unsigned long long seed = 0;
  try {
    E = std::stoi(argv[1]), R = std::stoi(argv[2]), L = std::stoi(argv[3]);
    skew = std::stod(argv[4]), seed = std::stoull(argv[5]), n = std::stoi(argv[6]);
  } catch (...) {
    std::fprintf(stderr, "moe_hot_placement: arguments must be numbers\n");
    return 2;
  }
  if (E < 1 || R < 1 || L < 1 || n < 0 || n > E) {
    std::fprintf(stderr, "moe_hot_placement: need EXPERTS, RANKS, LAYERS >= 1 and 0 <= N_HOT <= EXPERTS\n");
    return 2;
  }
  nlohmann::json j{{"format", "moetune-placement"}, {"version", 1}, {"experts", E}, {"ranks", R}};
  auto& layers = j["layers"] = nlohmann::json::object();
  for (int l = 0; l < L; ++l) {
    auto bias = moe::zipf_bias(E, skew, seed, l);
    std::vector<int> order(E);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return bias[a] > bias[b]; });
    auto& lj = layers[std::to_string(l)] = nlohmann::json::object();
    for (int e = 0; e < E; ++e) {
      std::vector<int> ranks{e % R};
      if (std::find(order.begin(), order.begin() + n, e) != order.begin() + n)
        for (int r = 0; r < R; ++r)
          if (r != e % R) ranks.push_back(r);
      lj[std::to_string(e)] = ranks;
    }
  }
  FILE* f = std::fopen(argv[7], "w");
  if (!f) {
    std::fprintf(stderr, "%s: cannot write\n", argv[7]);
    return 2;
  }
  std::fprintf(f, "%s\n", j.dump().c_str());
  return std::fclose(f) == 0 ? 0 : 2;
}
