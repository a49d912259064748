// SPDX-License-Identifier: Apache-2.0
// CLI golden tests of nsys import: `moetune import EXPORT -o RUN` then `moetune info RUN
// --json`, checked against plain SQL on the raw export; and the CLI contract for a
// SQLite file that is not an nsys export (one line naming the file, exit 2, no output).
#include <gtest/gtest.h>

#include "common/run_command.h"
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "moetune/trace/db.h"

namespace fs = std::filesystem;
using namespace moetune;

namespace {

const fs::path kTwoGpu = fs::path(MOETUNE_SHARED_DATA) / "external/nsys/nsys_ai_mfu_2gpu_before.sqlite";

struct CliRun {
  int status = -1;
  std::string out;  // stdout and stderr
};

CliRun run_cli(const std::string& args) {
  auto c = moetune::test::run_command(std::string(MOETUNE_CLI) + " " + args);
  CliRun r;
  r.status = c.rc;
  r.out = std::move(c.out);
  return r;
}

fs::path temp(const std::string& tag, const char* ext) {
  return fs::temp_directory_path() / ("moetune_nsys_cli_" + tag + "_" + std::to_string(getpid()) + ext);
}

std::int64_t raw(const std::string& sql) {
  auto db = Db::open(kTwoGpu, Db::Mode::ReadOnly);
  EXPECT_TRUE(db.ok());
  return (*db)->scalar(sql).value_or(-1);
}

TEST(NsysCli, ImportThenInfoJsonMatchesRawExport) {
  fs::path out = temp("two", ".moetune");
  CliRun imp = run_cli("import '" + kTwoGpu.string() + "' -o '" + out.string() + "' --force");
  ASSERT_EQ(imp.status, 0) << imp.out;
  CliRun info = run_cli("info '" + out.string() + "' --json");
  ASSERT_EQ(info.status, 0) << info.out;
  auto j = nlohmann::json::parse(info.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << info.out;
  ASSERT_EQ(j["ranks"].size(), 2u);
  EXPECT_EQ(j["ranks"][0]["pid"], 144);
  EXPECT_EQ(j["ranks"][0]["device"], 0);
  EXPECT_EQ(j["ranks"][1]["pid"], 145);
  EXPECT_EQ(j["ranks"][1]["device"], 1);
  EXPECT_EQ(j["ranks"][0]["host"], "modal");  // TARGET_INFO_SYSTEM_ENV Hostname
  const auto& c = j["counts"];
  // Both processes ran kernels, so every GPU-side row belongs to a rank.
  EXPECT_EQ(c["kernels"], raw("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL"));
  EXPECT_EQ(c["memcpys"], raw("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_MEMCPY"));
  EXPECT_EQ(c["memsets"], raw("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_MEMSET"));
  EXPECT_EQ(c["nccl_ops"], raw("SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL k JOIN StringIds s ON s.id = "
                               "k.shortName WHERE s.value LIKE 'ncclDevKernel%'"));
  EXPECT_EQ(c["api_calls"], raw("SELECT (SELECT count(*) FROM CUPTI_ACTIVITY_KIND_SYNCHRONIZATION) + "
                                "(SELECT count(*) FROM CUPTI_ACTIVITY_KIND_RUNTIME "
                                "WHERE (globalTid >> 24) & 16777215 IN (144, 145))"));
  EXPECT_EQ(c["kernels"], 4010);  // pinned by hand
  EXPECT_EQ(c["nccl_ops"], 66);
  EXPECT_EQ(c["memcpys"], 1020);
  // Time range on the absolute clock: starts at the earliest event of the two ranks.
  std::int64_t first = raw(
      "SELECT s.utcEpochNs - s.systemClockNs + min((SELECT min(start) FROM CUPTI_ACTIVITY_KIND_KERNEL), "
      "(SELECT min(start) FROM CUPTI_ACTIVITY_KIND_RUNTIME WHERE (globalTid >> 24) & 16777215 IN (144, 145)), "
      "(SELECT min(start) FROM NVTX_EVENTS WHERE (globalTid >> 24) & 16777215 IN (144, 145)), "
      "(SELECT min(start) FROM CUPTI_ACTIVITY_KIND_MEMCPY), (SELECT min(start) FROM CUPTI_ACTIVITY_KIND_MEMSET), "
      "(SELECT min(start) FROM CUPTI_ACTIVITY_KIND_SYNCHRONIZATION)) FROM TARGET_INFO_SESSION_START_TIME s");
  EXPECT_EQ(j["time_range_ns"][0], first);
  fs::remove(out);
}

TEST(NsysCli, NotAnExportIsOneLineAndExit2) {
  fs::path in = temp("notnsys", ".sqlite"), out = temp("notnsys", ".moetune");
  fs::remove(in);
  fs::remove(out);
  {
    auto db = Db::open(in, Db::Mode::Create);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);").ok());
  }
  CliRun r = run_cli("import '" + in.string() + "' -o '" + out.string() + "'");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(in.string() + ": SQLite file is not an nsys export"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_FALSE(fs::exists(out));  // no partial output
  fs::remove(in);
}

}  // namespace
