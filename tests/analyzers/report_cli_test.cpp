// SPDX-License-Identifier: Apache-2.0
// Reports (text / Markdown / HTML without Qt) and the analyze / report CLI contract:
// JSON keys of DESIGN.md, --fail-on exit codes, bad input exit 2 with one line.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "anaa_helpers.h"
#include "common/text.h"
#include "moetune/analyzers/report.h"

using namespace anaa;

namespace {
const auto& slurp = moetune::test::read_text;
const std::string kCli = MOETUNE_CLI;
}  // namespace

TEST(Report, MarkdownAndHtmlCarryTheSectionsAndFindings) {
  const auto& run = synth_run("straggler:3");
  auto r = analyze(run);
  ASSERT_FALSE(r.findings.empty());
  auto md = report_markdown(run, r);
  auto html = report_html(run, r);
  auto text = report_text(run, r);
  for (const auto* doc : {&md, &text}) EXPECT_NE(doc->find(r.findings.front().title), std::string::npos);
  for (const auto* doc : {&md, &html, &text}) {
    EXPECT_NE(doc->find("Rank 3 is a straggler"), std::string::npos);
    EXPECT_NE(doc->find(r.findings.front().recommendation.text.substr(0, 20)), std::string::npos);
  }
  EXPECT_NE(md.find("## Per rank"), std::string::npos);
  EXPECT_NE(md.find("## Communication ratio per step"), std::string::npos);
  EXPECT_NE(md.find("| 19 |"), std::string::npos);  // last step row
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("Communication ratio per step"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);  // self-contained, static
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(Report, HtmlEscapesNamesFromTheTrace) {
  RunData run;
  run.path = "/tmp/<evil>&.moetune";
  AnalysisResult r;
  Finding f;
  f.title = "kernel <script>alert(1)</script> & co";
  f.evidence = {{"kernel", "void f<int>(int*)"}};
  r.findings.push_back(f);
  auto html = report_html(run, r);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;evil&gt;&amp;"), std::string::npos);
  EXPECT_NE(html.find("f&lt;int&gt;"), std::string::npos);
}

TEST(Report, SummaryAveragesPerRankRows) {
  AnalysisResult r;  // the typed per-rank metrics the reports read (metrics.h)
  r.per_rank.resize(2);
  r.per_rank[0].rank = 0, r.per_rank[0].step_time_ms = 10.0, r.per_rank[0].comm_ratio = 0.2;
  r.per_rank[1].rank = 1, r.per_rank[1].step_time_ms = 20.0, r.per_rank[1].comm_ratio = 0.4;
  auto s = summarize(r);
  EXPECT_EQ(s.ranks, 2u);
  EXPECT_DOUBLE_EQ(s.step_time_ms, 15.0);
  EXPECT_DOUBLE_EQ(s.comm_ratio, 0.3);
  EXPECT_EQ(parse_severity("high"), FindingSeverity::High);
  EXPECT_FALSE(parse_severity("severe"));
}

TEST(AnalyzeCli, JsonHasTheDesignKeys) {
  auto res = run_cmd(kCli + " analyze --json " + synth_file("no_overlap").string() + " 2>/dev/null");
  ASSERT_EQ(res.rc, 0) << res.out;
  auto j = nlohmann::json::parse(res.out);
  EXPECT_EQ(j.at("format_version"), 1);
  ASSERT_EQ(j.at("metrics").at("per_rank").size(), 8u);
  for (const char* k : {"rank", "steps", "step_time_ms", "compute_ms", "comm_ms", "exposed_comm_ms", "overlap_pct",
                        "comm_ratio", "idle_ms"})
    EXPECT_TRUE(j["metrics"]["per_rank"][0].contains(k)) << k;
  bool exposed = false;
  for (const auto& f : j.at("findings")) {
    for (const char* k : {"id", "kind", "severity", "title", "ranks", "time_ranges_ns", "evidence", "recommendation",
                          "estimated_gain_pct"})
      EXPECT_TRUE(f.contains(k)) << k;
    exposed |= f.at("kind") == "exposed_comm";
  }
  EXPECT_TRUE(exposed);
}

TEST(AnalyzeCli, FailOnSetsExitCode) {
  auto file = synth_file("straggler:3").string();
  EXPECT_EQ(run_cmd(kCli + " analyze " + file + " --fail-on high").rc, 1);
  EXPECT_EQ(run_cmd(kCli + " analyze " + file + " --fail-on critical").rc, 0);
  EXPECT_EQ(run_cmd(kCli + " analyze " + synth_file("").string() + " --fail-on medium").rc, 0);
  auto bad = run_cmd(kCli + " analyze " + file + " --fail-on severe");
  EXPECT_EQ(bad.rc, 2);
  EXPECT_NE(bad.out.find("severe"), std::string::npos);
}

TEST(AnalyzeCli, BadInputIsOneLineExit2) {
  auto junk = tmpdir() / "junk.moetune";
  std::ofstream(junk) << "this is not a trace";
  for (const auto& p : {junk.string(), (tmpdir() / "missing.moetune").string()}) {
    auto r = run_cmd(kCli + " analyze " + p);
    EXPECT_EQ(r.rc, 2) << r.out;
    EXPECT_NE(r.out.find(p), std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
}

TEST(ReportCli, WritesJsonMarkdownHtml) {
  auto file = synth_file("gpu_idle:5").string();
  for (const char* fmt : {"json", "md", "html"}) {
    auto out = tmpdir() / (std::string("report.") + fmt);
    auto r = run_cmd(kCli + " report " + file + " --format " + fmt + " -o " + out.string());
    ASSERT_EQ(r.rc, 0) << r.out;
    auto text = slurp(out);
    EXPECT_NE(text.find("gpu_idle"), std::string::npos) << fmt;
    if (std::string(fmt) == "json") {
      auto j = nlohmann::json::parse(text, nullptr, false);
      EXPECT_FALSE(j.is_discarded());
      EXPECT_TRUE(j.contains("findings"));
    }
  }
  auto bad = run_cmd(kCli + " report " + file + " --format docx -o " + (tmpdir() / "x.docx").string());
  EXPECT_EQ(bad.rc, 2);
}

TEST(ReportCli, PdfComesFromTheGuiBinary) {
  // The CLI links no Qt: pdf is moetune-gui's (run when it is installed beside moetune,
  // in the build tree app/gui/), else one line naming the moetune-gui command.
  auto out = tmpdir() / "report.pdf";
  auto r = run_cmd(kCli + " report " + synth_file("").string() + " --format pdf -o " + out.string());
  if (r.rc == 2) {
    EXPECT_NE(r.out.find("moetune-gui --report"), std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  } else {
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(slurp(out).rfind("%PDF", 0), 0u);
  }
  auto md = run_cmd(kCli + " report " + synth_file("gpu_idle:5").string() + " --format md -o - 2>/dev/null");
  ASSERT_EQ(md.rc, 0) << md.out;
  EXPECT_EQ(md.out.rfind("# moetune report", 0), 0u) << "-o - writes the report to stdout";
}
