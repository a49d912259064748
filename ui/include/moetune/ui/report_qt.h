// SPDX-License-Identifier: Apache-2.0
// moetune_report_qt: the analysis report rendered with Qt + QCustomPlot.
// Plots (comm ratio per step and rank, expert heatmap) are drawn offscreen into
// PNGs; HTML embeds them as base64 data URIs (one self-contained file), PDF lays the
// same HTML out with QTextDocument onto a QPdfWriter. Works without a running
// QApplication: one is created on the offscreen platform for the call if needed.
// Cost: a few plots of at most (steps x ranks) points each; independent of trace size.
#pragma once
#include <filesystem>
#include <string>

#include "moetune/analyzers/model.h"
#include "moetune/trace/result.h"

namespace moetune::ui {

// format: "html" or "pdf". Error message names `out` (write failure) or the format.
Expected<void> render_report_qt(const analyzers::RunData& run, const analyzers::AnalysisResult& result,
                                const std::string& format, const std::filesystem::path& out);

}  // namespace moetune::ui
