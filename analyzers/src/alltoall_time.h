// SPDX-License-Identifier: Apache-2.0
// Internal to moetune_analyzers: how much of the step the MoE all-to-all keeps in flight.
// The placement model (experts.cpp) scales this time by the busiest rank's remote token
// volume: an all-to-all ends when the rank with the most tokens to send or receive is done.
#pragma once
#include "moetune/analyzers/model.h"

namespace moetune::analyzers::detail {

struct AlltoallTime {
  double a2a_ns = 0;   // summed over ranks: union of all-to-all ops inside the rank's windows
  double step_ns = 0;  // summed over ranks: the windows (steady steps, or first..last op)
  int ranks = 0;       // ranks with all-to-all traffic
  double share() const { return step_ns > 0 ? std::min(1.0, a2a_ns / step_ns) : 0.0; }
};

// All-to-all ops: the collective itself, and grouped Send/Recv when the run reports expert
// routing (how MoE dispatch/combine is written on NCCL); self-sends are local copies and
// left out. Windows: the rank's steady steps (steps.h); a rank without steps is measured
// from its first to its last all-to-all op. O(ops log ops).
AlltoallTime alltoall_time(const RunData& run);

}  // namespace moetune::analyzers::detail
