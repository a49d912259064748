// SPDX-License-Identifier: Apache-2.0
// Golden tests of the nsys SQLite importer on the real exports in shared/data/external/nsys.
// Expected values are computed independently with plain SQL on the raw export, and a few
// are pinned to numbers read off the files by hand (sqlite3 CLI) so that a change in both
// importer and query cannot hide.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>

#include "common/expect_rows.h"
#include "common/import_store.h"
#include "moetune/import/import.h"
#include "moetune/trace/reader.h"

namespace fs = std::filesystem;
using namespace moetune;

namespace {

const fs::path kTwoGpu = fs::path(MOETUNE_SHARED_DATA) / "external/nsys/nsys_ai_mfu_2gpu_before.sqlite";
const fs::path kRtx = fs::path(MOETUNE_SHARED_DATA) / "external/nsys/nsys_ai_mock_rtx3080.sqlite";

fs::path temp_out(const std::string& tag) {
  return fs::temp_directory_path() / ("moetune_nsys_" + tag + "_" + std::to_string(getpid()) + ".moetune");
}

// Imports `files` into a fresh run and opens it.
std::unique_ptr<TraceReader> import_run(const std::vector<fs::path>& files, const std::string& tag) {
  fs::path out = temp_out(tag);
  auto rd = test::import_store(files, out);
  fs::remove(out);  // the open reader keeps the data
  return rd;
}

// The raw export opened read-only (a test failure and nullptr when it does not open).
std::unique_ptr<Db> open_raw(const fs::path& file) {
  auto db = Db::open(file, Db::Mode::ReadOnly);
  if (!db) {
    ADD_FAILURE() << db.error().message;
    return nullptr;
  }
  return std::move(*db);
}

// An export imported (as import_run) beside the raw export itself, to compare the two.
struct ImportedAndRaw {
  std::unique_ptr<TraceReader> rd;
  std::unique_ptr<Db> raw;
};
ImportedAndRaw import_beside_raw(const fs::path& file, const std::string& tag) {
  return {import_run({file}, tag), open_raw(file)};
}

// The imported store answers `store_sql` as the raw export answers `raw_sql`, which must
// answer; that answer.
std::optional<std::int64_t> expect_same(TraceReader& rd, Db& raw, const std::string& store_sql,
                                        const std::string& raw_sql) {
  auto want = raw.scalar(raw_sql);
  EXPECT_TRUE(want) << raw_sql;
  EXPECT_EQ(rd.db().scalar(store_sql), want) << store_sql;
  return want;
}

// pid -> count from a query on the raw export returning (pid, count).
std::map<std::int64_t, std::int64_t> raw_by_pid(const fs::path& file, const std::string& sql) {
  std::map<std::int64_t, std::int64_t> m;
  auto db = open_raw(file);
  if (!db) return m;
  auto st = db->prepare(sql);
  EXPECT_TRUE(st.ok()) << sql;
  while (st->step()) m[st->i64(0)] = st->i64(1);
  return m;
}

std::map<std::int64_t, std::int64_t> store_by_pid(TraceReader& rd, const std::string& table,
                                                  const std::string& where = "1") {
  std::map<std::int64_t, std::int64_t> m;
  auto st = rd.db().prepare("SELECT r.pid, count(*) FROM " + table + " t JOIN ranks r ON r.rank = t.rank WHERE " +
                            where + " GROUP BY r.pid");
  EXPECT_TRUE(st.ok());
  while (st->step()) m[st->i64(0)] = st->i64(1);
  return m;
}

const char* kPid = "(globalPid >> 24) & 16777215";

TEST(NsysGolden, TwoProcessesAreTwoRanksOrderedByDevice) {
  auto rd = import_run({kTwoGpu}, "ranks");
  ASSERT_TRUE(rd);
  auto ranks = test::rows(rd->ranks());
  ASSERT_EQ(ranks.size(), 2u);
  // By hand: pid 144 ran its kernels on device 0, pid 145 on device 1.
  EXPECT_EQ(ranks[0].rank.value, 0);
  EXPECT_EQ(ranks[0].pid, 144);
  EXPECT_EQ(ranks[0].device, 0);
  EXPECT_EQ(ranks[1].rank.value, 1);
  EXPECT_EQ(ranks[1].pid, 145);
  EXPECT_EQ(ranks[1].device, 1);
  EXPECT_NE(ranks[0].source.find("python3"), std::string::npos) << ranks[0].source;
}

TEST(NsysGolden, PerRankCountsMatchRawExport) {
  auto rd = import_run({kTwoGpu}, "counts");
  ASSERT_TRUE(rd);
  const std::string pid = kPid;
  EXPECT_EQ(store_by_pid(*rd, "kernels"),
            raw_by_pid(kTwoGpu, "SELECT " + pid + ", count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL GROUP BY 1"));
  EXPECT_EQ(store_by_pid(*rd, "memcpys"),
            raw_by_pid(kTwoGpu, "SELECT " + pid + ", count(*) FROM CUPTI_ACTIVITY_KIND_MEMCPY GROUP BY 1"));
  EXPECT_EQ(store_by_pid(*rd, "memsets"),
            raw_by_pid(kTwoGpu, "SELECT " + pid + ", count(*) FROM CUPTI_ACTIVITY_KIND_MEMSET GROUP BY 1"));
  EXPECT_EQ(store_by_pid(*rd, "api_calls", "t.kind = 3"),
            raw_by_pid(kTwoGpu, "SELECT " + pid + ", count(*) FROM CUPTI_ACTIVITY_KIND_SYNCHRONIZATION GROUP BY 1"));
  EXPECT_EQ(store_by_pid(*rd, "api_calls", "t.kind <> 3"),
            raw_by_pid(kTwoGpu, "SELECT (globalTid >> 24) & 16777215, count(*) FROM CUPTI_ACTIVITY_KIND_RUNTIME "
                                "WHERE (globalTid >> 24) & 16777215 IN (144, 145) GROUP BY 1"));
  EXPECT_EQ(store_by_pid(*rd, "nvtx"),
            raw_by_pid(kTwoGpu, "SELECT (globalTid >> 24) & 16777215, count(*) FROM NVTX_EVENTS "
                                "WHERE eventType IN (34, 59, 60) AND (globalTid >> 24) & 16777215 IN (144, 145) "
                                "GROUP BY 1"));
  // NCCL kernels by name, and one nccl_ops row per NCCL kernel.
  auto raw_nccl = raw_by_pid(kTwoGpu, "SELECT " + pid + ", count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL k JOIN StringIds s "
                                      "ON s.id = k.shortName WHERE s.value LIKE 'ncclDevKernel%' GROUP BY 1");
  EXPECT_EQ(store_by_pid(*rd, "kernels", "t.name_id IN (SELECT id FROM strings WHERE value LIKE 'ncclDevKernel%')"),
            raw_nccl);
  EXPECT_EQ(store_by_pid(*rd, "nccl_ops"), raw_nccl);

  // Pinned by hand (sqlite3 on the export): pid 144 / 145.
  auto k = store_by_pid(*rd, "kernels");
  EXPECT_EQ(k[144], 1993);
  EXPECT_EQ(k[145], 2017);
  EXPECT_EQ(raw_nccl[144], 33);
  EXPECT_EQ(raw_nccl[145], 33);
  auto m = store_by_pid(*rd, "memcpys");
  EXPECT_EQ(m[144], 510);
  EXPECT_EQ(m[145], 510);
  auto n = store_by_pid(*rd, "nvtx");
  EXPECT_EQ(n[144], 9443);
  EXPECT_EQ(n[145], 9675);
}

TEST(NsysGolden, AbsoluteTimesFromSessionStart) {
  auto [rd, db] = import_beside_raw(kTwoGpu, "time");
  ASSERT_TRUE(rd && db);
  // Raw target-clock timestamps: abs = utcEpochNs + (t - systemClockNs).
  auto first = expect_same(*rd, *db, "SELECT min(start_ns) FROM kernels",
                           "SELECT s.utcEpochNs + (SELECT min(start) FROM CUPTI_ACTIVITY_KIND_KERNEL) - s.systemClockNs "
                           "FROM TARGET_INFO_SESSION_START_TIME s");
  // By hand: 1779782330176752435 + (60111513113 - 28254349605); 2026-05-26T07:59:22 UTC.
  EXPECT_EQ(first, 1779782362033915943LL);
  // Durations are kept: the longest kernel equals the raw one.
  expect_same(*rd, *db, "SELECT max(dur_ns) FROM kernels", "SELECT max(end - start) FROM CUPTI_ACTIVITY_KIND_KERNEL");
}

TEST(NsysGolden, DeviceNamesFromTargetInfoAndRelativeTimes) {
  auto rd = import_run({kRtx}, "rtx");
  ASSERT_TRUE(rd);
  auto ranks = test::rows(rd->ranks());
  ASSERT_EQ(ranks.size(), 1u);
  EXPECT_EQ(ranks[0].pid, 91186);
  EXPECT_EQ(ranks[0].gpu_name, "NVIDIA GeForce RTX 3080");
  EXPECT_EQ(ranks[0].sm_count, 68);
  EXPECT_EQ(ranks[0].memory_bytes, 10736893952LL);
  EXPECT_EQ(ranks[0].bus_id, "0000:01:00.0");
  EXPECT_EQ(ranks[0].gpu_uuid, "554a6988-03dd-6206-3dd1-f43fb60a3ed0");
  EXPECT_EQ(ranks[0].compute_cap, "8.6");
  EXPECT_EQ(ranks[0].host, "DESKTOP-KBEMEQS");
  // This export's timestamps are session-relative (they lie below systemClockNs).
  EXPECT_EQ(rd->db().scalar("SELECT min(start_ns) FROM kernels"), 1776781226557295056LL + 1517727052LL);
  EXPECT_EQ(test::rows(rd->counts()).get("kernels"), 2);
  EXPECT_EQ(test::rows(rd->counts()).get("memcpys"), 1);
  EXPECT_EQ(test::rows(rd->counts()).get("nvtx"), 0);  // the export has no NVTX_EVENTS table: empty, not an error
}

TEST(NsysGolden, NcclOpsJoinTheNcclApiRanges) {
  auto rd = import_run({kTwoGpu}, "nccl");
  ASSERT_TRUE(rd);
  auto ops = test::rows(rd->nccl_ops());
  ASSERT_EQ(ops.size(), 66u);
  int joined = 0;
  for (const auto& op : ops) {
    EXPECT_TRUE(op.func == "SendRecv" || op.func == "Send" || op.func == "Recv") << op.func;
    ASSERT_TRUE(op.kernel_id.has_value());
    EXPECT_LE(op.start_ns, op.end_ns);
    if (op.enqueue_ns) {
      ++joined;
      EXPECT_LE(*op.enqueue_ns, op.start_ns);  // the host called NCCL before the kernel ran
    }
  }
  // Every SendRecv kernel in the window was launched from a thread with ncclSend/ncclRecv ranges.
  EXPECT_GT(joined, 60);
  // The NCCL NVTX domain is recognised although the export has no domain-create rows.
  EXPECT_EQ(rd->db().scalar("SELECT count(*) FROM nvtx WHERE domain_id = (SELECT id FROM strings WHERE value='NCCL')"),
            462);
}

TEST(NsysGolden, TorchNvtxNamesAreSplitFromTheirIds) {
  auto [rd, db] = import_beside_raw(kTwoGpu, "torchnames");
  ASSERT_TRUE(rd && db);
  // "aten::mul, seq = 45328, op_id = 990726" -> name "aten::mul", payload {"seq":..,"op_id":..}.
  auto names = expect_same(
      *rd, *db, "SELECT count(DISTINCT name_id) FROM nvtx",
      "SELECT count(DISTINCT CASE WHEN instr(n.text, ', ') > 0 THEN substr(n.text, 1, instr(n.text, ', ') - 1) "
      "ELSE coalesce(n.text, s.value) END) FROM NVTX_EVENTS n LEFT JOIN StringIds s ON s.id = n.textId");
  EXPECT_EQ(names, 88 + 5);  // by hand: 88 torch op names + 5 NCCL API names
  expect_same(*rd, *db, "SELECT count(*) FROM nvtx WHERE json_extract(payload, '$.op_id') IS NOT NULL",
              "SELECT count(*) FROM NVTX_EVENTS WHERE text LIKE '%, op_id = %'");
  EXPECT_EQ(rd->db().scalar("SELECT json_extract(payload, '$.op_id') FROM nvtx WHERE start_ns = "
                            "(SELECT min(start_ns) FROM nvtx)"),
            990346);  // by hand: the first NVTX row is "aten::empty, op_id = 990346"
}

TEST(NsysGolden, TwoExportsOfOneJobMergeIntoOneRun) {
  auto rd = import_run({kTwoGpu, kRtx}, "merge");
  ASSERT_TRUE(rd);
  auto ranks = test::rows(rd->ranks());
  ASSERT_EQ(ranks.size(), 3u);
  EXPECT_EQ(ranks[2].pid, 91186);  // the second file's process takes the next free rank
  EXPECT_EQ(test::rows(rd->counts()).get("kernels"), 1993 + 2017 + 2);
}

}  // namespace
