// SPDX-License-Identifier: Apache-2.0
// Internal to moetune_analyzers: what a rank did in the time before it arrived at a
// collective that the other ranks had already reached (global_sync's "cause before
// arrival"). Looked up per late instance in O(log N + k) on RunData's sorted rows.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "moetune/analyzers/comm_rules.h"
#include "moetune/analyzers/model.h"
#include "rank_activity.h"

namespace moetune::analyzers::detail {

struct LateActivity {
  // "host_sync" (a blocking sync API call), "gpu_idle" (no GPU work: the host did not
  // launch; host-bound), "compute" (a compute kernel), "memcpy" (copies), or
  // "previous_collective" (the rank was still in an earlier communication call).
  std::string cause;
  std::string what;  // API or kernel name (most time in the gap), copy kind, or "no GPU work ..."
  std::int64_t what_ns = 0;
  std::int64_t busy_ns = 0;  // GPU busy (any work) in the gap
};

class LateCauses {
 public:
  LateCauses(const RunData& run, const CommClassifier& cls, const std::vector<RankActivity>& acts);
  // What `rank` did in [t0, t1) (t0 = first arrival, t1 = its own arrival).
  LateActivity at(int rank, std::int64_t t0, std::int64_t t1) const;

 private:
  const RunData& run_;
  const CommClassifier& cls_;
  std::map<int, const RankActivity*> act_;
  std::map<int, std::vector<const ApiCallRow*>> syncs_;
};

}  // namespace moetune::analyzers::detail
