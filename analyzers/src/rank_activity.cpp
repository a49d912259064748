// SPDX-License-Identifier: Apache-2.0
#include "rank_activity.h"

#include <algorithm>
#include <map>
#include "moetune/analyzers/steps.h"
#include "sat_math.h"

namespace moetune::analyzers::detail {

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

void normalize(Intervals& v) {
  auto by_start = [](const Interval& a, const Interval& b) { return a.s < b.s; };
  if (!std::is_sorted(v.begin(), v.end(), by_start)) std::sort(v.begin(), v.end(), by_start);
  std::size_t out = 0;
  for (const auto& iv : v) {
    if (iv.e <= iv.s) continue;
    if (out > 0 && iv.s <= v[out - 1].e) {
      v[out - 1].e = std::max(v[out - 1].e, iv.e);
    } else {
      v[out++] = iv;
    }
  }
  v.resize(out);
}

Intervals unite(const Intervals& a, const Intervals& b) {
  Intervals r;
  r.reserve(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(r),
             [](const Interval& x, const Interval& y) { return x.s < y.s; });
  normalize(r);
  return r;
}

Intervals intersect(const Intervals& a, const Intervals& b) {
  Intervals r;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    auto s = std::max(a[i].s, b[j].s), e = std::min(a[i].e, b[j].e);
    if (s < e) r.push_back({s, e});
    if (a[i].e < b[j].e) ++i; else ++j;
  }
  return r;
}

Intervals subtract(const Intervals& a, const Intervals& b) {
  Intervals r;
  std::size_t j = 0;
  for (const auto& iv : a) {
    auto cur = iv.s;
    while (j < b.size() && b[j].e <= cur) ++j;
    for (std::size_t k = j; k < b.size() && b[k].s < iv.e; ++k) {
      if (b[k].s > cur) r.push_back({cur, b[k].s});
      cur = std::max(cur, b[k].e);
      if (cur >= iv.e) break;
    }
    if (cur < iv.e) r.push_back({cur, iv.e});
  }
  return r;
}

namespace {
// First interval whose end is after t0.
Intervals::const_iterator first_after(const Intervals& v, std::int64_t t0) {
  return std::upper_bound(v.begin(), v.end(), t0, [](std::int64_t t, const Interval& iv) { return t < iv.e; });
}
}  // namespace

std::int64_t measure(const Intervals& v, std::int64_t t0, std::int64_t t1) {
  std::int64_t sum = 0;
  for (auto it = first_after(v, t0); it != v.end() && it->s < t1; ++it)
    sum += std::min(it->e, t1) - std::max(it->s, t0);
  return sum;
}

Intervals gaps(const Intervals& v, std::int64_t t0, std::int64_t t1, std::int64_t min_len) {
  Intervals r;
  std::int64_t cur = t0;
  for (auto it = first_after(v, t0); it != v.end() && it->s < t1; ++it) {
    if (it->s - cur >= min_len) r.push_back({cur, it->s});
    cur = std::max(cur, it->e);
  }
  if (t1 - cur >= min_len) r.push_back({cur, t1});
  return r;
}

std::vector<RankActivity> build_rank_activity(const RunData& run, const CommClassifier& cls) {
  std::map<std::int64_t, RankActivity> by_rank;
  auto get = [&](RankId r) -> RankActivity& {
    auto& a = by_rank[r.value];
    a.rank = static_cast<int>(r.value);
    return a;
  };
  // Rows arrive grouped by rank; cache the last rank's entry to avoid a map lookup per row.
  // (No sentinel rank: ranks come from the file, and fuzz_store found a first row of rank -2,
  // the old sentinel, which then read through a null cache.)
  RankActivity* last = nullptr;
  std::int64_t last_rank = 0;
  auto cached = [&](RankId r) -> RankActivity& {
    if (!last || r.value != last_rank) {
      last = &get(r);
      last_rank = r.value;
    }
    return *last;
  };
  // Kernels arrive sorted by start within a rank; copies, memsets and NCCL ops go to
  // separate lists (each sorted too) that are merged in afterwards, so that
  // normalize() never has to sort the big lists.
  std::map<std::int64_t, Intervals> comm_extra, busy_extra;
  for (const auto& k : run.kernels) {
    auto& a = cached(k.rank);
    Interval iv{k.start_ns, k.end_ns()};
    ++a.kernels;
    if (cls.is_comm(k.name)) {
      ++a.comm_kernels;
      a.comm.push_back(iv);
      a.comm_core.push_back(iv);
    } else {
      a.compute.push_back(iv);
    }
    a.busy.push_back(iv);
  }
  last = nullptr;
  for (const auto& m : run.memcpys) {
    auto& a = cached(m.rank);
    busy_extra[a.rank].push_back({m.start_ns, m.end_ns()});
    if (is_comm_memcpy(m)) {
      ++a.peer_copies;
      comm_extra[a.rank].push_back({m.start_ns, m.end_ns()});
      a.p2p.push_back({m.start_ns, m.end_ns()}), a.p2p_bytes = sat_add(a.p2p_bytes, m.bytes), a.p2p_dur = sat_add(a.p2p_dur, m.dur_ns);
    } else if (m.kind == CopyKind::HtoD) {
      a.h2d.push_back({m.start_ns, m.end_ns()}), a.h2d_bytes = sat_add(a.h2d_bytes, m.bytes), a.h2d_dur = sat_add(a.h2d_dur, m.dur_ns);
    } else if (m.kind == CopyKind::DtoH) {
      a.d2h.push_back({m.start_ns, m.end_ns()}), a.d2h_bytes = sat_add(a.d2h_bytes, m.bytes), a.d2h_dur = sat_add(a.d2h_dur, m.dur_ns);
    } else {
      a.d2d.push_back({m.start_ns, m.end_ns()}), a.d2d_bytes = sat_add(a.d2d_bytes, m.bytes), a.d2d_dur = sat_add(a.d2d_dur, m.dur_ns);
    }
  }
  last = nullptr;
  for (const auto& m : run.memsets) {
    auto& a = cached(m.rank);
    busy_extra[a.rank].push_back({m.start_ns, m.end_ns()});
    a.d2d.push_back({m.start_ns, m.end_ns()});
  }
  last = nullptr;
  for (const auto& o : run.nccl_ops) {
    auto& a = cached(o.rank);
    ++a.nccl_ops;
    comm_extra[a.rank].push_back({o.start_ns, o.end_ns});
    busy_extra[a.rank].push_back({o.start_ns, o.end_ns});
    a.comm_core.push_back({o.start_ns, o.end_ns});
  }
  const SteadySteps steady = steady_steps(run);
  for (const auto& s : run.steps)
    if (s.end_ns > s.start_ns)
      (steady.is_steady(s.step) ? get(s.rank).windows : get(s.rank).warmup_windows)
          .push_back({s.step, s.start_ns, s.end_ns});

  std::vector<RankActivity> out;
  out.reserve(by_rank.size());
  for (auto& [r, a] : by_rank) {
    normalize(a.compute);
    normalize(a.comm);
    normalize(a.busy);
    for (auto* v : {&a.comm_core, &a.h2d, &a.d2h, &a.d2d, &a.p2p}) normalize(*v);
    if (auto it = comm_extra.find(r); it != comm_extra.end()) {
      normalize(it->second);
      a.comm = unite(a.comm, it->second);
    }
    if (auto it = busy_extra.find(r); it != busy_extra.end()) {
      normalize(it->second);
      a.busy = unite(a.busy, it->second);
    }
    a.compute.shrink_to_fit();
    a.busy.shrink_to_fit();
    a.overlap = intersect(a.compute, a.comm);
    if (a.windows.empty() && !a.warmup_windows.empty()) a.windows.swap(a.warmup_windows);
    if (a.windows.empty()) {
      a.whole_run = true;
      if (!a.busy.empty()) a.windows.push_back({-1, a.busy.front().s, a.busy.back().e});
    } else {
      std::sort(a.windows.begin(), a.windows.end(), [](const Window& x, const Window& y) { return x.s < y.s; });
    }
    out.push_back(std::move(a));
  }
  return out;
}

WindowStats window_stats(const RankActivity& a, const Window& w) {
  WindowStats st;
  st.step_ns = w.e - w.s;
  st.compute_ns = measure(a.compute, w.s, w.e);
  st.comm_ns = measure(a.comm, w.s, w.e);
  st.overlap_ns = measure(a.overlap, w.s, w.e);
  st.exposed_ns = st.comm_ns - st.overlap_ns;
  st.idle_ns = st.step_ns - measure(a.busy, w.s, w.e);
  return st;
}

}  // namespace moetune::analyzers::detail
