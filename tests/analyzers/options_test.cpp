// SPDX-License-Identifier: Apache-2.0
// Analysis thresholds as options (options.h): the docs table matches the code, a changed
// option changes the finding (library and CLI), bad --set input is one line and exit 2.
// Runs: moetune synth (labelled synthetic, known injections).
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "anab_helpers.h"
#include "moetune/analyzers/model.h"
#include "moetune/analyzers/options.h"

using namespace moetune::analyzers;

namespace {

int count_kind(const AnalysisResult& r, FindingKind k) {
  return static_cast<int>(std::count_if(r.findings.begin(), r.findings.end(), [k](const Finding& f) { return f.kind == k; }));
}

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST(AnalyzeOptions, DocsTableMatchesTheCode) {
  const std::string doc = anab::read_text(std::string(MOETUNE_SOURCE_DIR) + "/docs/ANALYZE-OPTIONS.md");
  ASSERT_FALSE(doc.empty());
  const std::regex row(R"(\| `([a-z_]+\.[a-z_0-9]+)` \| ([0-9.e+]+) \|)");
  std::map<std::string, double> documented;
  for (std::sregex_iterator it(doc.begin(), doc.end(), row), end; it != end; ++it)
    documented[(*it)[1].str()] = std::stod((*it)[2].str());
  const AnalyzeOptions defaults;
  std::set<std::string> names;
  for (const auto& o : analyze_options()) {
    const std::string n(o.name);
    EXPECT_TRUE(names.insert(n).second) << "duplicate option " << n;
    auto d = documented.find(n);
    ASSERT_NE(d, documented.end()) << n << " is not in docs/ANALYZE-OPTIONS.md";
    EXPECT_DOUBLE_EQ(d->second, option_value(defaults, o)) << n << ": the documented default differs from the code";
  }
  EXPECT_EQ(documented.size(), names.size()) << "the docs list an option the code does not have";
}

TEST(AnalyzeOptions, SetParsesAndRejects) {
  AnalyzeOptions o;
  ASSERT_TRUE(set_analyze_option(o, "exposed_comm.min_pct=3").ok());
  EXPECT_EQ(o.exposed_comm.min_pct, 3.0);
  ASSERT_TRUE(set_analyze_option(o, "gpu_idle.min_gap_ns=250000").ok());
  EXPECT_EQ(o.idle_gap_ns, 250'000);
  ASSERT_TRUE(set_analyze_option(o, "experts.hot_k=5").ok());
  EXPECT_EQ(o.hot_k, 5);
  for (const char* bad : {"nope.x=1", "exposed_comm.min_pct", "exposed_comm.min_pct=abc", "exposed_comm.min_pct=",
                          "exposed_comm.min_pct=150", "experts.hot_k=2.5", "straggler.ratio=0.5", "gpu_idle.min_pct=nan"}) {
    auto r = set_analyze_option(o, bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << bad;
  }
  EXPECT_NE(set_analyze_option(o, "nope.x=1").error().message.find("unknown analysis option 'nope.x'"), std::string::npos);
}

// Raising exposed_comm's threshold above the measured share removes the finding;
// lowering memcpy_bound's brings it to a run that stays under the default.
TEST(AnalyzeOptions, ChangingAThresholdChangesTheFinding) {
  auto run = anab::load_synth("--ranks 4 --inject no_overlap");
  ASSERT_TRUE(run.ok()) << run.error().message;
  const auto base = analyze(*run);
  ASSERT_EQ(count_kind(base, FindingKind::ExposedComm), 1) << "no_overlap injects exposed communication";
  double share = 0;
  for (const auto& f : base.findings)
    if (f.kind == FindingKind::ExposedComm) share = f.evidence.at("exposed_share_pct").get<double>();
  ASSERT_GT(share, 5.0);
  AnalyzeOptions high;
  high.exposed_comm.min_pct = share + 1;
  EXPECT_EQ(count_kind(analyze(*run, high), FindingKind::ExposedComm), 0);
  AnalyzeOptions just_below;
  just_below.exposed_comm.min_pct = share - 0.5;
  EXPECT_EQ(count_kind(analyze(*run, just_below), FindingKind::ExposedComm), 1);
  // Severity steps follow their options too.
  AnalyzeOptions sev;
  sev.exposed_comm.medium_pct = sev.exposed_comm.high_pct = 0.0;
  sev.exposed_comm.link_bound_hideable_pct = 0;  // never link-bound: severity is not capped at medium
  const auto sev_r = analyze(*run, sev);
  ASSERT_EQ(count_kind(sev_r, FindingKind::ExposedComm), 1);
  for (const auto& f : sev_r.findings) {
    if (f.kind == FindingKind::ExposedComm) {
      EXPECT_EQ(f.severity, FindingSeverity::High);
    }
  }
}

TEST(AnalyzeOptions, CliSetAndListAndErrors) {
  auto path = anab::synth("--ranks 4 --inject no_overlap");
  ASSERT_FALSE(path.empty());
  const std::string cli = MOETUNE_CLI;
  auto base = anab::run(cli + " analyze --json " + path.string());
  ASSERT_EQ(base.rc, 0) << base.out;
  EXPECT_NE(base.out.find("\"exposed_comm-1\""), std::string::npos);
  auto off = anab::run(cli + " analyze --json --set exposed_comm.min_pct=100 " + path.string());
  ASSERT_EQ(off.rc, 0) << off.out;
  EXPECT_EQ(off.out.find("\"exposed_comm-1\""), std::string::npos) << "--set raised the threshold above any share";
  auto same = anab::run(cli + " analyze --json --set exposed_comm.min_pct=5 " + path.string());
  EXPECT_EQ(same.out, base.out) << "setting the default changes nothing";

  auto list = anab::run(cli + " analyze --list-options");
  ASSERT_EQ(list.rc, 0) << list.out;
  EXPECT_EQ(lines(list.out), analyze_options().size());
  for (const auto& o : analyze_options()) EXPECT_NE(list.out.find(std::string(o.name)), std::string::npos) << o.name;

  auto unknown = anab::run(cli + " analyze --set exposed_comm.nope=3 " + path.string());
  EXPECT_EQ(unknown.rc, 2);
  EXPECT_EQ(lines(unknown.out), 1u) << unknown.out;
  EXPECT_NE(unknown.out.find("unknown analysis option 'exposed_comm.nope'"), std::string::npos) << unknown.out;
  auto bad = anab::run(cli + " analyze --set exposed_comm.min_pct=lots " + path.string());
  EXPECT_EQ(bad.rc, 2);
  EXPECT_EQ(lines(bad.out), 1u) << bad.out;
  EXPECT_NE(bad.out.find("not a number"), std::string::npos) << bad.out;
}

// report, diff and plan take the same --set as analyze (app/cli_analyze/analysis_flags.h).
TEST(AnalyzeOptions, CliSetOnReportDiffAndPlan) {
  auto path = anab::synth("--ranks 4 --inject no_overlap");
  ASSERT_FALSE(path.empty());
  const std::string cli = MOETUNE_CLI, run = path.string(), off = " --set exposed_comm.min_pct=100";
  const std::string id = "\"exposed_comm-1\"";
  auto rep = anab::run(cli + " report " + run + " --format json -o -");
  ASSERT_EQ(rep.rc, 0) << rep.out;
  EXPECT_NE(rep.out.find(id), std::string::npos);
  auto rep_off = anab::run(cli + " report " + run + " --format json -o -" + off);
  ASSERT_EQ(rep_off.rc, 0) << rep_off.out;
  EXPECT_EQ(rep_off.out.find(id), std::string::npos) << "report ignored --set";

  auto dif = anab::run(cli + " diff " + run + " " + run + " --json");
  ASSERT_EQ(dif.rc, 0) << dif.out;
  EXPECT_NE(dif.out.find("exposed_comm-1"), std::string::npos);
  auto dif_off = anab::run(cli + " diff " + run + " " + run + " --json" + off);
  ASSERT_EQ(dif_off.rc, 0) << dif_off.out;
  EXPECT_EQ(dif_off.out.find("exposed_comm-1"), std::string::npos) << "diff ignored --set";

  const auto prof = anab::tmpdir() / "set_profile.json";
  auto plan = anab::run(cli + " plan " + run + " -o " + prof.string() + " --force");
  ASSERT_EQ(plan.rc, 0) << plan.out;
  EXPECT_NE(anab::read_text(prof).find("exposed_comm-1"), std::string::npos);
  auto plan_off = anab::run(cli + " plan " + run + " -o " + prof.string() + " --force" + off);
  ASSERT_EQ(plan_off.rc, 0) << plan_off.out;
  EXPECT_EQ(anab::read_text(prof).find("exposed_comm-1"), std::string::npos) << "plan ignored --set";

  for (const std::string& cmd : std::vector<std::string>{" report " + run + " --format json -o -", " diff " + run + " " + run,
                                " plan " + run + " -o " + prof.string() + " --force"}) {
    auto bad = anab::run(cli + cmd + " --set exposed_comm.min_pct=lots");
    EXPECT_EQ(bad.rc, 2) << cmd;
    EXPECT_EQ(lines(bad.out), 1u) << cmd << ": " << bad.out;
  }
  // pdf/png come from moetune-gui, which analyses with the defaults: --set there is refused, not ignored.
  auto pdf = anab::run(cli + " report " + run + " --format pdf -o " + (anab::tmpdir() / "r.pdf").string() + off);
  EXPECT_EQ(pdf.rc, 2) << pdf.out;
  EXPECT_EQ(lines(pdf.out), 1u) << pdf.out;
  EXPECT_NE(pdf.out.find("default thresholds"), std::string::npos) << pdf.out;
}
