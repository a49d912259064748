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

std::optional<double> Change::change_pct() const {
  if (before && after && *before != 0) return 100.0 * (*after - *before) / *before;
  return std::nullopt;
}

std::optional<double> Change::ratio() const {
  if (before && after && *after != 0) return *before / *after;
  return std::nullopt;
}

nlohmann::json to_json(const Change& c) {
  nlohmann::json j{{"before", opt(c.before)}, {"after", opt(c.after)}};
  if (auto p = c.change_pct()) j["change_pct"] = *p;
  if (auto r = c.ratio()) j["ratio_before_over_after"] = *r;
  return j;
}

RunDiff compare_runs(const RunSummary& a, const RunSummary& b) {
  RunDiff d;
  d.step_time_ms = {a.step_time_ms, b.step_time_ms};
  d.step_time_mean_ms = {a.step_time_mean_ms, b.step_time_mean_ms};
  d.exposed_comm_ms = {a.exposed_comm_ms, b.exposed_comm_ms};
  d.comm_ratio = {a.comm_ratio, b.comm_ratio};
  d.tokens_per_s = {a.tokens_per_s, b.tokens_per_s};
  if (a.tokens_per_s && b.tokens_per_s && *a.tokens_per_s > 0) d.speedup = *b.tokens_per_s / *a.tokens_per_s;
  else if (a.step_time_ms && b.step_time_ms && *b.step_time_ms > 0) d.speedup = *a.step_time_ms / *b.step_time_ms;
  // A collective missing on one side moved 0 bytes there.
  auto by_func = [](const std::map<std::string, double>& x, const std::map<std::string, double>& y) {
    std::map<std::string, Change> out;
    for (const auto& [f, v] : x) out[f] = {v, 0.0};
    for (const auto& [f, v] : y) {
      auto [it, fresh] = out.try_emplace(f, Change{0.0, v});
      if (!fresh) it->second.after = v;
    }
    return out;
  };
  d.traffic_bytes_per_step = by_func(a.bytes_per_step, b.bytes_per_step);
  d.local_bytes_per_step = by_func(a.local_bytes_per_step, b.local_bytes_per_step);
  std::set<std::string> after_kinds, before_kinds;
  for (const auto& f : b.findings) after_kinds.insert(to_string(f.kind));
  for (const auto& f : a.findings) {
    before_kinds.insert(to_string(f.kind));
    d.findings.push_back({f.id, to_string(f.kind), f.title, after_kinds.count(to_string(f.kind)) ? "still there" : "gone"});
  }
  for (const auto& f : b.findings)
    if (!before_kinds.count(to_string(f.kind))) d.findings.push_back({f.id, to_string(f.kind), f.title, "new"});
  return d;
}

nlohmann::json diff_runs(const RunSummary& a, const RunSummary& b, const Profile* applied) {
  const RunDiff d = compare_runs(a, b);
  nlohmann::json j{{"format_version", 1}};
  if (applied) j["predicted_vs_measured"] = predicted_vs_measured(a, b, *applied);
  j["step_time_ms"] = to_json(d.step_time_ms);
  j["exposed_comm_ms"] = to_json(d.exposed_comm_ms);
  j["comm_ratio"] = to_json(d.comm_ratio);
  j["tokens_per_s"] = to_json(d.tokens_per_s);
  if (d.speedup) j["speedup"] = *d.speedup;
  auto& tr = j["traffic_bytes_per_step"] = nlohmann::json::object();
  for (const auto& [f, c] : d.traffic_bytes_per_step) tr[f] = to_json(c);
  auto& loc = j["local_bytes_per_step"] = nlohmann::json::object();
  for (const auto& [f, c] : d.local_bytes_per_step) loc[f] = to_json(c);
  j["steps"] = {{"before", a.steps}, {"after", b.steps}};
  j["steps_used"] = {{"before", a.steps_used}, {"after", b.steps_used}};
  j["steps_total"] = {{"before", a.steps_total}, {"after", b.steps_total}};
  j["warmup_rule"] = {{"before", a.warmup_rule}, {"after", b.warmup_rule}};
  j["step_time_mean_ms"] = to_json(d.step_time_mean_ms);
  auto rank_json = [](const RunSummary& s) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [rk, v] : s.rank_step_ms) o[std::to_string(rk)] = v;
    return o;
  };
  j["rank_step_time_ms"] = {{"before", rank_json(a)}, {"after", rank_json(b)}};
  j["step_time_basis"] = "median over steady-state steps of the job step time (max over ranks per step); "
                         "tokens/s = mean tokens per steady step (all ranks) / that median";
  j["ranks"] = {{"before", a.ranks}, {"after", b.ranks}};
  auto& fs = j["findings"] = nlohmann::json::array();
  for (const auto& f : d.findings) fs.push_back({{"id", f.id}, {"kind", f.kind}, {"title", f.title}, {"status", f.status}});
  return j;
}

}  // namespace moetune::analyzers
