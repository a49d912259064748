// SPDX-License-Identifier: Apache-2.0
// Plot builders shared by the GUI panels and the Qt report (moetune_report_qt).
// Each fills a QCustomPlot from RunData (+ analyzer metrics where they exist) and
// returns a one-line note when the run lacks the data, instead of drawing nothing
// silently. Series are thinned (one point per step / per size bucket), never per event.
#pragma once
#include <QString>
#include <cstdint>
#include <string>
#include <vector>

#include "moetune/analyzers/model.h"

class QCustomPlot;

namespace moetune::ui {

// One step of the run: the union over ranks of that step's [start, end].
struct StepSpan {
  std::int64_t step = 0;
  std::int64_t t0 = 0, t1 = 0;
};
std::vector<StepSpan> step_spans(const analyzers::RunData& run);

// Step time (ms) per step, one graph per rank.
QString build_step_time_plot(QCustomPlot* plot, const analyzers::RunData& run);
// Comm ratio and exposed comm per step per rank, from AnalysisResult::per_step.
QString build_comm_ratio_plot(QCustomPlot* plot, const analyzers::AnalysisResult& result);
// Bus bandwidth vs message size per collective as the bandwidth analysis measured it, with
// its link ceiling (raw x achievable fraction): analyzers::busbw_series.
QString build_busbw_plot(QCustomPlot* plot, const analyzers::AnalysisResult& result);
// Experts x steps heatmap of routed tokens (summed over ranks) for one layer; the hot and
// cold experts the experts analysis lists (AnalysisResult::experts) marked on the right.
QString build_expert_heatmap(QCustomPlot* plot, const analyzers::RunData& run,
                             const analyzers::AnalysisResult* result, int layer);
std::vector<int> expert_layers(const analyzers::RunData& run);

// Topology as a square matrix of link codes over the device names seen.
struct TopoMatrix {
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> code;  // code[i][j]; "" when unknown
};
TopoMatrix topology_matrix(const analyzers::RunData& run);

// Adds (or moves) a vertical marker line at x on the plot (replay cursor).
void set_plot_marker(QCustomPlot* plot, double x);

}  // namespace moetune::ui
