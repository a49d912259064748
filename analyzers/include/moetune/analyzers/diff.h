// SPDX-License-Identifier: Apache-2.0
// Before/after comparison of two runs (`moetune diff`): step time, exposed comm, comm
// ratio, tokens/s (where steps report tokens), traffic per step by collective, and the
// findings of the first run gone / still there in the second. Measured, not estimated:
// this is how a recommendation's gain is proven.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>

#include "moetune/analyzers/model.h"
#include "moetune/analyzers/profile.h"

namespace moetune::analyzers {

struct RunSummary {
  int ranks = 0;
  std::int64_t steps = 0;                   // step rows (rank x step)
  // Step time: median over the steady-state steps (steps.h: warm-up dropped) of the job
  // step time (max over ranks of each step's duration).
  std::optional<double> step_time_ms;
  std::optional<double> step_time_mean_ms;  // mean of the same steps, for reference
  std::map<int, double> rank_step_ms;       // per rank: median of its steady steps
  int steps_total = 0, steps_used = 0;      // distinct step numbers, of which steady
  std::string warmup_rule;                  // steps.h rule text: what was dropped and why
  std::optional<double> exposed_comm_ms;    // mean per rank per step (comm_overlap metrics)
  std::optional<double> comm_ratio;         // mean per rank
  // Tokens of a steady step (mean, summed over ranks) / the median job step time.
  std::optional<double> tokens_per_s;
  // func -> NCCL bytes per rank per step on the network (self-sends excluded) and of
  // grouped send/recv to the own rank (local copies, not traffic).
  std::map<std::string, double> bytes_per_step, local_bytes_per_step;
  std::vector<Finding> findings;
};
RunSummary summarize(const RunData& run, const AnalysisResult& r);

// One measure before and after; JSON {before, after, change_pct, ratio_before_over_after}.
struct Change {
  std::optional<double> before, after;
  std::optional<double> change_pct() const;  // 100 (after - before) / before; empty when before is 0
  std::optional<double> ratio() const;       // before / after; empty when after is 0
};
nlohmann::json to_json(const Change& c);
// A finding of either run: "still there" / "gone" (before's kinds vs after's) or "new".
struct FindingStatus {
  std::string id, kind, title, status;
};
// The typed comparison the GUI shows; diff_runs serialises it with the step details.
struct RunDiff {
  Change step_time_ms, step_time_mean_ms, exposed_comm_ms, comm_ratio, tokens_per_s;
  std::optional<double> speedup;  // tokens/s after / before, else step time before / after
  std::map<std::string, Change> traffic_bytes_per_step, local_bytes_per_step;  // by collective
  std::vector<FindingStatus> findings;
};
RunDiff compare_runs(const RunSummary& before, const RunSummary& after);

// The diff document (the --json output). With `applied` (the tuning profile that was
// applied, profile.h), the document also carries "predicted_vs_measured": each applied
// finding's estimated gain from the before run next to the measured step-time gain.
nlohmann::json diff_runs(const RunSummary& before, const RunSummary& after, const Profile* applied = nullptr);

// True when the profile carries one of the finding's machine-applicable fixes (an env
// variable with the same value, a flag, a placement); code-only findings are not applied.
bool profile_applies(const Profile& p, const Finding& f);

// Predicted vs measured for the fixes of one profile. Findings are matched by id in the
// before run's analysis (ids are stable for one run); findings whose fixes the profile does
// not carry (code changes) are listed as not applied and left out of the prediction. Several
// fixes applied together are measured together: the combined prediction assumes independent
// gains on the step time, 1 - prod(1 - g_i).
nlohmann::json predicted_vs_measured(const RunSummary& before, const RunSummary& after, const Profile& applied);

}  // namespace moetune::analyzers
