// SPDX-License-Identifier: Apache-2.0
// Before/after comparison of two runs (`moetune diff`): step time, exposed comm, comm
// ratio, tokens/s (where steps report tokens), traffic per step by collective, and the
// findings of the first run gone / still there in the second. Measured, not estimated:
// this is how a recommendation's gain is proven.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>

#include "moetune/analyzers/model.h"

namespace moetune::analyzers {

struct RunSummary {
  int ranks = 0;
  std::int64_t steps = 0;                   // step rows (rank x step)
  std::optional<double> step_time_ms;       // mean step duration
  std::optional<double> exposed_comm_ms;    // mean per rank per step (comm_overlap metrics)
  std::optional<double> comm_ratio;         // mean per rank
  std::optional<double> tokens_per_s;       // sum over ranks of tokens / step time
  std::map<std::string, double> bytes_per_step;  // func -> NCCL bytes per rank per step
  std::vector<Finding> findings;
};
RunSummary summarize(const RunData& run, const AnalysisResult& r);
// The diff document (the --json output).
nlohmann::json diff_runs(const RunSummary& before, const RunSummary& after);

}  // namespace moetune::analyzers
