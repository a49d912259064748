// SPDX-License-Identifier: Apache-2.0
#include "moetune/analyzers/diff.h"

#include <algorithm>
#include <map>
#include <set>

#include "moetune/analyzers/comm_rules.h"
#include "moetune/analyzers/steps.h"

namespace moetune::analyzers {
namespace {


// Mean over ranks of one per-rank metric; empty when the analysis has none.
std::optional<double> mean_metric(const AnalysisResult& r, double RankMetrics::*field) {
  if (r.per_rank.empty()) return std::nullopt;
  double s = 0;
  for (const auto& row : r.per_rank) s += row.*field;
  return s / static_cast<double>(r.per_rank.size());
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
  for (const auto& st : run.steps) {
    ranks.insert(static_cast<int>(st.rank.value));
    ++s.steps;
  }
  s.ranks = static_cast<int>(ranks.size());
  const SteadySteps steady = steady_steps(run);
  s.steps_total = steady.total;
  s.steps_used = steady.used();
  s.warmup_rule = steady.rule_text;
  std::vector<double> job_ms;
  for (const auto& [step, ns] : job_step_ns(run))
    if (steady.is_steady(step)) job_ms.push_back(static_cast<double>(ns) / 1e6);
  if (!job_ms.empty()) {
    s.step_time_ms = median_of(job_ms);
    double sum = 0;
    for (double v : job_ms) sum += v;
    s.step_time_mean_ms = sum / static_cast<double>(job_ms.size());
  }
  std::map<int, std::vector<double>> rank_ms;
  std::map<std::int64_t, double> step_tokens;  // steady step -> tokens summed over ranks
  bool any_tokens = false;
  for (const auto& st : run.steps) {
    if (!steady.is_steady(st.step) || st.end_ns <= st.start_ns) continue;
    rank_ms[static_cast<int>(st.rank.value)].push_back(static_cast<double>(st.end_ns - st.start_ns) / 1e6);
    if (st.tokens) {
      step_tokens[st.step] += static_cast<double>(*st.tokens);
      any_tokens = true;
    }
  }
  for (auto& [rk, v] : rank_ms) s.rank_step_ms[rk] = median_of(v);
  if (any_tokens && s.step_time_ms && *s.step_time_ms > 0) {
    double tok = 0;
    for (const auto& [step, t] : step_tokens) tok += t;
    s.tokens_per_s = tok / static_cast<double>(step_tokens.size()) / (*s.step_time_ms / 1e3);
  }
  s.exposed_comm_ms = mean_metric(r, &RankMetrics::exposed_comm_ms);
  s.comm_ratio = mean_metric(r, &RankMetrics::comm_ratio);
  std::map<std::string, double> bytes, local;
  for (const auto& o : run.nccl_ops) (is_self_send(o) ? local : bytes)[o.func] += static_cast<double>(o.bytes);
  auto per_step = [&](double b) { return s.steps > 0 ? b / static_cast<double>(s.steps) : b; };
  for (auto& [f, b] : bytes) s.bytes_per_step[f] = per_step(b);
  for (auto& [f, b] : local) s.local_bytes_per_step[f] = per_step(b);
  s.findings = r.findings;
  return s;
}

bool profile_applies(const Profile& p, const Finding& f) {
  for (const auto& fx : f.recommendation.fixes) {
    if (fx.body.value("optional", false)) continue;
    const std::string name = fx.body.value("name", "");
    if (fx.type == "env") {
      auto it = p.env.find(name);
      if (it != p.env.end() && it->second == fx.body.value("value", std::string())) return true;
    } else if (fx.type == "flag") {
      if (std::find(p.flags.begin(), p.flags.end(), name) != p.flags.end()) return true;
    } else if (fx.type == "placement") {
      if (p.placement || !p.placement_file.empty()) return true;
    }
  }
  return false;
}

nlohmann::json predicted_vs_measured(const RunSummary& a, const RunSummary& b, const Profile& profile) {
  nlohmann::json fixes = nlohmann::json::array();
  double keep = 1.0;  // product of (1 - g) over the estimated fixes
  int estimated = 0;
  for (const auto& id : profile.findings) {
    const Finding* f = nullptr;
    for (const auto& x : a.findings)
      if (x.id == id) f = &x;
    if (!f) {
      fixes.push_back({{"finding", id}, {"status", "not in the before run's analysis"}});
      continue;
    }
    nlohmann::json row{{"finding", id}, {"kind", to_string(f->kind)}, {"title", f->title}, {"basis", f->gain_basis}};
    if (!profile_applies(profile, *f)) {
      row["status"] = "not applied (a code change the profile only describes)";
      row["predicted_gain_pct"] = nullptr;
      fixes.push_back(std::move(row));
      continue;
    }
    if (f->estimated_gain_pct > 0) {
      row["predicted_gain_pct"] = f->estimated_gain_pct;
      keep *= std::max(0.0, 1.0 - f->estimated_gain_pct / 100.0);
      ++estimated;
    } else {
      row["predicted_gain_pct"] = nullptr;  // the finding did not size its time effect
    }
    fixes.push_back(std::move(row));
  }
  nlohmann::json j{{"fixes", fixes}};
  j["predicted_gain_pct"] = estimated ? nlohmann::json(100.0 * (1.0 - keep)) : nlohmann::json(nullptr);
  if (a.step_time_ms && b.step_time_ms && *a.step_time_ms > 0) {
    const double measured = 100.0 * (*a.step_time_ms - *b.step_time_ms) / *a.step_time_ms;
    j["measured_gain_pct"] = measured;
    if (estimated) j["error_points"] = measured - 100.0 * (1.0 - keep);
  } else {
    j["measured_gain_pct"] = nullptr;
  }
  j["basis"] = "gain = step-time reduction in % of the before step time (median of steady steps); fixes applied "
               "together are measured together, their predictions combined as 1 - prod(1 - g)";
  return j;
}

nlohmann::json diff_runs(const RunSummary& a, const RunSummary& b, const Profile* applied) {
  nlohmann::json j{{"format_version", 1}};
  if (applied) j["predicted_vs_measured"] = predicted_vs_measured(a, b, *applied);
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
  auto& loc = j["local_bytes_per_step"] = nlohmann::json::object();
  std::set<std::string> lfuncs;
  for (const auto& [f, v] : a.local_bytes_per_step) lfuncs.insert(f);
  for (const auto& [f, v] : b.local_bytes_per_step) lfuncs.insert(f);
  for (const auto& f : lfuncs) {
    auto get = [&](const RunSummary& s) {
      auto it = s.local_bytes_per_step.find(f);
      return std::optional<double>(it == s.local_bytes_per_step.end() ? 0.0 : it->second);
    };
    loc[f] = change(get(a), get(b));
  }
  j["steps"] = {{"before", a.steps}, {"after", b.steps}};
  j["steps_used"] = {{"before", a.steps_used}, {"after", b.steps_used}};
  j["steps_total"] = {{"before", a.steps_total}, {"after", b.steps_total}};
  j["warmup_rule"] = {{"before", a.warmup_rule}, {"after", b.warmup_rule}};
  j["step_time_mean_ms"] = change(a.step_time_mean_ms, b.step_time_mean_ms);
  auto rank_json = [](const RunSummary& s) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [rk, v] : s.rank_step_ms) o[std::to_string(rk)] = v;
    return o;
  };
  j["rank_step_time_ms"] = {{"before", rank_json(a)}, {"after", rank_json(b)}};
  j["step_time_basis"] = "median over steady-state steps of the job step time (max over ranks per step); "
                         "tokens/s = mean tokens per steady step (all ranks) / that median";
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
