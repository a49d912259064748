// SPDX-License-Identifier: Apache-2.0
// Clock alignment for runs recorded on several hosts. Each host stamps its events with
// its own CLOCK_REALTIME; NTP keeps hosts within milliseconds of each other and their
// rates within tens of ppm, far coarser than a collective (tens of us). The collectives
// themselves are the reference: every rank leaves one collective instance within the
// network latency of the others, so for each host the differences between its ranks'
// end times and the reference host's, over the instances both took part in, trace that
// host's clock offset as a line in time (offset + drift x t).
//
// Clock domain: a host name up to the first ':' (ranks.host is "name:NCCL_HOSTID" for
// emulated nodes on one machine: they share one clock and are never shifted against
// each other). GPU clocks within a host stay as recorded (CUPTI / the NCCL plugin already
// put them on the host's CLOCK_REALTIME); every row of the host moves by the same map.
//
// Fit per host (robust_fit): a Theil-Sen slope over pairs of instances half the run
// apart, the intercept as the median, instances whose residual exceeds max(5 x 1.4826 x
// MAD, 1 us) rejected as outliers (a late or retried op, a stray match), then least
// squares over the rest. Error bound: the largest residual of the kept instances, i.e.
// after alignment every kept collective ends on this host within +-bound of the
// reference host. A one-way latency asymmetry between two hosts is not observable from
// end times and is not in the bound. Cost: O(ops log ops).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace moetune::live {

// run_time = t + offset_ns + drift x (t - anchor_ns), t on the host's clock.
struct ClockMap {
  std::int64_t anchor_ns = 0;
  double offset_ns = 0, drift = 0;
  std::int64_t apply(std::int64_t t) const;
  bool identity() const { return offset_ns == 0 && drift == 0; }
};

struct LineFit {
  std::int64_t anchor = 0;  // x of the first point
  double offset = 0, slope = 0;
  int used = 0, rejected = 0;
  double max_resid = 0;  // largest |residual| over the kept points, ns
  bool ok = false;
};

// Robust fit of y = offset + slope x (x - anchor) (see above). Points are (x, y).
LineFit robust_fit(std::vector<std::pair<std::int64_t, double>> pts);

// One rank's end time of one collective instance, on its host's clock.
struct CollEnd {
  std::string key;  // the instance: "comm#seq", or "comm|func|n-th call"
  int domain = 0;   // index into the domain names
  std::int64_t end_ns = 0;
};

struct HostClock {
  std::string domain;
  bool reference = false, aligned = false;
  ClockMap map;
  int instances = 0, rejected = 0;
  std::int64_t bound_ns = 0;  // see above; 0 for the reference
};

// Estimates one map per domain onto domain `reference`'s clock. Domains sharing no
// instance with the reference are left unaligned (identity map, aligned = false).
std::vector<HostClock> estimate_clocks(const std::vector<std::string>& domains, int reference,
                                       const std::vector<CollEnd>& ends);

// "node7:3" -> "node7": the machine whose clock the rank used.
std::string clock_domain(const std::string& host);

}  // namespace moetune::live
