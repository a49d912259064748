// SPDX-License-Identifier: Apache-2.0
// PLACEHOLDER: being written now; reports that it has not run.
#include "moetune/analyzers/analyses.h"
namespace moetune::analyzers {
void analyze_experts(const RunData&, const AnalyzeOptions&, AnalysisResult& out) {
  out.notes.push_back("not enough data: analysis experts is not built yet");
}
}  // namespace moetune::analyzers
