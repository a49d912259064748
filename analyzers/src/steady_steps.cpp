// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <vector>

#include "moetune/analyzers/steps.h"

namespace moetune::analyzers {
namespace {

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// "--warmup N" or "--warmup=N" as a whole word of the command line (the last one wins).
std::optional<std::int64_t> warmup_flag(const std::string& cmd) {
  std::vector<std::string_view> words;
  std::string_view s(cmd);
  while (!s.empty()) {
    auto b = s.find_first_not_of(" \t\n");
    if (b == std::string_view::npos) break;
    s.remove_prefix(b);
    auto e = s.find_first_of(" \t\n");
    words.push_back(s.substr(0, e));
    s.remove_prefix(e == std::string_view::npos ? s.size() : e);
  }
  std::optional<std::int64_t> found;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "--warmup" && i + 1 < words.size()) {
      if (auto v = to_int(words[i + 1])) found = v;
    } else if (words[i].rfind("--warmup=", 0) == 0) {
      if (auto v = to_int(words[i].substr(9))) found = v;
    }
  }
  return found;
}

}  // namespace

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::map<std::int64_t, std::int64_t> job_step_ns(const RunData& run) {
  std::map<std::int64_t, std::int64_t> out;
  for (const auto& s : run.steps)
    if (s.end_ns > s.start_ns) {
      auto& v = out[s.step];
      v = std::max(v, s.end_ns - s.start_ns);
    }
  return out;
}

std::optional<std::int64_t> marked_warmup(const RunData& run) {
  if (auto it = run.meta.find("warmup_steps"); it != run.meta.end())
    if (auto v = to_int(it->second)) return v;
  if (auto it = run.meta.find("command"); it != run.meta.end()) return warmup_flag(it->second);
  return std::nullopt;
}

SteadySteps steady_steps(const RunData& run) {
  SteadySteps r;
  auto job = job_step_ns(run);
  r.total = static_cast<int>(job.size());
  if (job.empty()) {
    r.rule = "none";
    r.rule_text = "no steps recorded";
    return r;
  }
  r.first_steady = job.begin()->first;
  if (auto n = marked_warmup(run)) {
    int drop = 0;
    for (const auto& [step, ns] : job)
      if (step < *n) ++drop;
    if (drop < r.total) {
      r.rule = "marked";
      r.warmup = drop;
      r.first_steady = std::max(r.first_steady, *n);
      r.rule_text = "warm-up marked by the run (--warmup " + std::to_string(*n) + "): " + std::to_string(drop) +
                    " of " + std::to_string(r.total) + " steps dropped";
      return r;
    }
  }
  std::vector<std::pair<std::int64_t, double>> v(job.begin(), job.end());
  std::vector<double> t;
  for (const auto& [s, ns] : v) t.push_back(static_cast<double>(ns));
  const double med = median_of(t);
  std::size_t drop = v.size() / 10, tenth = drop;
  while (drop < v.size() / 2 && v[drop].second > 1.5 * med) ++drop;
  r.rule = "first 10 % + leading outliers";
  r.warmup = static_cast<int>(drop);
  r.first_steady = v[drop].first;
  r.rule_text = "no warm-up marked: dropped the first 10 % of the steps (" + std::to_string(tenth) + ") and " +
                std::to_string(drop - tenth) + " further leading step(s) slower than 1.5x the median step; " +
                std::to_string(drop) + " of " + std::to_string(r.total) + " steps dropped";
  return r;
}

}  // namespace moetune::analyzers

namespace moetune::analyzers {

std::optional<DetectedPeriod> detect_step_period(const RunData& run, std::int64_t rank) {
  auto lo = std::lower_bound(run.kernels.begin(), run.kernels.end(), rank,
                             [](const KernelRow& k, std::int64_t r) { return k.rank.value < r; });
  auto hi = std::upper_bound(lo, run.kernels.end(), rank,
                             [](std::int64_t r, const KernelRow& k) { return r < k.rank.value; });
  const auto n = static_cast<std::size_t>(hi - lo);
  if (n < 8) return std::nullopt;
  // Kernels of one rank arrive sorted by start (RunData); name ids index run.strings.
  const std::size_t names = run.strings.size();
  std::vector<std::int64_t> seq(n);
  std::vector<std::uint32_t> count(names + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    auto id = lo[static_cast<std::ptrdiff_t>(i)].name.value;
    seq[i] = (id >= 0 && static_cast<std::size_t>(id) < names) ? id : static_cast<std::int64_t>(names);
    ++count[static_cast<std::size_t>(seq[i])];
  }
  // Positions of every name with >= 4 occurrences, grouped by name (counting sort).
  std::vector<std::size_t> first(names + 2, 0);
  for (std::size_t id = 0; id <= names; ++id) first[id + 1] = first[id] + (count[id] >= 4 ? count[id] : 0);
  std::vector<std::size_t> pos(first[names + 1]), fill(first.begin(), first.end() - 1);
  for (std::size_t i = 0; i < n; ++i) {
    auto id = static_cast<std::size_t>(seq[i]);
    if (count[id] >= 4) pos[fill[id]++] = i;
  }
  struct Cand {
    std::size_t id, d;
  };
  std::vector<Cand> cands;
  std::vector<std::size_t> dist;
  for (std::size_t id = 0; id < names; ++id) {
    if (count[id] < 4) continue;
    const std::size_t* p = pos.data() + first[id];
    const std::size_t c = count[id];
    if (2 * (p[c - 1] - p[0]) < n) continue;  // the repeats must span half of the kernels
    dist.resize(c - 1);
    for (std::size_t j = 0; j + 1 < c; ++j) dist[j] = p[j + 1] - p[j];
    std::nth_element(dist.begin(), dist.begin() + static_cast<std::ptrdiff_t>(dist.size() / 2), dist.end());
    const std::size_t d = dist[dist.size() / 2];
    if (d < 2) continue;
    const std::size_t tol = std::max<std::size_t>(2, d / 20);
    std::size_t ok = 0;
    for (auto x : dist) ok += (x + tol >= d && x <= d + tol);
    if (10 * ok >= 9 * dist.size()) cands.push_back({id, d});
  }
  std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.d != b.d ? a.d > b.d : a.id < b.id; });
  for (const auto& c : cands) {
    const std::size_t* p = pos.data() + first[c.id];
    const std::size_t cnt = count[c.id];
    // Consecutive periods must hold the same kernels (as a multiset: the order of kernels on
    // different streams may differ): mean overlap of up to 8 evenly spread window pairs.
    const std::size_t pairs = std::min<std::size_t>(8, cnt - 2);
    double match = 0;
    std::vector<std::int64_t> wa, wb;
    for (std::size_t k = 0; k < pairs; ++k) {
      const std::size_t j = pairs > 1 ? (cnt - 3) * k / (pairs - 1) : 0;
      wa.assign(seq.begin() + static_cast<std::ptrdiff_t>(p[j]), seq.begin() + static_cast<std::ptrdiff_t>(p[j + 1]));
      wb.assign(seq.begin() + static_cast<std::ptrdiff_t>(p[j + 1]), seq.begin() + static_cast<std::ptrdiff_t>(p[j + 2]));
      std::sort(wa.begin(), wa.end());
      std::sort(wb.begin(), wb.end());
      std::size_t common = 0;
      for (std::size_t x = 0, y = 0; x < wa.size() && y < wb.size();) {
        if (wa[x] == wb[y]) ++common, ++x, ++y;
        else if (wa[x] < wb[y]) ++x;
        else ++y;
      }
      match += static_cast<double>(common) / static_cast<double>(std::max(wa.size(), wb.size()));
    }
    match /= static_cast<double>(pairs);
    if (match < 0.8) continue;
    DetectedPeriod r;
    r.kernels = static_cast<std::int64_t>(c.d);
    r.anchor = run.strings[c.id];
    r.match = match;
    for (std::size_t j = 0; j + 1 < cnt; ++j) {
      auto s = lo[static_cast<std::ptrdiff_t>(p[j])].start_ns, e = lo[static_cast<std::ptrdiff_t>(p[j + 1])].start_ns;
      if (e > s) r.windows.push_back({s, e});
    }
    if (r.windows.size() >= 3) return r;
  }
  return std::nullopt;
}

}  // namespace moetune::analyzers
