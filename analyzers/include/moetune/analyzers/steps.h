// SPDX-License-Identifier: Apache-2.0
// Steady-state steps: which of a run's steps are warm-up and are left out of step-time
// statistics (diff, comm overlap, stragglers). One rule for the whole run, chosen in order:
//   1. marked: meta `warmup_steps` = N, or `--warmup N` / `--warmup=N` in meta `command`
//      (moe_nccl, torch_moe): steps numbered < N are warm-up (applications number steps
//      from 0, warm-up included). Ignored when it would leave no step.
//   2. unmarked: the first 10 % of the step numbers (rounded down), then every further
//      leading step whose job time is an outlier (> 1.5x the median job step time), at most
//      half of the steps.
// Job step time of step s = max over ranks of the rank's duration of step s (the slowest
// rank sets the pace). Cost: O(steps log steps).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "moetune/analyzers/model.h"

namespace moetune::analyzers {

struct SteadySteps {
  std::string rule;        // "marked", "first 10 % + leading outliers", "none" (no steps)
  std::string rule_text;   // one sentence for the output: what was dropped and why
  std::int64_t first_steady = 0;  // step numbers >= this are steady
  int total = 0;           // distinct step numbers
  int warmup = 0;          // of which warm-up
  bool is_steady(std::int64_t step) const { return step >= first_steady; }
  int used() const { return total - warmup; }
};

// Per step number: max over ranks of that rank's step duration (ns).
std::map<std::int64_t, std::int64_t> job_step_ns(const RunData& run);
// The warm-up rule applied to the run (see above).
SteadySteps steady_steps(const RunData& run);
// The `--warmup N` of a command line, or meta warmup_steps; empty when neither is there.
std::optional<std::int64_t> marked_warmup(const RunData& run);
// Step period of a rank with no steps table, detected from its kernel sequence (kernel
// name ids in start order): the repeating unit is opened by an anchor kernel whose
// occurrences are evenly spaced in kernel count (>= 90 % of the distances within
// max(2, 5 %) of the median distance D), span >= half of the rank's kernels, and repeat
// >= 3 times (>= 4 occurrences); consecutive periods must hold the same kernels (multiset
// overlap >= 80 %, mean of up to 8 sampled pairs: kernels of different streams may
// interleave differently). Of the anchors that qualify, the largest D wins (a step holds
// repeating layers, so the layer period also qualifies; the step is the largest unit).
// Windows are [anchor j, anchor j+1) in time. Empty when nothing repeats. Cost O(k) for
// the rank's k kernels plus O(16 D log D) per tried anchor.
struct DetectedPeriod {
  std::int64_t kernels = 0;  // kernels per period (D)
  std::string anchor;        // the kernel that opens each period
  struct Span {
    std::int64_t s = 0, e = 0;
  };
  std::vector<Span> windows;  // complete periods, in time order (>= 3)
  double match = 0;           // mean multiset overlap of consecutive periods (0..1)
};
std::optional<DetectedPeriod> detect_step_period(const RunData& run, std::int64_t rank);

// Median of a non-empty set (mean of the two middle values for even sizes).
double median_of(std::vector<double> v);

}  // namespace moetune::analyzers
