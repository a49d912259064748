// SPDX-License-Identifier: Apache-2.0
// The one report model and its HTML renderer without Qt: the plots listed by
// report_plots() are the plots the HTML draws (as SVG, or as the images a caller such as
// moetune-gui supplies), the sections come in order, the SVG carries one line per rank /
// collective and nothing active (no script, no external reference).
#include <gtest/gtest.h>

#include <regex>

#include "anab_helpers.h"
#include "moetune/analyzers/report.h"
#include "moetune/analyzers/report_model.h"

using namespace moetune::analyzers;

namespace {
std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}
}  // namespace

TEST(ReportModel, PlotsSectionsAndSvg) {
  auto run = anab::load_synth("--ranks 4 --inject hot_experts_slow_rank");
  ASSERT_TRUE(run.ok()) << run.error().message;
  const auto r = analyze(*run);
  const auto plots = report_plots(*run, r);
  std::vector<std::string> ids;
  for (const auto& p : plots) ids.push_back(p.id);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[0], "step_time");
  EXPECT_EQ(ids[1], "comm_ratio");
  EXPECT_NE(std::find(ids.begin(), ids.end(), "experts_l0"), ids.end()) << "routing rows give expert heatmaps";

  const std::string html = report_html(*run, r);
  EXPECT_EQ(count(html, "<svg"), plots.size()) << "one SVG per plot of the model";
  std::size_t at = 0;
  for (const char* s : {"<h2>Summary</h2>", "<h2>Ranks</h2>", "<h2>Per rank", "<h2>Findings and recommendations (",
                        "<h2>Plots</h2>", "<h3>Step time per step</h3>", "<h3>Communication ratio per step</h3>",
                        "<h2>Trace health</h2>"}) {
    const auto p = html.find(s, at);
    ASSERT_NE(p, std::string::npos) << s << " missing or out of order";
    at = p;
  }
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);

  // step time: one polyline per rank
  const std::string st = plot_svg(plots[0], *run, r);
  EXPECT_EQ(count(st, "<polyline"), run->ranks.size());
  // expert heatmap: cells and hot experts named
  for (const auto& p : plots)
    if (p.layer == 0) {
      const std::string hm = plot_svg(p, *run, r);
      EXPECT_GT(count(hm, "<rect"), 8u);
      EXPECT_NE(hm.find(" HOT</text>"), std::string::npos);
    }

  // A caller's images replace the SVG of their plot; svg=false leaves the rest out.
  HtmlOptions opts;
  opts.plot_images["step_time"] = "step_time.png";
  opts.svg = false;
  const std::string qt = report_html(*run, r, opts);
  EXPECT_EQ(count(qt, "<svg"), 0u);
  EXPECT_EQ(count(qt, "<img src=\"step_time.png\""), 1u);
}

TEST(ReportModel, BusBandwidthAndTopologyFromRealNcclData) {
  const std::filesystem::path trace = std::string(MOETUNE_SHARED_DATA) + "/external/kineto/hta_nccl_data_rank0of2.json.gz";
  if (!std::filesystem::exists(trace)) GTEST_SKIP() << trace << " not present";
  auto out = anab::tmpdir() / "nccl_data.moetune";
  auto imp = anab::run(std::string(MOETUNE_CLI) + " import --force " + trace.string() + " -o " + out.string());
  ASSERT_EQ(imp.rc, 0) << imp.out;
  auto run = RunData::load(out);
  ASSERT_TRUE(run.ok());
  const auto r = analyze(*run);
  const BusBw bw = busbw_series(r);  // the bandwidth analysis' collectives
  ASSERT_FALSE(bw.by_func.empty()) << "NCCL ops with sizes give bus bandwidth series";
  for (const auto& s : bw.by_func) {
    ASSERT_EQ(s.x.size(), s.y.size());
    for (std::size_t i = 1; i < s.x.size(); ++i) EXPECT_GT(s.x[i], s.x[i - 1]) << "one point per size bucket, sorted";
    for (double v : s.y) EXPECT_GT(v, 0);
  }
  const std::string html = report_html(*run, r);
  EXPECT_NE(html.find("<h3>Bus bandwidth per collective</h3>"), std::string::npos);
  EXPECT_NE(html.find("bus bandwidth (GB/s)"), std::string::npos);
}
