// SPDX-License-Identifier: Apache-2.0
#include "late_cause.h"

#include <algorithm>

namespace moetune::analyzers::detail {
namespace {

const char* copy_name(CopyKind k) {
  switch (k) {
    case CopyKind::HtoD: return "memcpy HtoD";
    case CopyKind::DtoH: return "memcpy DtoH";
    case CopyKind::DtoD: return "memcpy DtoD";
    case CopyKind::PtoP: return "memcpy PtoP";
    default: return "memcpy";
  }
}

// First row of `rank` that may overlap [t0, ...): rows sorted by (rank, start); step back
// a little to catch one that started before t0 and runs through it.
template <class Row>
typename std::vector<Row>::const_iterator first_near(const std::vector<Row>& rows, int rank, std::int64_t t0) {
  auto lo = std::lower_bound(rows.begin(), rows.end(), std::make_pair(RankId(rank), t0),
                             [](const Row& k, const std::pair<RankId, std::int64_t>& v) {
                               return k.rank != v.first ? k.rank < v.first : k.start_ns < v.second;
                             });
  for (int back = 0; back < 64 && lo != rows.begin() && std::prev(lo)->rank.value == rank; ++back) --lo;
  return lo;
}

}  // namespace

LateCauses::LateCauses(const RunData& run, const CommClassifier& cls, const std::vector<RankActivity>& acts)
    : run_(run), cls_(cls) {
  for (const auto& a : acts) act_[a.rank] = &a;
  std::vector<char> sync_name(run.strings.size());
  for (std::size_t i = 0; i < run.strings.size(); ++i) sync_name[i] = is_blocking_sync_api(run.strings[i]);
  for (const auto& c : run.api_calls) {
    auto id = static_cast<std::size_t>(c.name.value);
    if (id < sync_name.size() && sync_name[id]) syncs_[static_cast<int>(c.rank.value)].push_back(&c);
  }
}

LateActivity LateCauses::at(int rank, std::int64_t t0, std::int64_t t1) const {
  LateActivity la;
  auto a = act_.find(rank);
  const RankActivity* act = a == act_.end() ? nullptr : a->second;
  std::int64_t busy = act ? measure(act->busy, t0, t1) : 0;
  la.busy_ns = busy;
  if (auto it = syncs_.find(rank); it != syncs_.end()) {
    // Calls sorted by start: the ones starting before t1, latest first (a sync call is short
    // against the gap it leaves, so a few hundred back is far enough).
    auto hi = std::lower_bound(it->second.begin(), it->second.end(), t1,
                               [](const ApiCallRow* c, std::int64_t t) { return c->start_ns < t; });
    const ApiCallRow* hit = nullptr;
    for (int n = 0; hi != it->second.begin() && n < 256; ++n) {
      --hi;
      if ((*hi)->end_ns() > t0) hit = *hi;
    }
    if (hit) {
      la.cause = "host_sync";
      la.what = run_.str(hit->name);
      la.what_ns = hit->dur_ns;
      return la;
    }
  }
  if (t1 - t0 > 0 && busy * 2 < (t1 - t0)) {
    la.cause = "gpu_idle";
    la.what = "no GPU work (host did not launch)";
    la.what_ns = (t1 - t0) - busy;
    return la;
  }
  // Busy: the compute kernel name with the most time in the gap, against all copies and all
  // communication together.
  std::int64_t best_compute = 0, comm = act ? measure(act->comm, t0, t1) : 0, copies = 0;
  std::string compute_name;
  std::map<std::int64_t, std::int64_t> by_name;  // StringId -> ns in [t0, t1)
  for (auto it = first_near(run_.kernels, rank, t0); it != run_.kernels.end() && it->rank.value == rank && it->start_ns < t1;
       ++it) {
    if (cls_.is_comm(it->name)) continue;
    auto ov = std::min(it->end_ns(), t1) - std::max(it->start_ns, t0);
    if (ov > 0 && (by_name[it->name.value] += ov) > best_compute)
      best_compute = by_name[it->name.value], compute_name = run_.str(it->name);
  }
  std::map<CopyKind, std::int64_t> by_kind;
  for (auto it = first_near(run_.memcpys, rank, t0); it != run_.memcpys.end() && it->rank.value == rank && it->start_ns < t1;
       ++it) {
    auto ov = std::min(it->end_ns(), t1) - std::max(it->start_ns, t0);
    if (ov > 0 && it->kind != CopyKind::PtoP) by_kind[it->kind] += ov, copies += ov;
  }
  if (copies > best_compute && copies >= comm) {
    auto top = std::max_element(by_kind.begin(), by_kind.end(), [](auto& x, auto& y) { return x.second < y.second; });
    la.cause = "memcpy";
    la.what = copy_name(top->first);
    la.what_ns = copies;
  } else if (comm > best_compute) {
    la.cause = "previous_collective";
    la.what = "an earlier communication call";
    la.what_ns = comm;
  } else {
    la.cause = "compute";
    la.what = compute_name;
    la.what_ns = best_compute;
  }
  return la;
}

}  // namespace moetune::analyzers::detail
