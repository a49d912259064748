// SPDX-License-Identifier: Apache-2.0
// Self-contained HTML report without Qt: inline CSS, an inline SVG line plot of the
// communication ratio per step (one line per rank), tables, findings as cards.
// Everything user-provided (names, paths, evidence) is HTML-escaped.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "moetune/analyzers/report.h"

namespace moetune::analyzers {
namespace {

std::string esc(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string num(double v, int prec = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

constexpr const char* kCss = R"(body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:.2em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}.card{border:1px solid #ccc;border-left:6px solid #888;padding:.6em 1em;
margin:1em 0;border-radius:4px}.critical{border-left-color:#b00020}.high{border-left-color:#e65100}
.medium{border-left-color:#f9a825}.low{border-left-color:#558b2f}.sev{font-weight:bold;text-transform:uppercase}
code,pre{background:#f6f6f6;padding:1px 4px}pre{padding:.5em;overflow-x:auto;font-size:85%}.muted{color:#666}
.big{font-size:120%})";

const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// SVG plot: x = step index, y = comm ratio %, one polyline per rank.
std::string comm_plot(const std::map<std::int64_t, std::map<int, double>>& m, const std::set<int>& ranks) {
  if (m.size() < 2) return "";
  const double W = 900, H = 260, L = 50, B = 30, T = 10, R = 120;
  double ymax = 0;
  for (const auto& [s, row] : m)
    for (const auto& [k, v] : row) ymax = std::max(ymax, 100 * v);
  ymax = ymax <= 0 ? 1 : std::min(100.0, ymax * 1.1);
  std::vector<std::int64_t> steps;
  for (const auto& [s, row] : m) steps.push_back(s);
  auto x = [&](std::size_t i) { return L + (W - L - R) * static_cast<double>(i) / static_cast<double>(steps.size() - 1); };
  auto y = [&](double v) { return T + (H - T - B) * (1 - 100 * v / ymax); };
  std::ostringstream o;
  o << "<svg width=\"" << W << "\" height=\"" << H << "\" role=\"img\" aria-label=\"communication ratio per step\">";
  o << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\" stroke=\"#444\"/>";
  o << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"#444\"/>";
  for (int t = 0; t <= 4; ++t) {
    double v = ymax * t / 4;
    o << "<text x=\"" << L - 5 << "\" y=\"" << y(v / 100) + 4 << "\" font-size=\"11\" text-anchor=\"end\">" << num(v, 0)
      << "%</text>";
  }
  o << "<text x=\"" << L << "\" y=\"" << H - 8 << "\" font-size=\"11\">step " << steps.front() << "</text>";
  o << "<text x=\"" << W - R << "\" y=\"" << H - 8 << "\" font-size=\"11\" text-anchor=\"end\">step " << steps.back()
    << "</text>";
  int ci = 0;
  for (int k : ranks) {
    const char* c = kColors[ci++ % 10];
    o << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"1.5\" points=\"";
    for (std::size_t i = 0; i < steps.size(); ++i) {
      auto it = m.at(steps[i]).find(k);
      if (it != m.at(steps[i]).end()) o << num(x(i), 1) << "," << num(y(it->second), 1) << " ";
    }
    o << "\"/><text x=\"" << W - R + 8 << "\" y=\"" << T + 12 * ci << "\" font-size=\"11\" fill=\"" << c << "\">rank " << k
      << "</text>";
  }
  o << "</svg>";
  return o.str();
}

std::string fix_html(const Fix& f) {
  std::string s = "<code>" + esc(f.type) + "</code> ";
  const auto& b = f.body;
  auto get = [&](const char* k) { return b.contains(k) && b[k].is_string() ? b[k].get<std::string>() : std::string(); };
  if (f.type == "env") return s + "<code>" + esc(get("name") + "=" + get("value")) + "</code>" +
                              (get("scope").empty() ? "" : " for " + esc(get("scope")) + " only");
  if (f.type == "flag") return s + "<code>" + esc(get("name") + " " + get("value")) + "</code>";
  if (f.type == "code") return s + esc(get("description"));
  return s + "<code>" + esc(b.dump()) + "</code>";
}

}  // namespace

std::string report_html(const RunData& run, const AnalysisResult& r) {
  std::ostringstream o;
  auto s = summarize(r);
  bool synthetic = run.meta.count("synthetic") && run.meta.at("synthetic") == "1";
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>moetune report: "
    << esc(run.path.filename().string()) << "</title><style>" << kCss << "</style></head><body>\n";
  o << "<h1>moetune report</h1><p class=\"muted\">" << esc(run.path.string()) << (synthetic ? " — synthetic run" : "")
    << " — " << run.ranks.size() << " ranks</p>\n<h2>Summary</h2>\n<p class=\"big\">";
  if (r.findings.empty()) {
    o << "No problems found.";
  } else {
    o << r.findings.size() << " findings (" << s.by_severity[3] << " critical, " << s.by_severity[2] << " high, "
      << s.by_severity[1] << " medium, " << s.by_severity[0] << " low). Most costly: <b>" << esc(r.findings.front().title)
      << "</b>, estimated gain " << num(r.findings.front().estimated_gain_pct, 1) << "% of step time.";
  }
  o << "</p>\n";
  if (s.have_metrics)
    o << "<p>Mean step time <b>" << num(s.step_time_ms, 3) << " ms</b>. Communication is " << num(100 * s.comm_ratio, 1)
      << "% of the step; " << num(s.overlap_pct, 1) << "% of it overlaps computation and " << num(s.exposed_comm_ms, 3)
      << " ms per step is exposed. GPU idle " << num(s.idle_ms, 3) << " ms per step.</p>\n";
  if (auto it = r.metrics.find("per_rank"); it != r.metrics.end() && it->is_array() && !it->empty()) {
    o << "<h2>Per rank (means per step)</h2><table><tr><th>rank</th><th>steps</th><th>step ms</th><th>compute ms</th>"
         "<th>comm ms</th><th>exposed comm ms</th><th>overlap %</th><th>comm ratio %</th><th>idle ms</th></tr>\n";
    for (const auto& row : *it)
      o << "<tr><td>" << row.value("rank", -1) << "</td><td>" << row.value("steps", 0) << "</td><td>"
        << num(row.value("step_time_ms", 0.0), 3) << "</td><td>" << num(row.value("compute_ms", 0.0), 3) << "</td><td>"
        << num(row.value("comm_ms", 0.0), 3) << "</td><td>" << num(row.value("exposed_comm_ms", 0.0), 3) << "</td><td>"
        << num(row.value("overlap_pct", 0.0), 1) << "</td><td>" << num(100 * row.value("comm_ratio", 0.0), 1)
        << "</td><td>" << num(row.value("idle_ms", 0.0), 3) << "</td></tr>\n";
    o << "</table>\n";
  }
  if (auto bs = bucket_shares(r); !bs.empty()) {  // one stacked bar per rank, then the numbers
    static const char* colors[10] = {"#4c78a8", "#e45756", "#f58518", "#72b7b2", "#54a24b",
                                     "#b279a2", "#ff9da6", "#9d755d", "#bab0ac", "#eeeeee"};
    o << "<h2>Time accounting (% of step)</h2><p>";
    for (int i = 0; i < 10; ++i)
      o << "<span style=\"display:inline-block;width:10px;height:10px;background:" << colors[i] << "\"></span> "
        << kBucketLabels[i] << " &nbsp;";
    o << "</p><table><tr><th>rank</th><th style=\"width:420px\">step</th>";
    for (const char* l : kBucketLabels) o << "<th>" << l << "</th>";
    o << "</tr>\n";
    for (const auto& b : bs) {
      o << "<tr><td>" << b.rank << "</td><td><div style=\"display:flex;height:14px\">";
      for (int i = 0; i < 10; ++i)
        if (b.pct[i] > 0)
          o << "<div title=\"" << kBucketLabels[i] << " " << num(b.pct[i], 1) << " %\" style=\"width:" << num(b.pct[i], 2)
            << "%;background:" << colors[i] << "\"></div>";
      o << "</div></td>";
      for (double p : b.pct) o << "<td>" << num(p, 1) << "</td>";
      o << "</tr>\n";
    }
    o << "</table>\n";
  }
  o << "<h2>Findings and recommendations</h2>\n";
  if (r.findings.empty()) o << "<p>No findings.</p>\n";
  for (const auto& f : r.findings) {
    o << "<div class=\"card " << to_string(f.severity) << "\"><div><span class=\"sev\">" << to_string(f.severity)
      << "</span> <code>" << esc(f.id) << "</code> " << esc(f.title) << "</div>\n<p><b>What to do:</b> "
      << esc(f.recommendation.text) << "</p>";
    if (!f.recommendation.fixes.empty()) {
      o << "<ul>";
      for (const auto& fx : f.recommendation.fixes) o << "<li>" << fix_html(fx) << "</li>";
      o << "</ul>";
    }
    o << "<p>Estimated gain <b>" << num(f.estimated_gain_pct, 1) << "%</b> <span class=\"muted\">(" << esc(f.gain_basis)
      << ")</span>. Ranks:";
    for (std::size_t i = 0; i < f.ranks.size() && i < 16; ++i) o << " " << f.ranks[i];
    o << "</p><details><summary>evidence</summary><pre>" << esc(f.evidence.dump(2)) << "</pre></details></div>\n";
  }
  const StepRatios sr = step_ratios(r);
  if (!sr.ratio.empty()) {
    const auto plotted = sr.plotted();
    o << "<h2>Communication ratio per step</h2>\n";
    if (plotted.size() < sr.ratio.size())
      o << "<p class=\"muted\">Warm-up steps " << step_list(sr.warmup)
        << " are not plotted and not in the per-rank means; the table lists them, marked.</p>\n";
    o << comm_plot(plotted, sr.ranks) << "\n<table><tr><th>step</th>";
    for (int k : sr.ranks) o << "<th>rank " << k << "</th>";
    o << "</tr>\n";
    for (const auto& [step, row] : sr.ratio) {
      const bool warm = sr.warmup.count(step) > 0;
      o << (warm ? "<tr class=\"muted\">" : "<tr>") << "<td>"
        << (step < 0 ? std::string("whole run") : std::to_string(step) + (warm ? " (warm-up)" : "")) << "</td>";
      for (int k : sr.ranks) o << "<td>" << (row.count(k) ? num(100 * row.at(k), 1) + "%" : std::string()) << "</td>";
      o << "</tr>\n";
    }
    o << "</table>\n";
  }
  if (!r.notes.empty()) {
    o << "<h2>Notes</h2><ul>";
    for (const auto& n : r.notes) o << "<li>" << esc(n) << "</li>";
    o << "</ul>\n";
  }
  o << "<h2>Trace health</h2>";
  if (run.stats.empty()) o << "<p>No issues recorded.</p>";
  else {
    o << "<ul>";
    for (const auto& st : run.stats)
      o << "<li>[" << to_string(st.severity) << "] " << esc(st.name) << " = " << st.value << " " << esc(st.description)
        << "</li>";
    o << "</ul>";
  }
  o << "\n</body></html>\n";
  return o.str();
}

}  // namespace moetune::analyzers
