// SPDX-License-Identifier: Apache-2.0
// CLI behaviour of record / merge / attach that needs no GPU: exit status passes
// through, an unwritable output directory leaves the job running with one warning,
// bad usage exits 2 with one line, merge of the recorded fixtures works.
#include <gtest/gtest.h>

#include "common/run_command.h"
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "moetune/trace/reader.h"

namespace fs = std::filesystem;

namespace {
struct Result {
  int code;
  std::string out;
};
Result sh(const std::string& cmd) {
  auto c = moetune::test::run_command(cmd);
  return Result{c.rc, std::move(c.out)};
}
const std::string cli = MOETUNE_CLI;
}  // namespace

TEST(RecordCli, PassesExitStatusThrough) {
  auto out = fs::temp_directory_path() / ("moetune-rec-" + std::to_string(::getpid()) + ".moetune");
  auto r = sh(cli + " record -o " + out.string() + " -- sh -c 'exit 3'");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_FALSE(fs::exists(out));  // no CUDA/NCCL use: nothing to write, said once
  EXPECT_NE(r.out.find("wrote no trace"), std::string::npos) << r.out;
  fs::remove_all(out.string() + ".parts");
}

TEST(RecordCli, UnwritableOutputRunsTheJobWithOneWarning) {
  auto r = sh(cli + " record -o /proc/moetune-nope/run.moetune -- sh -c 'echo job-ran; exit 4'");
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.out.find("job-ran"), std::string::npos);
  EXPECT_NE(r.out.find("moetune: warning: cannot write"), std::string::npos) << r.out;
}

TEST(RecordCli, BadUsageExitsTwoWithOneLine) {
  auto r = sh(cli + " record -o x.moetune --what cuda,gpu -- true");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("unknown collector 'gpu'"), std::string::npos) << r.out;
  r = sh(cli + " attach 999999999");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("no moetune control socket"), std::string::npos) << r.out;
  r = sh(cli + " attach 1 --duration 5parsecs");
  EXPECT_EQ(r.code, 2);
  r = sh(cli + " merge /nonexistent.moetune -o /tmp/x.moetune");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("/nonexistent.moetune: no such file"), std::string::npos) << r.out;
}

TEST(RecordCli, MergesRecordedRunsIntoOne) {
  auto out = fs::temp_directory_path() / ("moetune-merged-" + std::to_string(::getpid()) + ".moetune");
  std::string data = std::string(MOETUNE_TEST_DATA) + "/recorded/";
  auto r = sh(cli + " merge " + data + "client2.moetune -o " + out.string() + " --force");
  ASSERT_EQ(r.code, 0) << r.out;
  auto a = moetune::TraceReader::open(data + "client2.moetune");
  auto b = moetune::TraceReader::open(out);
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*b)->ranks().size(), 2u);
  for (const char* t : {"kernels", "nvtx", "nccl_ops", "steps", "expert_routing"})
    EXPECT_EQ((*a)->counts().get(t), (*b)->counts().get(t)) << t;
  fs::remove(out);
}
