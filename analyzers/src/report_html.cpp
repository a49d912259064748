// SPDX-License-Identifier: Apache-2.0
// Self-contained HTML report without Qt: inline CSS, the report model's plots as inline
// SVG (report_svg.cpp) or as images the caller supplies (the GUI's PNGs for PDF),
// tables, findings as cards. The one HTML renderer: the CLI writes it as is and
// moetune-gui --report lays it out as PDF. Everything user-provided (names, paths,
// evidence) is HTML-escaped.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "moetune/analyzers/report.h"
#include "moetune/analyzers/report_model.h"
#include "report_util.h"

namespace moetune::analyzers {
namespace {

std::string esc(const std::string& s) { return detail::html_escape(s); }

std::string num(double v, int prec = 2) { return detail::fixed(v, prec); }

constexpr const char* kCss = R"(body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:.2em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}.card{border:1px solid #ccc;border-left:6px solid #888;padding:.6em 1em;
margin:1em 0;border-radius:4px}.critical{border-left-color:#b00020}.high{border-left-color:#e65100}
.medium{border-left-color:#f9a825}.low{border-left-color:#558b2f}.sev{font-weight:bold;text-transform:uppercase}
code,pre{background:#f6f6f6;padding:1px 4px}pre{padding:.5em;overflow-x:auto;font-size:85%}.muted{color:#666}
.big{font-size:120%})";

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

std::string report_html(const RunData& run, const AnalysisResult& r, const HtmlOptions& opts) {
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
  if (!run.ranks.empty()) {
    o << "<h2>Ranks</h2><table><tr><th>rank</th><th>host</th><th>GPU</th><th>source</th></tr>\n";
    for (const auto& k : run.ranks)
      o << "<tr><td>" << k.rank.value << "</td><td>" << esc(k.host) << "</td><td>" << esc(k.gpu_name) << "</td><td>"
        << esc(k.source) << "</td></tr>\n";
    o << "</table>\n";
  }
  o << "<p class=\"muted\">kernels " << run.kernels.size() << ", NCCL ops " << run.nccl_ops.size() << ", NVTX ranges "
    << run.nvtx.size() << ", steps " << run.steps.size() << ", routing rows " << run.routing.size() << "</p>\n";
  if (!r.per_rank.empty()) {
    o << "<h2>Per rank (means per step)</h2><table><tr><th>rank</th><th>steps</th><th>step ms</th><th>compute ms</th>"
         "<th>comm ms</th><th>exposed comm ms</th><th>overlap %</th><th>comm ratio %</th><th>idle ms</th></tr>\n";
    for (const auto& row : r.per_rank)
      o << "<tr><td>" << row.rank << "</td><td>" << row.steps << "</td><td>" << num(row.step_time_ms, 3) << "</td><td>"
        << num(row.compute_ms, 3) << "</td><td>" << num(row.comm_ms, 3) << "</td><td>" << num(row.exposed_comm_ms, 3)
        << "</td><td>" << num(row.overlap_pct, 1) << "</td><td>" << num(100 * row.comm_ratio, 1) << "</td><td>"
        << num(row.idle_ms, 3) << "</td></tr>\n";
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
  o << "<h2>Findings and recommendations (" << r.findings.size() << ")</h2>\n";
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
    o << "</p>";
    if (opts.evidence) o << "<details><summary>evidence</summary><pre>" << esc(f.evidence.dump(2)) << "</pre></details>";
    o << "</div>\n";
  }
  const auto plots = report_plots(run, r);
  const StepRatios sr = step_ratios(r);
  if (!plots.empty() || !sr.ratio.empty()) o << "<h2>Plots</h2>\n";
  auto draw = [&](const PlotSpec& p) {
    if (auto img = opts.plot_images.find(p.id); img != opts.plot_images.end())
      o << "<p><img src=\"" << esc(img->second) << "\" width=\"800\" alt=\"" << esc(p.title) << "\"></p>\n";
    else if (opts.svg)
      o << plot_svg(p, run, r) << "\n";
  };
  // Communication ratio per step: the plot of the steady steps (when there are two or
  // more) and the table of every step, warm-up rows marked.
  auto comm_section = [&](const PlotSpec* p) {
    o << "<h3>Communication ratio per step</h3>\n";
    if (sr.plotted().size() < sr.ratio.size())
      o << "<p class=\"muted\">Warm-up steps " << step_list(sr.warmup)
        << " are not plotted and not in the per-rank means; the table lists them, marked.</p>\n";
    if (p) draw(*p);
    o << "<table><tr><th>step</th>";
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
  };
  bool comm_done = false;
  for (const auto& p : plots) {
    if (p.id == "comm_ratio") {
      comm_section(&p);
      comm_done = true;
      continue;
    }
    o << "<h3>" << esc(p.title) << "</h3>\n";
    draw(p);
  }
  if (!comm_done && !sr.ratio.empty()) comm_section(nullptr);
  const LinkMatrix t = link_matrix(run);
  if (!t.names.empty()) {
    o << "<h2>Topology</h2><table><tr><th></th>";
    for (const auto& n : t.names) o << "<th>" << esc(n) << "</th>";
    o << "</tr>\n";
    for (std::size_t i = 0; i < t.names.size(); ++i) {
      o << "<tr><th>" << esc(t.names[i]) << "</th>";
      for (std::size_t j = 0; j < t.names.size(); ++j) o << "<td>" << esc(t.code[i][j]) << "</td>";
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
