// SPDX-License-Identifier: Apache-2.0
// Parsers for the message texts of the `moe` NVTX conventions (docs/CONVENTIONS-NVTX.md)
// and PyTorch's "ProfilerStep#N" ranges: the one parser the live collector and the
// Kineto and nsys importers share. Pure
// functions over one string; nullopt when the text does not match exactly.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace moetune {

struct MoeStep {
  std::int64_t step = 0;
  std::optional<std::int64_t> tokens;
};
struct MoeRoute {
  int layer = 0;
  std::vector<std::int64_t> tokens;  // tokens sent to expert i
  // "step=S" when the mark names its step (the PyTorch helper emits routes once their
  // counts have landed on the host, possibly after the step range closed); else the
  // enclosing step range decides.
  std::optional<std::int64_t> step;
};
struct MoePlacement {
  int layer = 0;
  std::map<int, std::vector<int>> map;  // expert -> ranks (primary first, then replicas)
};

std::optional<MoeStep> parse_moe_step(std::string_view text);       // "step N" / "step N tokens=T"
std::optional<MoeStep> parse_profiler_step(std::string_view text);  // "ProfilerStep#N"
std::optional<MoeRoute> parse_moe_route(std::string_view text);     // "moe.route layer=L [step=S] tokens=a,b,..."
std::optional<MoePlacement> parse_moe_placement(std::string_view text);  // "moe.placement layer=L map=E:R|R2,..."

// PyTorch's emit_nvtx names ranges "aten::mul, seq = 45328, op_id = 990726". Splits such a
// text into the op name and its integer fields (so that 18k unique texts intern as ~90
// names); nullopt when the text has no ", key = integer" tail.
struct TorchNvtxText {
  std::string_view name;
  std::vector<std::pair<std::string_view, std::int64_t>> fields;
};
std::optional<TorchNvtxText> split_torch_nvtx(std::string_view text);

}  // namespace moetune
