// SPDX-License-Identifier: Apache-2.0
// The report model: the plot series and tables every report front end draws, computed
// once from RunData + AnalysisResult without Qt. The HTML renderer (report.h) draws
// them as inline SVG; the GUI binary (moetune-gui --report, ui/report/) draws the same
// plots with QCustomPlot as PNGs for PDF. Series are thinned (one point per step, per
// rank, per power-of-two size bucket), never one per event: cost is linear in the
// rows read once, output bounded by steps x ranks.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "moetune/analyzers/model.h"

namespace moetune::analyzers {

// One polyline of a plot.
struct Series {
  std::string name;
  std::vector<double> x, y;
};

// Step time (ms) per step, one series per rank ("rank N").
std::vector<Series> step_time_series(const RunData& run);

// Bus bandwidth (GB/s) per collective vs message size, as the bandwidth analysis measured
// it (AnalysisResult::collectives: instances aligned across ranks, nccl-tests factors,
// median over instances): one point per size (x = bytes; where several algorithms share
// a size, the one with most instances). The ceiling is the highest link ceiling the
// analysis judges the collectives with: raw link rate x achievable fraction (measured or
// assumed, link_rates.h); 0 when no collective crosses a known link.
struct BusBw {
  std::vector<Series> by_func;  // name = collective ("AllReduce", "AllToAll", ...)
  double ceiling_gbps = 0;      // achievable
  double ceiling_raw_gbps = 0, ceiling_fraction = 0;
  std::string ceiling_link;
  // "link ceiling NV18 290 GB/s (achievable: 80 % of 362 GB/s raw)"; "" without a ceiling.
  std::string ceiling_label() const;
};
BusBw busbw_series(const AnalysisResult& r);


// Routed tokens per (step, expert) for one layer, summed over ranks; hot/cold experts
// of the layer as the experts analysis lists them (AnalysisResult::experts); none when
// there is no result or the analysis listed none (hot_from_metrics false).
struct ExpertHeat {
  int layer = 0;
  std::int64_t step_min = 0, step_max = 0;
  int experts = 0;                                        // highest expert + 1
  std::map<std::pair<std::int64_t, int>, double> tokens;  // (step, expert) -> tokens
  std::vector<int> hot, cold;
  bool hot_from_metrics = false;
};
std::vector<int> expert_layers(const RunData& run);
ExpertHeat expert_heat(const RunData& run, const AnalysisResult* result, int layer);

// Topology as a square matrix of link codes over the device names seen (the report
// table; not import::TopoMatrix, which is the parsed `nvidia-smi topo -m` text).
struct LinkMatrix {
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> code;  // code[i][j]; "" when unknown
};
LinkMatrix link_matrix(const RunData& run);

// The plots a report carries, in order: id (file stem for PNGs: "step_time",
// "comm_ratio", "busbw", "experts_l<N>") and title. Only plots with data are listed;
// expert heatmaps for the first kMaxExpertLayers layers.
struct PlotSpec {
  std::string id, title;
  int layer = -1;  // expert heatmaps only
};
inline constexpr int kMaxExpertLayers = 6;
std::vector<PlotSpec> report_plots(const RunData& run, const AnalysisResult& r);

// Inline SVG of one plot of report_plots() ("" when the plot has no data).
std::string plot_svg(const PlotSpec& p, const RunData& run, const AnalysisResult& r);

}  // namespace moetune::analyzers
