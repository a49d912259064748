// SPDX-License-Identifier: Apache-2.0
// Hostile stores (issue 16): tables sized by ids read from the file, damaged or
// incomplete stores read as data. Synthetic stores written by TraceWriter, then damaged
// with SQL as an attacker or a bad disk would.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "common/expect_rows.h"
#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"
#include "trace/store_fixture.h"

namespace fs = std::filesystem;
using namespace moetune;
using test::expect_refused;
using test::tmp_path;

namespace {

// Synthetic: 2 ranks, 20 kernels named gemm / nccl, one NCCL op, 2 steps.
void write_small(const fs::path& p) {
  test::write_store(p, 20, [](TraceWriter& wr) {
    for (int r = 0; r < 2; ++r) {
      RankRow row;
      row.rank = RankId(r);
      row.host = "h0";
      wr.add(row);
    }
    wr.add(test::small_allreduce());
    wr.add(StepRow{RankId(0), 1, 0, 10000, std::nullopt});
    wr.add(StepRow{RankId(1), 1, 0, 10000, std::nullopt});
  });
}

void sql(const fs::path& p, const std::string& q) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, q.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in " << q;
  sqlite3_free(err);
  sqlite3_close(db);
}

}  // namespace

TEST(HostileStore, SparseStringIdIsRenumberedNotSizedByTheId) {
  auto p = tmp_path("sparse_strings.moetune");
  write_small(p);
  // One string id at 2^40 (the reader used to size its table by the largest id: 268435455
  // -> ~8.6 GB; above 2^28 it refused the run as corrupt).
  const std::string big = std::to_string(1LL << 40);
  sql(p, "UPDATE kernels SET name_id = " + big + " WHERE name_id = (SELECT id FROM strings WHERE value = 'gemm');"
         "UPDATE strings SET id = " + big + " WHERE value = 'gemm';");
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_LT((*r)->strings().size(), 16u);
  int gemm = 0, nccl = 0;
  for (const auto& k : test::rows((*r)->kernels())) {
    gemm += (*r)->str(k.name) == "gemm";
    nccl += (*r)->str(k.name) == "ncclDevKernel_AllReduce";
  }
  EXPECT_EQ(gemm, 18);
  EXPECT_EQ(nccl, 2);
}

TEST(HostileStore, OutOfIntRangeLayerAndExpertReadAsInvalid) {
  auto p = tmp_path("wide_ids.moetune");
  write_small(p);
  // format 3: one expert_counts row, its tokens list [5] (tag 1, varint 5)
  sql(p, "INSERT INTO expert_counts(step,layer,rank,n,expert0,tokens) VALUES (0, 4294967296, 0, 1, 4294967297, x'0105');"
         "INSERT INTO expert_placement(layer,expert,rank,replica) VALUES (4294967296, 4294967298, 0, 0);");
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r) << r.error().message;
  auto routing = test::rows((*r)->expert_routing());
  ASSERT_EQ(routing.size(), 1u);
  EXPECT_EQ(routing[0].layer, -1);  // not 0 (a wrapped 2^32)
  EXPECT_EQ(routing[0].expert, -1);
  auto placement = test::rows((*r)->expert_placement());
  ASSERT_EQ(placement.size(), 1u);
  EXPECT_EQ(placement[0].layer, -1);
  EXPECT_EQ(placement[0].expert, -1);
}

TEST(HostileStore, DroppedTableOrColumnIsRefused) {
  for (const std::string& damage : {std::string("DROP TABLE steps"), std::string("DROP TABLE nccl_ops"),
                                    std::string("ALTER TABLE kernels DROP COLUMN grid")}) {
    auto p = tmp_path("dropped.moetune");
    write_small(p);
    sql(p, damage);
    SCOPED_TRACE(damage);
    expect_refused(p, p.string() + ": damaged store");
  }
}

TEST(HostileStore, DeletedRowsAreCountedNotTheCachedCount) {
  auto p = tmp_path("deleted.moetune");
  write_small(p);
  sql(p, "DELETE FROM kernels WHERE rank = 1");
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::rows((*r)->counts()).get("kernels"), 10);
  bool flagged = false;
  for (const auto& s : test::rows((*r)->stats()))
    if (s.name == "store_count_mismatch" && s.severity == Severity::Error && s.value == -10) flagged = true;
  EXPECT_TRUE(flagged);
}

TEST(HostileStore, NegativeFormatVersionIsRefused) {
  auto p = tmp_path("negver.moetune");
  write_small(p);
  sql(p, "PRAGMA user_version = -1");
  expect_refused(p, "format version -1");
}

TEST(HostileStore, DamagedPageIsRefusedByQuickCheck) {
  auto p = tmp_path("damaged.moetune");
  write_small(p);
  // Overwrite the b-tree page header of the steps table's root page: the schema still
  // reads, the table's rows do not.
  std::int64_t page_size = 0, root = 0;
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT (SELECT page_size FROM pragma_page_size), rootpage FROM sqlite_master "
                           "WHERE name = 'steps'", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    page_size = sqlite3_column_int64(st, 0);
    root = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  ASSERT_GT(root, 1);
  {
    FILE* f = std::fopen(p.c_str(), "r+b");
    ASSERT_TRUE(f);
    std::fseek(f, static_cast<long>((root - 1) * page_size), SEEK_SET);
    const char junk[] = "\x42\xff\xff\xff\xff\xff\xff\xff";
    std::fwrite(junk, 1, sizeof junk - 1, f);
    std::fclose(f);
  }
  expect_refused(p, "damaged store");
}

TEST(HostileStore, LockedStoreIsReportedAsLockedNotAsNotADatabase) {
  auto p = tmp_path("locked.moetune");
  write_small(p);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;", nullptr, nullptr, nullptr), SQLITE_OK);
  auto r = TraceReader::open(p);  // waits the busy timeout, then says why
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("locked by another process"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("not an SQLite database"), std::string::npos) << r.error().message;
}
