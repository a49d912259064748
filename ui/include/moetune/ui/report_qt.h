// SPDX-License-Identifier: Apache-2.0
// moetune_report_qt: the Qt front end of the report (linked by moetune-gui only; the
// moetune CLI links no Qt). The HTML is the analyzers' one renderer
// (analyzers::report_html); the report model's plots are drawn offscreen with
// QCustomPlot into PNGs: HTML embeds them as base64 data URIs, PDF lays the same HTML
// out with QTextDocument onto a QPdfWriter, png writes them into a directory. Works
// without a running QApplication: one is created on the offscreen platform if needed.
// Cost: a few plots of at most (steps x ranks) points each; independent of trace size.
#pragma once
#include <filesystem>
#include <string>

#include "moetune/analyzers/model.h"
#include "moetune/trace/result.h"

namespace moetune::ui {

// format: "html", "pdf" or "png" (out is then a directory: <plot id>.png each).
// Error message names `out` (write failure) or the format.
Expected<void> render_report_qt(const analyzers::RunData& run, const analyzers::AnalysisResult& result,
                                const std::string& format, const std::filesystem::path& out);

}  // namespace moetune::ui
