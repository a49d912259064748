// SPDX-License-Identifier: Apache-2.0
// Internal to moetune_analyzers: what the JUDGE step of the analyses (gather.h) shares:
// the severity ladder of a share against its two thresholds, and printf-style text for
// finding titles and advice.
#pragma once
#include <cstdio>
#include <string>

#include "moetune/analyzers/model.h"

namespace moetune::analyzers::detail {

// High at or above `high`, Medium at or above `medium`, else Low (same unit for all three:
// the AnalyzeOptions *_pct thresholds are divided by 100 by the caller when v is a fraction).
inline FindingSeverity severity_at_least(double v, double medium, double high) {
  return v >= high ? FindingSeverity::High : v >= medium ? FindingSeverity::Medium : FindingSeverity::Low;
}

// printf of up to four numbers into text (finding titles; 1 KiB at most).
inline std::string fmt(const char* f, double a = 0, double b = 0, double c = 0, double d = 0) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, f, a, b, c, d);
  return buf;
}

}  // namespace moetune::analyzers::detail
