// SPDX-License-Identifier: Apache-2.0
#include "moetune/analyzers/diff.h"

#include <map>
#include <set>

namespace moetune::analyzers {
namespace {

std::optional<double> mean_metric(const AnalysisResult& r, const char* key) {
  if (!r.metrics.contains("per_rank") || !r.metrics["per_rank"].is_array()) return std::nullopt;
  double s = 0;
  int n = 0;
  for (const auto& row : r.metrics["per_rank"])
    if (row.contains(key) && row[key].is_number()) {
      s += row[key].get<double>();
      ++n;
    }
  if (n == 0) return std::nullopt;
  return s / n;
}

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

nlohmann::json change(const std::optional<double>& a, const std::optional<double>& b) {
  nlohmann::json j{{"before", opt(a)}, {"after", opt(b)}};
  if (a && b && *a != 0) j["change_pct"] = 100.0 * (*b - *a) / *a;
  if (a && b && *b != 0) j["ratio_before_over_after"] = *a / *b;
  return j;
}

}  // namespace

RunSummary summarize(const RunData& run, const AnalysisResult& r) {
  RunSummary s;
  std::set<int> ranks;
  std::map<int, std::pair<double, double>> per_rank;  // rank -> (tokens, seconds)
  bool any_tokens = false;
  double dur = 0;
  for (const auto& st : run.steps) {
    ranks.insert(static_cast<int>(st.rank.value));
    double sec = static_cast<double>(st.end_ns - st.start_ns) / 1e9;
    dur += sec;
    auto& pr = per_rank[static_cast<int>(st.rank.value)];
    pr.second += sec;
    if (st.tokens) {
      pr.first += static_cast<double>(*st.tokens);
      any_tokens = true;
    }
    ++s.steps;
  }
  s.ranks = static_cast<int>(ranks.size());
  if (s.steps > 0) s.step_time_ms = 1e3 * dur / static_cast<double>(s.steps);
  if (any_tokens) {
    double tps = 0;
    for (const auto& [rk, pr] : per_rank)
      if (pr.second > 0) tps += pr.first / pr.second;
    s.tokens_per_s = tps;
  }
  s.exposed_comm_ms = mean_metric(r, "exposed_comm_ms");
  s.comm_ratio = mean_metric(r, "comm_ratio");
  std::map<std::string, double> bytes;
  for (const auto& o : run.nccl_ops) bytes[o.func] += static_cast<double>(o.bytes);
  for (auto& [f, b] : bytes) s.bytes_per_step[f] = s.steps > 0 ? b / static_cast<double>(s.steps) : b;
  s.findings = r.findings;
  return s;
}

nlohmann::json diff_runs(const RunSummary& a, const RunSummary& b) {
  nlohmann::json j{{"format_version", 1}};
  j["step_time_ms"] = change(a.step_time_ms, b.step_time_ms);
  j["exposed_comm_ms"] = change(a.exposed_comm_ms, b.exposed_comm_ms);
  j["comm_ratio"] = change(a.comm_ratio, b.comm_ratio);
  j["tokens_per_s"] = change(a.tokens_per_s, b.tokens_per_s);
  if (a.tokens_per_s && b.tokens_per_s && *a.tokens_per_s > 0) j["speedup"] = *b.tokens_per_s / *a.tokens_per_s;
  else if (a.step_time_ms && b.step_time_ms && *b.step_time_ms > 0) j["speedup"] = *a.step_time_ms / *b.step_time_ms;
  auto& tr = j["traffic_bytes_per_step"] = nlohmann::json::object();
  std::set<std::string> funcs;
  for (const auto& [f, v] : a.bytes_per_step) funcs.insert(f);
  for (const auto& [f, v] : b.bytes_per_step) funcs.insert(f);
  for (const auto& f : funcs) {
    auto get = [&](const RunSummary& s) -> std::optional<double> {
      auto it = s.bytes_per_step.find(f);
      return it == s.bytes_per_step.end() ? std::optional<double>(0.0) : std::optional<double>(it->second);
    };
    tr[f] = change(get(a), get(b));
  }
  j["steps"] = {{"before", a.steps}, {"after", b.steps}};
  j["ranks"] = {{"before", a.ranks}, {"after", b.ranks}};
  std::set<std::string> after_kinds;
  for (const auto& f : b.findings) after_kinds.insert(to_string(f.kind));
  auto& fs = j["findings"] = nlohmann::json::array();
  std::set<std::string> before_kinds;
  for (const auto& f : a.findings) {
    before_kinds.insert(to_string(f.kind));
    fs.push_back({{"id", f.id}, {"kind", to_string(f.kind)}, {"title", f.title},
                  {"status", after_kinds.count(to_string(f.kind)) ? "still there" : "gone"}});
  }
  for (const auto& f : b.findings)
    if (!before_kinds.count(to_string(f.kind)))
      fs.push_back({{"id", f.id}, {"kind", to_string(f.kind)}, {"title", f.title}, {"status", "new"}});
  return j;
}

}  // namespace moetune::analyzers
