// SPDX-License-Identifier: Apache-2.0
// The sharded analysis through the built CLI (docs/MULTIHOST.md): `moetune synth` writes a
// run (SYNTHETIC data), `analyze --map --ranks` writes one summary per emulated node,
// `analyze S1 S2 --json` must print exactly what `analyze RUN --json` prints, and the text
// report and --fail-on work on the reduce. Bad input: one line naming the file, exit 2.
#include <gtest/gtest.h>

#include <fstream>

#include "anaa_helpers.h"

namespace {

using moetune::test::run_command;

std::string cli() { return MOETUNE_CLI; }

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

struct Fixture {
  std::string run, a, b;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    auto d = anaa::tmpdir();
    x.run = (d / "cli_mr.moetune").string();
    x.a = (d / "cli_mr_a.summary").string();
    x.b = (d / "cli_mr_b.summary").string();
    auto s = run_command(cli() + " synth --force -o " + x.run +
                         " --ranks 8 --steps 10 --topology nvlink:4,net:4 --inject straggler,tree_sync");
    EXPECT_EQ(s.rc, 0) << s.out;
    return x;
  }();
  return f;
}

TEST(MapReduceCli, ReduceOfNodeSummariesPrintsTheWholeRunsJson) {
  const auto& f = fixture();
  auto m1 = run_command(cli() + " analyze --map --force --ranks 0-3 -o " + f.a + " " + f.run);
  ASSERT_EQ(m1.rc, 0) << m1.out;
  EXPECT_NE(m1.out.find("ranks 4 of 8"), std::string::npos) << m1.out;
  auto m2 = run_command(cli() + " analyze --map --force --ranks 4-7 -o " + f.b + " " + f.run);
  ASSERT_EQ(m2.rc, 0) << m2.out;
  auto whole = run_command(cli() + " analyze --json " + f.run);
  auto reduced = run_command(cli() + " analyze --json " + f.a + " " + f.b);
  ASSERT_EQ(whole.rc, 0) << whole.out;
  ASSERT_EQ(reduced.rc, 0) << reduced.out;
  EXPECT_GT(whole.out.size(), 1000u);
  EXPECT_EQ(reduced.out, whole.out);
  // Text report and --fail-on on the reduce: the straggler finding is high or medium.
  auto text = run_command(cli() + " analyze " + f.b + " " + f.a);
  EXPECT_EQ(text.rc, 0) << text.out;
  EXPECT_NE(text.out.find("straggler"), std::string::npos) << text.out.substr(0, 2000);
  auto fail = run_command(cli() + " analyze --fail-on low " + f.a + " " + f.b);
  EXPECT_EQ(fail.rc, 1) << fail.out.substr(0, 500);
}

void expect_one_line_exit2(const std::string& cmd, const std::string& needle) {
  auto r = run_command(cmd);
  EXPECT_EQ(r.rc, 2) << cmd << "\n" << r.out;
  EXPECT_EQ(lines(r.out), 1) << cmd << "\n" << r.out;
  EXPECT_NE(r.out.find(needle), std::string::npos) << cmd << "\n" << r.out;
}

TEST(MapReduceCli, BadInputIsOneLineAndExit2) {
  const auto& f = fixture();
  auto m1 = run_command(cli() + " analyze --map --force --ranks 0-3 -o " + f.a + " " + f.run);
  ASSERT_EQ(m1.rc, 0) << m1.out;
  // A run among summaries; two runs.
  expect_one_line_exit2(cli() + " analyze " + f.a + " " + f.run, f.run + ": not a moetune summary");
  expect_one_line_exit2(cli() + " analyze " + f.run + " " + f.run, "not a moetune summary");
  // Only half of the job's nodes.
  expect_one_line_exit2(cli() + " analyze " + f.a, "but the summaries hold ranks 0,1,2,3");
  // Map usage.
  expect_one_line_exit2(cli() + " analyze --map --force --ranks 9 -o " + f.b + " " + f.run, "rank 9 is not in the run");
  expect_one_line_exit2(cli() + " analyze --map --force --ranks 3-1 -o " + f.b + " " + f.run, "--ranks 3-1");
  expect_one_line_exit2(cli() + " analyze --map " + f.run, "needs -o SUMMARY");
  expect_one_line_exit2(cli() + " analyze --map -o " + f.b + " " + f.run + " " + f.run, "takes one run file");
  expect_one_line_exit2(cli() + " analyze --map --force -o " + f.b + " " + f.run + " --peers /no/such/dir",
                        "/no/such/dir: --peers");
  expect_one_line_exit2(cli() + " analyze --map --force -o " + f.b + " " + f.a, "is a summary already");
  expect_one_line_exit2(cli() + " analyze -o " + f.b + " " + f.run, "belong to analyze --map");
  // A damaged file among summaries.
  auto junk = (anaa::tmpdir() / "junk.summary").string();
  std::ofstream(junk) << "not a store";
  expect_one_line_exit2(cli() + " analyze " + f.a + " " + junk, junk);
  // Map and reduce with different --comm-rules (the gathers classify kernels with them).
  auto rules = (anaa::tmpdir() / "mr_rules.json").string();
  std::ofstream(rules) << R"([{"pattern": "fused_send_tokens", "match": "contains", "kind": "p2p"}])";
  auto r1 = run_command(cli() + " analyze --map --force --comm-rules " + rules + " --ranks 0-3 -o " + f.a + " " + f.run);
  ASSERT_EQ(r1.rc, 0) << r1.out;
  auto r2 = run_command(cli() + " analyze --map --force --comm-rules " + rules + " --ranks 4-7 -o " + f.b + " " + f.run);
  ASSERT_EQ(r2.rc, 0) << r2.out;
  expect_one_line_exit2(cli() + " analyze " + f.a + " " + f.b, f.a + ": mapped with other options");
  auto same = run_command(cli() + " analyze --json --comm-rules " + rules + " " + f.a + " " + f.b);
  auto whole = run_command(cli() + " analyze --json --comm-rules " + rules + " " + f.run);
  EXPECT_EQ(same.rc, 0) << same.out.substr(0, 300);
  EXPECT_EQ(same.out, whole.out);
}

}  // namespace
