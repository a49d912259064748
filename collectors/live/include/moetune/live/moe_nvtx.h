// SPDX-License-Identifier: Apache-2.0
// Decoding of the `moe` NVTX domain conventions (docs/CONVENTIONS-NVTX.md) and of
// NVTX marker streams (range start/end pairs and instant marks, as CUPTI delivers
// them) into nvtx, steps, expert_routing and expert_placement rows. The texts are
// decoded in the `moe` domain and in the default domain (PyTorch's torch.cuda.nvtx
// cannot name a domain).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moetune/trace/moe_text.h"
#include "moetune/trace/writer.h"

namespace moetune::live {

// The texts are parsed by moetune/trace/moe_text.h (shared with the importers).

// MarkerDecoder: turns one process's marker stream into rows. Ranges are paired by
// id; a `moe` route mark belongs to the innermost open `step N` range of its thread,
// else to the last step that started on that thread (-1 if none). Not thread-safe:
// owned by the writer thread. Malformed `moe` texts are kept as nvtx rows and counted.
class MarkerDecoder {
 public:
  explicit MarkerDecoder(RankId rank) : rank_(rank) {}
  void range_start(std::uint64_t id, std::int64_t tid, std::int64_t t, std::string_view name,
                   std::string_view domain, TraceWriter& w);
  void range_end(std::uint64_t id, std::int64_t t, TraceWriter& w);
  void instant(std::int64_t tid, std::int64_t t, std::string_view name, std::string_view domain, TraceWriter& w);
  std::uint64_t steps() const { return steps_; }
  std::uint64_t malformed() const { return malformed_; }
  std::uint64_t unmatched_ends() const { return unmatched_; }
  std::size_t open_ranges() const { return open_.size(); }

 private:
  struct Open {
    std::int64_t tid, start;
    std::string name, domain;
    std::optional<MoeStep> step;
  };
  RankId rank_;
  std::unordered_map<std::uint64_t, Open> open_;
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> step_stack_;  // tid -> open step numbers
  std::unordered_map<std::int64_t, std::int64_t> last_step_;                // tid -> last started step
  std::uint64_t steps_ = 0, malformed_ = 0, unmatched_ = 0;
};

}  // namespace moetune::live
