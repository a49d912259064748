// SPDX-License-Identifier: Apache-2.0
#include <algorithm>

#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/comm_rules.h"

namespace moetune::analyzers {
namespace {

// metrics.comm_vocabulary: the user rules in force and the heaviest kernels that look like
// communication but no rule classifies (also one note line, so users know to add a rule).
void comm_vocabulary_health(const RunData& run, const AnalyzeOptions& opts, AnalysisResult& r) {
  auto u = unclassified_comm_like(run.strings, run.kernels);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& x : u)
    list.push_back({{"name", x.name}, {"total_ms", static_cast<double>(x.total_ns) / 1e6}, {"kernels", x.count}});
  r.metrics["comm_vocabulary"] = {{"user_rules", opts.comm_rules ? opts.comm_rules->origin() : std::string()},
                                  {"user_rule_count", opts.comm_rules ? opts.comm_rules->rules().size() : 0},
                                  {"unclassified_comm_like", list}};
  if (auto line = unclassified_comm_line(u); !line.empty()) r.notes.push_back(line);
}

}  // namespace

AnalysisResult analyze(const RunData& run, const AnalyzeOptions& opts) {
  AnalysisResult r;
  comm::ScopedRules rules(opts.comm_rules.get());  // every analysis classifies with the user's rules too
  analyze_comm_overlap(run, opts, r);
  analyze_stragglers(run, opts, r);
  analyze_global_sync(run, opts, r);  // after stragglers: leaves a late rank they name to them
  analyze_experts(run, opts, r);
  analyze_precision(run, opts, r);
  analyze_bandwidth(run, opts, r);
  comm_vocabulary_health(run, opts, r);
  // Most costly first; ids numbered per kind in that order.
  std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    return a.estimated_gain_pct > b.estimated_gain_pct;
  });
  std::map<std::string, int> per_kind;
  for (auto& f : r.findings) f.id = std::string(to_string(f.kind)) + "-" + std::to_string(++per_kind[to_string(f.kind)]);
  return r;
}

}  // namespace moetune::analyzers
