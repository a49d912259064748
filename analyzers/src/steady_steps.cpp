// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <charconv>
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
