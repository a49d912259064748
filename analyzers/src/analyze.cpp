// SPDX-License-Identifier: Apache-2.0
#include <algorithm>

#include "moetune/analyzers/analyses.h"

namespace moetune::analyzers {

AnalysisResult analyze(const RunData& run, const AnalyzeOptions& opts) {
  AnalysisResult r;
  analyze_comm_overlap(run, opts, r);
  analyze_stragglers(run, opts, r);
  analyze_global_sync(run, opts, r);  // after stragglers: leaves a late rank they name to them
  analyze_experts(run, opts, r);
  analyze_precision(run, opts, r);
  analyze_bandwidth(run, opts, r);
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
