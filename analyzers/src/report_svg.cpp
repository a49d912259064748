// SPDX-License-Identifier: Apache-2.0
// Inline SVG for the report plots (report_model.h): line plots (step time, comm ratio
// per step and rank, bus bandwidth vs message size on a log2 axis with the link
// ceiling) and the experts x steps heatmap. Static markup only: no script, no external
// reference; every text from the trace is XML-escaped.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "moetune/analyzers/report.h"
#include "moetune/analyzers/report_model.h"
#include "report_util.h"
#include "sat_math.h"

namespace moetune::analyzers {
namespace {

std::string esc(const std::string& s) { return detail::html_escape(s); }

std::string num(double v, int prec = 1) { return detail::fixed(v, prec); }

std::string bytes_label(double b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  return num(b, b < 10 && b != std::floor(b) ? 1 : 0) + " " + unit[u];
}

const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

struct LineSpec {
  std::string aria, xlabel, ylabel;
  bool log2x = false;      // x is bytes, plotted on log2
  bool steps = false;      // x is a step number: the ends read "step A" / "step B"
  double yscale = 1;       // multiply y before plotting (100 for ratios)
  std::string ysuffix;     // "%" for ratios
  double ceiling = 0;      // dashed horizontal line (0: none)
  std::string ceiling_label;
};

// x and y axes with 5 y ticks and 2..6 x ticks, one polyline (with dots when few
// points) per series, legend on the right (first 16 series named).
std::string line_plot(const std::vector<Series>& series, const LineSpec& spec) {
  double xmin = 1e300, xmax = -1e300, ymax = spec.ceiling;
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      const double x = spec.log2x ? std::log2(std::max(1.0, s.x[i])) : s.x[i];
      xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      ymax = std::max(ymax, spec.yscale * s.y[i]);
    }
  if (xmin > xmax) return "";
  if (xmax == xmin) xmin -= 0.5, xmax += 0.5;
  ymax = ymax <= 0 ? 1 : ymax * 1.1;
  if (spec.ysuffix == "%") ymax = std::min(ymax, 100.0);
  const double W = 900, H = 280, L = 60, B = 42, T = 12, R = 150;
  auto px = [&](double x) { return L + (W - L - R) * (x - xmin) / (xmax - xmin); };
  auto py = [&](double y) { return T + (H - T - B) * (1 - y / ymax); };
  std::ostringstream o;
  o << "<svg width=\"" << W << "\" height=\"" << H
    << "\" role=\"img\" aria-label=\"" << esc(spec.aria) << "\" font-family=\"sans-serif\">";
  o << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\" stroke=\"#444\"/>";
  o << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"#444\"/>";
  for (int t = 0; t <= 4; ++t) {
    const double v = ymax * t / 4;
    o << "<text x=\"" << L - 5 << "\" y=\"" << num(py(v) + 4) << "\" font-size=\"11\" text-anchor=\"end\">"
      << num(v, v < 10 ? 1 : 0) << spec.ysuffix << "</text>";
  }
  const int xticks = spec.log2x ? std::min(6, int(xmax - xmin) + 1) : 5;
  for (int t = 0; t < xticks; ++t) {
    double x = xmin + (xmax - xmin) * t / std::max(1, xticks - 1);
    if (spec.log2x) x = std::round(x);
    else x = std::round(x);
    if (x < xmin || x > xmax || (spec.steps && (t == 0 || t == xticks - 1))) continue;
    o << "<text x=\"" << num(px(x)) << "\" y=\"" << H - B + 14 << "\" font-size=\"11\" text-anchor=\"middle\">"
      << (spec.log2x ? bytes_label(std::ldexp(1.0, int(x))) : num(x, 0)) << "</text>";
  }
  if (spec.steps) {  // the first and last step plotted, named
    o << "<text x=\"" << L << "\" y=\"" << H - B + 14 << "\" font-size=\"11\">step " << num(std::ceil(xmin), 0)
      << "</text><text x=\"" << W - R << "\" y=\"" << H - B + 14 << "\" font-size=\"11\" text-anchor=\"end\">step "
      << num(std::floor(xmax), 0) << "</text>";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 6 << "\" font-size=\"12\" text-anchor=\"middle\">"
    << esc(spec.xlabel) << "</text>";
  o << "<text x=\"12\" y=\"" << (T + H - B) / 2 << "\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 12 "
    << (T + H - B) / 2 << ")\">" << esc(spec.ylabel) << "</text>";
  if (spec.ceiling > 0) {
    o << "<line x1=\"" << L << "\" y1=\"" << num(py(spec.ceiling)) << "\" x2=\"" << W - R << "\" y2=\""
      << num(py(spec.ceiling)) << "\" stroke=\"#d00\" stroke-dasharray=\"6,4\"/><text x=\"" << L + 6 << "\" y=\""
      << num(py(spec.ceiling) - 4) << "\" font-size=\"11\" fill=\"#d00\">" << esc(spec.ceiling_label) << "</text>";
  }
  for (std::size_t si = 0; si < series.size(); ++si) {
    const auto& s = series[si];
    const char* c = kColors[si % 10];
    o << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"1.5\" points=\"";
    for (std::size_t i = 0; i < s.x.size(); ++i)
      o << num(px(spec.log2x ? std::log2(std::max(1.0, s.x[i])) : s.x[i])) << "," << num(py(spec.yscale * s.y[i]))
        << " ";
    o << "\"/>";
    if (s.x.size() <= 40)
      for (std::size_t i = 0; i < s.x.size(); ++i)
        o << "<circle r=\"2.5\" fill=\"" << c << "\" cx=\""
          << num(px(spec.log2x ? std::log2(std::max(1.0, s.x[i])) : s.x[i])) << "\" cy=\""
          << num(py(spec.yscale * s.y[i])) << "\"/>";
    if (si < 16)
      o << "<text x=\"" << W - R + 10 << "\" y=\"" << T + 12 + 13 * double(si) << "\" font-size=\"11\" fill=\"" << c
        << "\">" << esc(s.name) << "</text>";
  }
  if (series.size() > 16)
    o << "<text x=\"" << W - R + 10 << "\" y=\"" << T + 12 + 13 * 16.0 << "\" font-size=\"11\">(" << series.size()
      << " series)</text>";
  o << "</svg>";
  return o.str();
}

// Thermal-like colour for t in 0..1 (black, red, yellow, white).
std::string heat_color(double t) {
  t = std::clamp(t, 0.0, 1.0);
  const int r = int(255 * std::min(1.0, 3 * t)), g = int(255 * std::clamp(3 * t - 1, 0.0, 1.0)),
            b = int(255 * std::clamp(3 * t - 2, 0.0, 1.0));
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, b);
  return buf;
}

// Experts (rows) x steps (columns, at most 120: consecutive steps summed per column).
std::string heatmap(ExpertHeat h, const std::set<std::int64_t>& skip) {
  if (!skip.empty()) {  // warm-up steps are not plotted (as in every step plot)
    for (auto it = h.tokens.begin(); it != h.tokens.end();) it = skip.count(it->first.first) ? h.tokens.erase(it) : std::next(it);
    if (!h.tokens.empty()) {
      h.step_min = h.tokens.begin()->first.first;
      h.step_max = h.tokens.rbegin()->first.first;
    }
  }
  if (h.tokens.empty()) return "";
  // Saturating: step numbers come from the file (fuzz_store: steps INT64_MIN and INT64_MAX).
  const std::int64_t steps = sat_add(sat_sub(h.step_max, h.step_min), 1);
  const std::int64_t per_col = steps / 120 + (steps % 120 != 0);
  const int cols = int(steps / per_col + (steps % per_col != 0));
  std::map<std::pair<int, int>, double> cell;  // (col, expert)
  double vmax = 0;
  for (const auto& [k, v] : h.tokens) {
    const int col = int(std::min<std::int64_t>(sat_sub(k.first, h.step_min) / per_col, cols - 1));
    vmax = std::max(vmax, cell[{col, k.second}] += v);
  }
  const double W = 900, L = 110, R = 20, T = 8, B = 36;
  const double cw = (W - L - R) / cols, ch = std::clamp(320.0 / h.experts, 3.0, 16.0);
  const double H = T + B + ch * h.experts;
  const std::set<int> hot(h.hot.begin(), h.hot.end()), cold(h.cold.begin(), h.cold.end());
  std::ostringstream o;
  o << "<svg width=\"" << W << "\" height=\"" << num(H, 0)
    << "\" role=\"img\" aria-label=\"expert load layer " << h.layer << "\" font-family=\"sans-serif\">";
  for (const auto& [k, v] : cell)
    o << "<rect x=\"" << num(L + cw * k.first) << "\" y=\"" << num(T + ch * k.second) << "\" width=\"" << num(cw + 0.3)
      << "\" height=\"" << num(ch + 0.3) << "\" fill=\"" << heat_color(vmax > 0 ? v / vmax : 0) << "\"/>";
  // Labels: every `every`-th expert plus the hot and cold ones; O(labels), not O(largest expert id)
  // (fuzz_store: an expert id of 131,780,740 from a file made this loop run for minutes).
  const int every = std::max(1, h.experts / 24);
  std::set<int> labelled(hot.begin(), hot.end());
  labelled.insert(cold.begin(), cold.end());
  for (std::int64_t e = 0; e < h.experts; e += every) labelled.insert(static_cast<int>(e));
  for (int e : labelled) {
    if (e < 0 || e >= h.experts) continue;
    const bool is_hot = hot.count(e) > 0, is_cold = cold.count(e) > 0;
    o << "<text x=\"" << L - 4 << "\" y=\"" << num(T + ch * (e + 0.5) + 4) << "\" font-size=\"10\" text-anchor=\"end\""
      << (is_hot ? " fill=\"#d00\"" : is_cold ? " fill=\"#0060d0\"" : "") << ">e" << e
      << (is_hot ? " HOT" : is_cold ? " cold" : "") << "</text>";
  }
  o << "<text x=\"" << L << "\" y=\"" << num(H - B + 14) << "\" font-size=\"11\">step " << h.step_min << "</text>";
  o << "<text x=\"" << W - R << "\" y=\"" << num(H - B + 14) << "\" font-size=\"11\" text-anchor=\"end\">step "
    << h.step_max << "</text>";
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << num(H - 6) << "\" font-size=\"11\" text-anchor=\"middle\">"
    << "routed tokens per step (dark: few, white: " << num(vmax, 0) << (per_col > 1 ? ", " + std::to_string(per_col) + " steps a column" : std::string())
    << ")</text></svg>";
  return o.str();
}

}  // namespace

std::string plot_svg(const PlotSpec& p, const RunData& run, const AnalysisResult& r) {
  const StepRatios sr = step_ratios(r);
  // Warm-up steps are left out of the step plots whenever the comm-ratio plot leaves them
  // out (two or more steady steps; report.h StepRatios::plotted).
  const std::set<std::int64_t> skip = sr.plotted().size() < sr.ratio.size() ? sr.warmup : std::set<std::int64_t>{};
  if (p.id == "step_time") {
    auto series = step_time_series(run);
    for (auto& s : series) {
      Series kept;
      kept.name = s.name;
      for (std::size_t i = 0; i < s.x.size(); ++i)
        if (!(std::abs(s.x[i]) < 9.2e18 && skip.count(std::int64_t(s.x[i]))))  // x may be any double from the file
          kept.x.push_back(s.x[i]), kept.y.push_back(s.y[i]);
      s = std::move(kept);
    }
    return line_plot(series, {"step time per step", "step", "step time (ms)", false, true, 1, "", 0, ""});
  }
  if (p.id == "comm_ratio") {
    std::vector<Series> s;
    for (int k : sr.ranks) {
      Series one;
      one.name = "rank " + std::to_string(k);
      for (const auto& [step, row] : sr.plotted())
        if (auto it = row.find(k); it != row.end()) one.x.push_back(double(step)), one.y.push_back(it->second);
      s.push_back(std::move(one));
    }
    return line_plot(s, {"communication ratio per step", "step", "comm ratio", false, true, 100, "%", 0, ""});
  }
  if (p.id == "busbw") {
    const BusBw b = busbw_series(r);
    auto named = b.by_func;
    for (auto& s : named) s.name += " (median)";
    return line_plot(named, {"bus bandwidth per collective", "message size", "bus bandwidth (GB/s)", true, false, 1, "",
                             b.ceiling_gbps, b.ceiling_label()});
  }
  if (p.layer >= 0) return heatmap(expert_heat(run, &r, p.layer), skip);
  return "";
}

}  // namespace moetune::analyzers
