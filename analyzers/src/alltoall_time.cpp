// SPDX-License-Identifier: Apache-2.0
#include "alltoall_time.h"

#include <algorithm>
#include <map>

#include "moetune/analyzers/comm_rules.h"
#include "moetune/analyzers/steps.h"
#include "rank_activity.h"

namespace moetune::analyzers::detail {
namespace {

bool is_a2a_op(const NcclOpRow& o, bool p2p_counts) {
  return is_alltoall_op(o.func) || (p2p_counts && is_p2p_op(o.func) && !is_self_send(o));
}

}  // namespace

AlltoallTime alltoall_time(const RunData& run) {
  AlltoallTime t;
  const bool p2p_counts = !run.routing.empty();
  std::map<int, Intervals> iv;
  for (const auto& o : run.nccl_ops)
    if (o.end_ns > o.start_ns && is_a2a_op(o, p2p_counts)) iv[static_cast<int>(o.rank.value)].push_back({o.start_ns, o.end_ns});
  if (iv.empty()) return t;
  for (auto& [r, v] : iv) normalize(v);
  const SteadySteps steady = steady_steps(run);
  std::map<int, bool> has_steps;
  for (const auto& s : run.steps) {
    const int r = static_cast<int>(s.rank.value);
    auto it = iv.find(r);
    if (it == iv.end() || !steady.is_steady(s.step) || s.end_ns <= s.start_ns) continue;
    has_steps[r] = true;
    t.step_ns += static_cast<double>(s.end_ns - s.start_ns);
    t.a2a_ns += static_cast<double>(measure(it->second, s.start_ns, s.end_ns));
  }
  for (const auto& [r, v] : iv) {
    ++t.ranks;
    if (has_steps.count(r)) continue;
    t.step_ns += static_cast<double>(v.back().e - v.front().s);
    t.a2a_ns += static_cast<double>(measure(v, v.front().s, v.back().e));
  }
  return t;
}

}  // namespace moetune::analyzers::detail
