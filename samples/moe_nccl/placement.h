// SPDX-License-Identifier: Apache-2.0
// Expert placement for the samples: which ranks hold a copy of each expert of each layer,
// read from the moetune-placement JSON (docs/PLACEMENT.md) or the default (e on rank e % R),
// and the rule that picks the copy a token goes to (own rank, else same node, else round-robin).
#pragma once
#include <string>
#include <vector>

#include "moetune/trace/result.h"

namespace moe {

// copies[layer][expert] = ranks holding that expert; copies[l][e][0] is the primary.
// Invariant (checked by the parsers): every list non-empty, ranks in 0..nranks-1, no duplicates.
struct Placement {
  int layers = 0;
  int experts = 0;
  int nranks = 0;
  std::vector<std::vector<std::vector<int>>> copies;

  // Experts (ascending) that `rank` holds a copy of in `layer`.
  std::vector<int> local_experts(int layer, int rank) const;
  int max_local_experts() const;
  // "E:R|R2,..." body of the NVTX mark `moe.placement layer=L map=...`.
  std::string nvtx_map(int layer) const;
  bool replicated() const;
};

Placement default_placement(int layers, int experts, int nranks);

// Parses the JSON text of a placement file; `path` only names the file in errors.
// Checks the format tag, experts == `experts`, ranks == `nranks`, every expert present.
moetune::Expected<Placement> parse_placement(const std::string& text, const std::string& path, int layers,
                                             int experts, int nranks);
moetune::Expected<Placement> load_placement(const std::string& path, int layers, int experts, int nranks);

// Chooses the copy for tokens of `expert` sent from `src_rank`. `rr` is a per-expert
// round-robin counter the caller keeps (reset per layer and step for determinism).
class CopyChooser {
 public:
  CopyChooser(const Placement& p, int layer, int src_rank, int ranks_per_node);
  int pick(int expert);

 private:
  const std::vector<std::vector<int>>* copies_;
  std::vector<int> fixed_;  // -1 = round-robin over copies
  std::vector<int> rr_;
  int src_rank_;
};

}  // namespace moe
