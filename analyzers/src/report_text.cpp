// SPDX-License-Identifier: Apache-2.0
// Plain-text (CLI) and Markdown reports. Same sections as report.h describes.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "moetune/analyzers/evidence_format.h"
#include "moetune/analyzers/report.h"
#include "moetune/analyzers/report_model.h"

namespace moetune::analyzers {
namespace {

std::string num(double v, int prec = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

std::string ranks_text(const std::vector<int>& ranks) {
  std::string s;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    if (i == 8) return s + ", ... (" + std::to_string(ranks.size()) + " ranks)";
    s += (i ? ", " : "") + std::to_string(ranks[i]);
  }
  return s.empty() ? "-" : s;
}

std::string fix_text(const Fix& f) {
  const auto& b = f.body;
  auto get = [&](const char* k) { return b.contains(k) && b[k].is_string() ? b[k].get<std::string>() : std::string(); };
  if (f.type == "env") {
    auto s = get("name") + "=" + get("value");
    if (!get("scope").empty()) s += " (scope: " + get("scope") + ")";
    return "env  " + s;
  }
  if (f.type == "flag") return "flag " + get("name") + " " + get("value");
  if (f.type == "placement") return "placement " + (get("file").empty() ? std::string("plan") : get("file"));
  if (f.type == "code") return "code " + get("description");
  return f.type + " " + b.dump();
}

const std::vector<RankMetrics>* per_rank(const AnalysisResult& r) { return r.per_rank.empty() ? nullptr : &r.per_rank; }

}  // namespace

std::string report_text(const RunData& run, const AnalysisResult& r) {
  std::ostringstream o;
  auto s = summarize(r);
  o << "run      " << run.path.string();
  if (run.meta.count("synthetic") && run.meta.at("synthetic") == "1") o << " (SYNTHETIC)";
  o << "\nranks    " << run.ranks.size() << "\nfindings " << r.findings.size() << " (critical " << s.by_severity[3]
    << ", high " << s.by_severity[2] << ", medium " << s.by_severity[1] << ", low " << s.by_severity[0] << ")\n\n";
  if (const auto* pr = per_rank(r)) {
    char line[256];
    std::snprintf(line, sizeof line, "%5s %6s %10s %10s %9s %10s %9s %7s %9s\n", "rank", "steps", "step_ms", "compute_ms",
                  "comm_ms", "exposed_ms", "overlap%", "comm%", "idle_ms");
    o << line;
    for (const auto& row : *pr) {
      std::snprintf(line, sizeof line, "%5d %6d %10.3f %10.3f %9.3f %10.3f %9.1f %7.1f %9.3f\n", row.rank, row.steps,
                    row.step_time_ms, row.compute_ms, row.comm_ms, row.exposed_comm_ms, row.overlap_pct,
                    100 * row.comm_ratio, row.idle_ms);
      o << line;
    }
    o << "(per-step means; comm% = communication time / step time)\n\n";
  }
  if (auto bs = bucket_shares(r); !bs.empty()) {
    o << "time buckets, % of step (docs/ANALYZE-JSON.md)\n rank";
    for (const char* l : kBucketLabels) o << " " << std::string(9 - std::min<std::size_t>(9, std::strlen(l)), ' ') << l;
    o << "\n";
    for (const auto& b : bs) {
      char line[32];
      std::snprintf(line, sizeof line, "%5d", b.rank);
      o << line;
      for (double p : b.pct) std::snprintf(line, sizeof line, " %9.1f", p), o << line;
      o << "\n";
    }
    o << "\n";
  }
  if (r.findings.empty()) o << "No findings.\n";
  for (const auto& f : r.findings) {
    o << "[" << to_string(f.severity) << "] " << f.id << ": " << f.title << "\n";
    o << "    ranks: " << ranks_text(f.ranks) << "\n";
    o << "    estimated gain: " << num(f.estimated_gain_pct, 1) << "% (" << f.gain_basis << ")\n";
    o << "    recommendation: " << f.recommendation.text << "\n";
    for (const auto& fx : f.recommendation.fixes) o << "      fix: " << fix_text(fx) << "\n";
    if (!f.evidence.empty()) o << "    evidence:\n" << evidence_text(f.evidence, "      ");
    o << "\n";
  }
  for (const auto& n : r.notes) o << "note: " << n << "\n";
  return o.str();
}

std::string report_markdown(const RunData& run, const AnalysisResult& r) {
  std::ostringstream o;
  auto s = summarize(r);
  o << "# moetune report\n\n";
  o << "- Run: `" << run.path.string() << "`";
  if (run.meta.count("synthetic") && run.meta.at("synthetic") == "1") o << " **(synthetic run)**";
  o << "\n- Source: " << (run.meta.count("source") ? run.meta.at("source") : std::string("unknown"))
    << "\n- Ranks: " << run.ranks.size() << "\n";
  o << "\n## Summary\n\n";
  if (s.have_metrics)
    o << "Mean step time " << num(s.step_time_ms, 3) << " ms; communication takes " << num(100 * s.comm_ratio, 1)
      << "% of it, " << num(s.overlap_pct, 1) << "% of communication overlaps compute, and "
      << num(s.exposed_comm_ms, 3) << " ms per step is exposed (the GPU only communicates). GPU idle "
      << num(s.idle_ms, 3) << " ms per step.\n\n";
  o << r.findings.size() << " findings: " << s.by_severity[3] << " critical, " << s.by_severity[2] << " high, "
    << s.by_severity[1] << " medium, " << s.by_severity[0] << " low.";
  if (!r.findings.empty())
    o << " Most costly: **" << r.findings.front().title << "** (estimated gain "
      << num(r.findings.front().estimated_gain_pct, 1) << "%).";
  o << "\n";
  if (!run.ranks.empty()) {
    o << "\n## Ranks\n\n| rank | host | GPU | source |\n|---:|---|---|---|\n";
    for (const auto& k : run.ranks)
      o << "| " << k.rank.value << " | " << k.host << " | " << k.gpu_name << " | " << k.source << " |\n";
  }
  if (const auto* pr = per_rank(r)) {
    o << "\n## Per rank (means per step)\n\n| rank | steps | step ms | compute ms | comm ms | exposed comm ms | overlap % | "
         "comm ratio % | idle ms |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& row : *pr)
      o << "| " << row.rank << " | " << row.steps << " | " << num(row.step_time_ms, 3) << " | " << num(row.compute_ms, 3)
        << " | " << num(row.comm_ms, 3) << " | " << num(row.exposed_comm_ms, 3) << " | " << num(row.overlap_pct, 1)
        << " | " << num(100 * row.comm_ratio, 1) << " | " << num(row.idle_ms, 3) << " |\n";
  }
  if (auto bs = bucket_shares(r); !bs.empty()) {
    o << "\n## Time accounting (% of step; docs/ANALYZE-JSON.md)\n\n| rank |";
    for (const char* l : kBucketLabels) o << " " << l << " |";
    o << "\n|---:|";
    for (int i = 0; i < 10; ++i) o << "---:|";
    o << "\n";
    for (const auto& b : bs) {
      o << "| " << b.rank << " |";
      for (double p : b.pct) o << " " << num(p, 1) << " |";
      o << "\n";
    }
  }
  o << "\n## Findings\n";
  if (r.findings.empty()) o << "\nNo findings.\n";
  for (const auto& f : r.findings) {
    o << "\n### " << f.id << " — " << f.title << "\n\n";
    o << "- Severity: **" << to_string(f.severity) << "**; ranks: " << ranks_text(f.ranks) << "\n";
    o << "- Estimated gain: " << num(f.estimated_gain_pct, 1) << "% — " << f.gain_basis << "\n";
    o << "- Recommendation: " << f.recommendation.text << "\n";
    for (const auto& fx : f.recommendation.fixes) o << "  - fix: `" << fix_text(fx) << "`\n";
    if (!f.time_ranges.empty()) {
      o << "- Time ranges (ns):";
      for (const auto& t : f.time_ranges) o << " [" << t.start_ns << ", " << t.end_ns << "]";
      o << "\n";
    }
    o << "\n<details><summary>evidence</summary>\n\n```json\n" << f.evidence.dump(2) << "\n```\n</details>\n";
  }
  const StepRatios sr = step_ratios(r);
  if (!sr.ratio.empty()) {
    o << "\n## Communication ratio per step (% of step time)\n\n";
    if (!sr.warmup.empty())
      o << "Warm-up steps " << step_list(sr.warmup) << " are marked and left out of the per-rank means.\n\n";
    o << "| step |";
    for (int k : sr.ranks) o << " rank " << k << " |";
    o << "\n|---:|";
    for (std::size_t i = 0; i < sr.ranks.size(); ++i) o << "---:|";
    o << "\n";
    for (const auto& [step, row] : sr.ratio) {
      o << "| " << (step < 0 ? std::string("whole run") : std::to_string(step) + (sr.warmup.count(step) ? " (warm-up)" : ""))
        << " |";
      for (int k : sr.ranks) o << " " << (row.count(k) ? num(100 * row.at(k), 1) : std::string("")) << " |";
      o << "\n";
    }
  }
  if (const LinkMatrix t = link_matrix(run); !t.names.empty()) {
    o << "\n## Topology\n\n|  |";
    for (const auto& n : t.names) o << " " << n << " |";
    o << "\n|---|";
    for (std::size_t i = 0; i < t.names.size(); ++i) o << "---|";
    o << "\n";
    for (std::size_t i = 0; i < t.names.size(); ++i) {
      o << "| " << t.names[i] << " |";
      for (std::size_t j = 0; j < t.names.size(); ++j) o << " " << t.code[i][j] << " |";
      o << "\n";
    }
  }
  if (!r.notes.empty()) {
    o << "\n## Notes\n\n";
    for (const auto& n : r.notes) o << "- " << n << "\n";
  }
  o << "\n## Trace health\n\n";
  if (run.stats.empty()) o << "No issues recorded.\n";
  for (const auto& st : run.stats)
    o << "- [" << to_string(st.severity) << "] " << st.name << " = " << st.value << (st.description.empty() ? "" : ": ")
      << st.description << "\n";
  return o.str();
}

}  // namespace moetune::analyzers
