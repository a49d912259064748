// SPDX-License-Identifier: Apache-2.0
// PLACEHOLDER: being written now; reports that it has not run.
#include "moetune/analyzers/analyses.h"
namespace moetune::analyzers {
void analyze_precision(const RunData&, const AnalyzeOptions&, AnalysisResult& out) {
  out.notes.push_back("not enough data: analysis precision is not built yet");
}
}  // namespace moetune::analyzers
