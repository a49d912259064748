// SPDX-License-Identifier: Apache-2.0
// Time accounting per rank and step (time_buckets.h; definitions in docs/ANALYZE-JSON.md).
#include "time_buckets.h"

#include <algorithm>
#include "sat_math.h"

namespace moetune::analyzers::detail {

Buckets& Buckets::operator+=(const Buckets& o) {
  // Saturating: windows come from the file and may overlap (sat_math.h).
  for (auto f : {&Buckets::step, &Buckets::compute, &Buckets::transfer, &Buckets::wait, &Buckets::h2d, &Buckets::d2h,
                 &Buckets::d2d, &Buckets::p2p, &Buckets::gap_long, &Buckets::gap_short, &Buckets::idle})
    this->*f = sat_add(this->*f, o.*f);
  long_gaps += o.long_gaps, short_gaps += o.short_gaps;
  return *this;
}

BucketTimes Buckets::times(double div) const {
  auto v = [div](std::int64_t ns) { return div > 0 ? ms(ns) / div : 0.0; };
  BucketTimes t;
  t.compute_ms = v(compute), t.comm_transfer_ms = v(transfer), t.comm_wait_ms = v(wait);
  t.memcpy_h2d_ms = v(h2d), t.memcpy_d2h_ms = v(d2h), t.memcpy_d2d_ms = v(d2d), t.memcpy_p2p_ms = v(p2p);
  t.host_gap_long_ms = v(gap_long), t.host_gap_short_ms = v(gap_short), t.idle_ms = v(idle);
  return t;
}

CommParts comm_parts(const std::vector<CollInstance>& instances) {
  CommParts p;
  for (const auto& in : instances)
    for (const auto& m : in.members) {
      // First-call setup (connection establishment, global_sync's first_call cause) is not
      // transfer either: it waits with the rest, as comm_overlap's exposed_wait counts it.
      const std::int64_t w = std::clamp<std::int64_t>(in.wait(m) + in.setup_ns, 0, m.dur());
      if (w > 0) p.wait[m.rank].push_back({m.start_ns, m.start_ns + w});
      if (m.start_ns + w < m.end_ns) p.transfer[m.rank].push_back({m.start_ns + w, m.end_ns});
    }
  for (auto& [r, v] : p.wait) normalize(v);
  for (auto& [r, v] : p.transfer) normalize(v);
  return p;
}

std::map<int, std::pair<Intervals, std::vector<std::int64_t>>> api_by_rank(const RunData& run) {
  std::map<int, std::pair<Intervals, std::vector<std::int64_t>>> out;
  std::pair<Intervals, std::vector<std::int64_t>>* cur = nullptr;
  std::int64_t cur_rank = 0;  // no sentinel rank: ranks come from the file (-2 read through a null cache)
  for (const auto& c : run.api_calls) {
    if (!cur || c.rank.value != cur_rank) cur = &out[static_cast<int>(c.rank.value)], cur_rank = c.rank.value;
    cur->first.push_back({c.start_ns, c.end_ns()});
    cur->second.push_back(c.start_ns);
  }
  for (auto& [r, v] : out) {
    normalize(v.first);
    if (!std::is_sorted(v.second.begin(), v.second.end())) std::sort(v.second.begin(), v.second.end());
  }
  return out;
}

RankBuckets build_buckets(const RankActivity& a, Intervals wait, Intervals transfer, Intervals api,
                          std::vector<std::int64_t> api_starts) {
  RankBuckets b;
  // Communication with no compute under it, split at the instance boundaries: a span where
  // one collective transfers while another waits is transfer (transfer > wait).
  Intervals rest = subtract(a.comm_core, a.compute);
  b.wait = intersect(rest, subtract(wait, transfer));
  b.transfer = subtract(rest, b.wait);
  Intervals used = unite(a.compute, a.comm_core);
  auto take = [&used](const Intervals& v, Intervals& out, bool last) {
    out = subtract(v, used);
    if (!last && !out.empty()) used = unite(used, out);  // copies are few: skip the O(N) pass when none
  };
  take(a.h2d, b.h2d, false);
  take(a.d2h, b.d2h, false);
  take(a.p2p, b.p2p, false);
  take(a.d2d, b.d2d, true);
  b.api = std::move(api);
  b.api_starts = std::move(api_starts);
  return b;
}

Buckets measure_buckets(const RankActivity& a, const RankBuckets& b, std::int64_t s, std::int64_t e) {
  Buckets r;
  if (e <= s) return r;
  r.step = e - s;
  r.compute = measure(a.compute, s, e);
  r.transfer = measure(b.transfer, s, e);
  r.wait = measure(b.wait, s, e);
  r.h2d = measure(b.h2d, s, e);
  r.d2h = measure(b.d2h, s, e);
  r.p2p = measure(b.p2p, s, e);
  r.d2d = measure(b.d2d, s, e);
  for (const auto& g : gaps(a.busy, s, e, 1)) {
    const std::int64_t len = g.e - g.s;
    if (len < kLongGapNs) {
      r.gap_short += len, ++r.short_gaps;
      continue;
    }
    const std::int64_t in_api = measure(b.api, g.s, g.e);
    const auto calls = std::lower_bound(b.api_starts.begin(), b.api_starts.end(), g.e) -
                       std::lower_bound(b.api_starts.begin(), b.api_starts.end(), g.s);
    if (2 * in_api >= len || calls * 100'000 >= len) {
      r.gap_long = sat_add(r.gap_long, len), ++r.long_gaps;
    } else {
      r.idle = sat_add(r.idle, len);
    }
  }
  // The gaps are the complement of busy, and the GPU buckets partition busy: the sum is exact.
  return r;
}

}  // namespace moetune::analyzers::detail
