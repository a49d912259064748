// SPDX-License-Identifier: Apache-2.0
// CLI input/output conventions (issue 14 items 6-8): export to .json.gz (gzip while it
// streams) with the findings as annotations and back through `moetune import`; export and
// report to stdout with -o -; `import DIR` of per-rank files (real HTA traces); a
// .nsys-rep gets the one nsys command that makes it importable; `record` keeps an
// NCCL_PROFILER_PLUGIN the job already set and says so in one line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/run_command.h"
#include "common/scratch_dir.h"
#include "common/text.h"

namespace fs = std::filesystem;

namespace {

const std::string kCli = MOETUNE_CLI;

moetune::test::CommandResult run(const std::string& cmd) { return moetune::test::run_command(cmd); }

const fs::path& dir() { return moetune::test::process_dir("moetune_cliio"); }

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}


// A synth run with a straggler (findings with time ranges), made once.
const fs::path& synth_run() {
  static const fs::path p = [] {
    auto out = dir() / "straggler.moetune";
    auto r = run(kCli + " synth --force --ranks 4 --steps 6 --inject straggler:2 -o " + out.string());
    EXPECT_EQ(r.rc, 0) << r.out;
    return out;
  }();
  return p;
}

}  // namespace

TEST(CliIo, ExportGzipCarriesFindingsAndReimports) {
  const auto gz = dir() / "rank2.json.gz";
  auto r = run(kCli + " export --force --rank 2 " + synth_run().string() + " -o " + gz.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  std::ifstream in(gz, std::ios::binary);
  unsigned char magic[2] = {0, 0};
  in.read(reinterpret_cast<char*>(magic), 2);
  EXPECT_EQ(magic[0], 0x1f);
  EXPECT_EQ(magic[1], 0x8b) << "a .gz name gives a gzip file";
  auto text = run("gzip -dc " + gz.string());
  ASSERT_EQ(text.rc, 0);
  EXPECT_EQ(text.out.front(), '{');
  EXPECT_GT(count(text.out, "\"cat\":\"moetune_finding\""), 0u) << "the straggler finding rides along";
  EXPECT_NE(text.out.find("\"name\":\"moetune findings\""), std::string::npos) << "on its own track";
  EXPECT_LT(fs::file_size(gz) * 3, text.out.size()) << "compressed";
  auto back = run(kCli + " import --force " + gz.string() + " -o " + (dir() / "back.moetune").string());
  EXPECT_EQ(back.rc, 0) << back.out;
  auto none = run(kCli + " export --force --no-findings --rank 2 " + synth_run().string() + " -o " +
                  (dir() / "nf.json").string());
  ASSERT_EQ(none.rc, 0) << none.out;
  std::ifstream nf(dir() / "nf.json");
  std::string plain((std::istreambuf_iterator<char>(nf)), std::istreambuf_iterator<char>());
  EXPECT_EQ(count(plain, "moetune_finding"), 0u);
}

TEST(CliIo, DashWritesToStdout) {
  auto r = run(kCli + " export --no-findings " + synth_run().string() + " -o - 2>/dev/null");
  ASSERT_EQ(r.rc, 0);
  EXPECT_EQ(r.out.rfind("{\"schemaVersion\"", 0), 0u) << r.out.substr(0, 80);
  EXPECT_FALSE(fs::exists("-"));
}

TEST(CliIo, ImportADirectoryOfRankFiles) {
  const fs::path k = std::string(MOETUNE_SHARED_DATA) + "/external/kineto";
  if (!fs::exists(k / "hta_sampled_rank0of128.json.gz")) GTEST_SKIP() << "real HTA traces not present";
  const auto ranks = dir() / "ranks";
  fs::create_directories(ranks);
  for (const char* f : {"hta_sampled_rank0of128.json.gz", "hta_sampled_rank1of128.json.gz"})
    if (!fs::exists(ranks / f)) fs::create_symlink(k / f, ranks / f);
  std::ofstream(ranks / "notes.md") << "not a trace\n";  // ignored: not a trace extension
  auto r = run(kCli + " import --force " + ranks.string() + " -o " + (dir() / "dir.moetune").string());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("imported 2 file(s)"), std::string::npos) << r.out;
  auto info = run(kCli + " info " + (dir() / "dir.moetune").string());
  EXPECT_EQ(info.rc, 0) << info.out;
  const auto empty = dir() / "empty";
  fs::create_directories(empty);
  auto e = run(kCli + " import " + empty.string() + " -o " + (dir() / "e.moetune").string());
  EXPECT_EQ(e.rc, 2);
  EXPECT_TRUE(moetune::test::one_line(e.out)) << e.out;
  EXPECT_NE(e.out.find("no trace files"), std::string::npos) << e.out;
}

TEST(CliIo, NsysReportGetsTheExportCommand) {
  const auto rep = dir() / "profile.nsys-rep";
  std::ofstream(rep) << "binary";
  auto r = run(kCli + " import " + rep.string() + " -o " + (dir() / "n.moetune").string());
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(moetune::test::one_line(r.out)) << r.out;
  EXPECT_NE(r.out.find("nsys export --type sqlite"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir() / "n.moetune"));
}

TEST(CliIo, RecordKeepsAForeignNcclProfilerPlugin) {
  if (run(kCli + " record --help").rc != 0) GTEST_SKIP() << "built without the live collectors";
  auto r = run("NCCL_PROFILER_PLUGIN=/opt/nccl-inspector/libinspector.so " + kCli + " record --force -o " +
               (dir() / "rec.moetune").string() + " -- sh -c 'echo plugin=$NCCL_PROFILER_PLUGIN'");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("plugin=/opt/nccl-inspector/libinspector.so"), std::string::npos) << "not replaced: " << r.out;
  EXPECT_EQ(count(r.out, "NCCL_PROFILER_PLUGIN is already set"), 1u) << r.out;
}
