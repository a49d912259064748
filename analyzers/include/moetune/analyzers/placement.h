// SPDX-License-Identifier: Apache-2.0
// Expert placement plans: the JSON file the samples read, EPLB's layout, and the
// planner that builds a plan from measured expert loads.
//
// Plan file (docs/PLACEMENT.md is the reference the samples follow):
//   {"format": "moetune-placement", "version": 1, "experts": E, "ranks": R,
//    "layers": {"0": {"0": [2], "1": [0, 3], ...}, ...},        // expert -> ranks, first = primary
//    "eplb": {"slots_per_rank": S, "phy2log": [[...]], "log2phy": [[[...]]], "logcnt": [[...]]}}
// Every layer lists every expert 0..E-1 with >= 1 distinct rank in 0..R-1.
// A token goes to the copy on its own rank, else one on its own node, else the copies
// share it evenly (the routing the predicted local-hit % assumes).
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "moetune/trace/result.h"

namespace moetune::analyzers {

// A placement: for each layer, for each logical expert, the ranks holding a copy
// (first = primary). Invariant (checked by validate()): every expert has >= 1 copy,
// ranks in [0, ranks), no rank twice for one expert.
struct PlacementPlan {
  int experts = 0, ranks = 0;
  std::map<int, std::vector<std::vector<int>>> layers;  // layer -> [expert] -> ranks
  int copies(int layer) const;                          // total copies in one layer
};

// DeepSeek EPLB layout of a plan (per layer): physical slot p lives on rank p / slots_per_rank.
struct EplbLayout {
  int slots_per_rank = 0;
  std::vector<std::vector<int>> phy2log;               // [layer][R*S] logical expert, -1 empty
  std::vector<std::vector<std::vector<int>>> log2phy;  // [layer][E][max copies] slots, -1 padded
  std::vector<std::vector<int>> logcnt;                // [layer][E] copies
};

Expected<void> validate(const PlacementPlan& p);
EplbLayout to_eplb(const PlacementPlan& p);
nlohmann::json to_json(const PlacementPlan& p);  // the plan file (with "eplb")
// Parses and validates a plan; `where` names the file in errors.
Expected<PlacementPlan> placement_from_json(const nlohmann::json& j, const std::string& where);
Expected<PlacementPlan> read_placement(const std::filesystem::path& file);
Expected<void> write_placement(const std::filesystem::path& file, const PlacementPlan& p);
// expert e on rank e % R, one copy: the samples' default.
PlacementPlan default_placement(int layers, int experts, int ranks);

// What the planner works from. load[layer][src_rank][expert] = tokens per step (EMA).
struct PlanInputs {
  int experts = 0, ranks = 0;
  std::vector<std::vector<std::vector<double>>> load;
  PlacementPlan current;          // where experts are now
  std::vector<int> node_of_rank;  // node index of each rank (same host = same node)
  std::vector<double> speed;      // relative expert throughput per rank (1 = median rank)
  double memory_budget_pct = 15;  // extra expert copies allowed, % of the experts of a layer
};

// How a plan would do on the measured loads (routing rule above).
struct PlanEval {
  double local_pct = 0, same_node_pct = 0, cross_node_pct = 0;  // of routed tokens
  double cross_node_tokens = 0;          // per step, all layers
  double max_rank_time = 0;              // max over ranks of (tokens processed / speed), per step
  double balancedness = 0;               // mean / max tokens processed per rank (1 = even)
  int extra_copies = 0;                  // copies beyond one per expert, all layers
  double memory_cost_pct = 0;            // extra copies / experts, % of expert memory
  std::vector<double> rank_tokens;       // tokens processed per rank per step, all layers
  // The all-to-all's pace: max over ranks of max(tokens sent, tokens received) per step,
  // counting tokens to/from other ranks (remote) and the part of those crossing nodes.
  double max_rank_remote_tokens = 0;
  double max_rank_cross_node_tokens = 0;
};
PlanEval evaluate_plan(const PlanInputs& in, const PlacementPlan& plan);
nlohmann::json to_json(const PlanEval& e);

// Extra copies per layer the memory budget allows (floor(pct * E / 100), at least 1 when pct > 0).
int replica_budget(const PlanInputs& in);
// moetune's planner: move hot experts off slow/overloaded ranks, cold ones onto them,
// then replicate the hottest experts onto the fastest ranks within the budget.
PlacementPlan plan_placement(const PlanInputs& in);
// EPLB-style greedy: replicate the heaviest experts (by load / copies) up to the budget, then
// pack copies heaviest-first onto the least-loaded rank. Ignores speed and topology.
PlacementPlan plan_eplb_greedy(const PlanInputs& in);

}  // namespace moetune::analyzers
