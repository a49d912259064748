// SPDX-License-Identifier: Apache-2.0
// Reports of one analysis, without Qt: plain text (the CLI's analyze output),
// Markdown, and a self-contained HTML page (inline CSS and SVG plots, no external
// assets). One report model (report_model.h), one HTML renderer: the GUI binary's PDF
// (moetune-gui --report) lays out this same HTML with its plots as PNGs. Sections:
// summary, ranks, per-rank table, findings with recommendation / fixes / gain and its
// basis, plots (step time, communication ratio per step, bus bandwidth, expert load),
// topology, notes ("not enough data: ...") and trace health. Cost: linear in findings and
// steps x ranks; independent of the number of events.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "moetune/analyzers/model.h"

namespace moetune::analyzers {

std::optional<FindingSeverity> parse_severity(const std::string& s);  // "low".."critical"

std::string report_text(const RunData& run, const AnalysisResult& r);
std::string report_markdown(const RunData& run, const AnalysisResult& r);
// HTML options: plot_images maps a plot id of report_plots() (report_model.h) to an
// image src the caller made (the GUI's PNGs for PDF); plots without one are inline SVG
// (svg) or left out (!svg, for layout engines without SVG such as QTextDocument).
struct HtmlOptions {
  std::map<std::string, std::string> plot_images;
  bool svg = true;
  bool evidence = true;  // each finding's evidence JSON in a <details> block (not for print)
};
std::string report_html(const RunData& run, const AnalysisResult& r, const HtmlOptions& opts = {});

// Headline numbers shared by the reports (means over ranks of AnalysisResult::per_rank).
struct ReportSummary {
  std::size_t ranks = 0;
  double step_time_ms = 0, comm_ratio = 0, exposed_comm_ms = 0, overlap_pct = 0, idle_ms = 0;
  bool have_metrics = false;
  int by_severity[4] = {0, 0, 0, 0};  // low, medium, high, critical
  double top_gain_pct = 0;
};
ReportSummary summarize(const AnalysisResult& r);

// AnalysisResult::per_step as step -> rank -> communication ratio (0..1). Warm-up rows
// (StepMetrics::warmup, steps.h) are kept apart: the reports plot only the steady steps and label
// the warm-up rows in their tables.
struct StepRatios {
  std::map<std::int64_t, std::map<int, double>> ratio;  // every step, warm-up included
  std::set<int> ranks;
  std::set<std::int64_t> warmup;                        // steps any rank marks as warm-up
  // The steps to plot: the steady ones (all steps when fewer than two are steady).
  std::map<std::int64_t, std::map<int, double>> plotted() const;
};
StepRatios step_ratios(const AnalysisResult& r);
// "0, 1, 2" or "0-4" for a set of step numbers ("" when empty).
std::string step_list(const std::set<std::int64_t>& steps);

// Time accounting per rank (AnalysisResult::per_rank[].buckets, docs/ANALYZE-JSON.md) as % of
// the step, in the order of kBucketKeys (the JSON keys of BucketTimes); empty without per-rank metrics.
inline constexpr const char* kBucketKeys[10] = {
    "compute_ms",    "comm_transfer_ms", "comm_wait_ms",     "memcpy_h2d_ms",     "memcpy_d2h_ms",
    "memcpy_d2d_ms", "memcpy_p2p_ms",    "host_gap_long_ms", "host_gap_short_ms", "idle_ms"};
inline constexpr const char* kBucketLabels[10] = {"compute", "comm xfer", "comm wait", "H2D",     "D2H",
                                                  "D2D",     "P2P",       "gap>=1ms",  "gaps<1ms", "idle"};
struct BucketShares {
  int rank = -1;
  double step_ms = 0;
  double pct[10] = {};
};
std::vector<BucketShares> bucket_shares(const AnalysisResult& r);

// Writes text to path (atomically: temp + rename). Error names the file.
Expected<void> write_text_file(const std::filesystem::path& path, const std::string& text);

}  // namespace moetune::analyzers
