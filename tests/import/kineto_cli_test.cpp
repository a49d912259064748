// SPDX-License-Identifier: Apache-2.0
// CLI golden tests for Kineto import: `moetune import` + `info --json` on the real
// traces, and the bad-input contract (one line naming the file, exit 2, nothing left
// behind, an existing output untouched, a failed multi-file import stores nothing).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <zlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/scratch_test.h"
#include "common/text.h"
#include "import/kineto_test_util.h"

namespace moetune {
namespace {

namespace fs = std::filesystem;

struct Run {
  int code = -1;
  std::string out, err;
};

// Runs the CLI with `args` (already shell-quoted where needed).
Run cli(const std::string& args, const fs::path& dir) {
  fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  std::string cmd = std::string(MOETUNE_CLI) + " " + args + " >" + out.string() + " 2>" + err.string();
  int st = std::system(cmd.c_str());
  Run r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = test::read_text(out);
  r.err = test::read_text(err);
  return r;
}

using test::read_text;

void write(const fs::path& p, const std::string& bytes) { test::write_text(p, bytes); }

class KinetoCli : public test::ScratchTest {
 protected:

  // Expects a one-line error naming `file`, exit 2, and no output (or temporary) left.
  void expect_bad(const fs::path& file, const std::string& what) {
    SCOPED_TRACE(file.string());
    fs::path out = dir_ / "bad.moetune";
    auto r = cli("import " + file.string() + " -o " + out.string(), dir_);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(file.string()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    for (const auto& e : fs::directory_iterator(dir_))
      EXPECT_EQ(e.path().string().find("bad.moetune"), std::string::npos) << "left behind: " << e.path();
  }

};

TEST_F(KinetoCli, ImportThenInfoJsonCounts) {
  fs::path gz = test::kineto_dir() / "hta_trace_diff_control_rank3of8.json.gz";
  auto want = test::count_kineto(gz);
  fs::path out = dir_ / "run.moetune";
  auto r = cli("import " + gz.string() + " -o " + out.string(), dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  auto info = cli("info --json " + out.string(), dir_);
  ASSERT_EQ(info.code, 0) << info.err;
  auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j["counts"]["kernels"].get<long>(), want.kernels);
  EXPECT_EQ(j["counts"]["nccl_ops"].get<long>(), want.nccl_kernels);
  EXPECT_EQ(j["counts"]["memcpys"].get<long>(), want.memcpys);
  EXPECT_EQ(j["counts"]["steps"].get<long>(), static_cast<long>(want.steps.size()));
  ASSERT_EQ(j["ranks"].size(), 1u);
  EXPECT_EQ(j["ranks"][0]["rank"].get<long>(), 3);
  EXPECT_EQ(j["ranks"][0]["gpu_name"].get<std::string>(), "NVIDIA A100-PG509-200");
  // Earliest kernel (ts 1661203462600478 us) is the earliest event of any table? No: host
  // events start earlier. The range must contain it.
  EXPECT_LE(j["time_range_ns"][0].get<long long>(), 1661203462600478000LL);
}

TEST_F(KinetoCli, TwoRanksOneRun) {
  fs::path out = dir_ / "two.moetune";
  auto r = cli("import " + (test::kineto_dir() / "hta_sampled_rank0of128.json.gz").string() + " " +
                   (test::kineto_dir() / "hta_sampled_rank1of128.json.gz").string() + " -o " + out.string(),
               dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(cli("info --json " + out.string(), dir_).out);
  ASSERT_EQ(j["ranks"].size(), 2u);
  EXPECT_EQ(j["counts"]["kernels"].get<long>(),
            test::count_kineto(test::kineto_dir() / "hta_sampled_rank0of128.json.gz").kernels +
                test::count_kineto(test::kineto_dir() / "hta_sampled_rank1of128.json.gz").kernels);
}

TEST_F(KinetoCli, BadInputsExit2WithOneLine) {
  fs::path empty = dir_ / "empty.json";
  write(empty, "");
  expect_bad(empty, "empty file");

  std::string gz = read_text(test::kineto_dir() / "hta_sampled_rank0of128.json.gz");
  fs::path trunc = dir_ / "truncated.json.gz";
  write(trunc, gz.substr(0, gz.size() / 2));
  expect_bad(trunc, "truncated gzip");

  fs::path invalid = dir_ / "invalid.json";
  write(invalid, R"({"traceEvents": [{"ph": "X", "name": "k", "ts": 1,, }]})");
  expect_bad(invalid, "invalid JSON");

  fs::path unclosed = dir_ / "unclosed.json";
  write(unclosed, R"({"traceEvents":[{"ph":"X)");
  expect_bad(unclosed, "invalid JSON");

  fs::path no_events = dir_ / "no_events.json";
  write(no_events, R"({"schemaVersion": 1, "distributedInfo": {"rank": 0}})");
  expect_bad(no_events, "no traceEvents");

  fs::path no_rank = dir_ / "trace.json";
  write(no_rank, R"({"traceEvents": []})");
  expect_bad(no_rank, "--rank");
}

TEST_F(KinetoCli, RankFromOptionAndFileName) {
  fs::path named = dir_ / "job_worker7.json";
  write(named, R"({"traceEvents": [{"ph":"X","cat":"kernel","name":"k","pid":0,"tid":7,"ts":1.5,"dur":2}]})");
  fs::path out = dir_ / "named.moetune";
  ASSERT_EQ(cli("import " + named.string() + " -o " + out.string(), dir_).code, 0);
  auto j = nlohmann::json::parse(cli("info --json " + out.string(), dir_).out);
  EXPECT_EQ(j["ranks"][0]["rank"].get<long>(), 7);

  fs::path plain = dir_ / "trace.json";
  write(plain, R"({"traceEvents": [{"ph":"X","cat":"kernel","name":"k","pid":0,"tid":7,"ts":1.5,"dur":2}]})");
  ASSERT_EQ(cli("import --rank 4 " + plain.string() + " -o " + out.string() + " --force", dir_).code, 0);
  j = nlohmann::json::parse(cli("info --json " + out.string(), dir_).out);
  EXPECT_EQ(j["ranks"][0]["rank"].get<long>(), 4);
  EXPECT_EQ(j["time_range_ns"][0].get<long long>(), 1500);
}

TEST_F(KinetoCli, ExistingOutputNeedsForce) {
  fs::path out = dir_ / "keep.moetune";
  write(out, "precious");
  auto r = cli("import " + (test::kineto_dir() / "hta_sampled_rank0of128.json.gz").string() + " -o " + out.string(),
               dir_);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(out.string()), std::string::npos) << r.err;
  EXPECT_EQ(read_text(out), "precious");
}

TEST_F(KinetoCli, FailedMultiFileImportStoresNothing) {
  fs::path bad = dir_ / "bad.json";
  write(bad, "{\"traceEvents\": [");
  fs::path out = dir_ / "multi.moetune";
  auto r = cli("import " + (test::kineto_dir() / "hta_sampled_rank0of128.json.gz").string() + " " + bad.string() +
                   " -o " + out.string(),
               dir_);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(bad.string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find("multi.moetune"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace moetune
