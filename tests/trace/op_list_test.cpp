// SPDX-License-Identifier: Apache-2.0
// nccl_ops lists (split sizes, group ranks): compact encoding, exact text round trip,
// one stored copy per distinct list, format-1 files (JSON text in the column) still read.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "common/expect_rows.h"
#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"
#include "trace/store_fixture.h"

namespace fs = std::filesystem;
using namespace moetune;

using test::tmp_path;

TEST(OpList, TextRoundTripAndCompactForm) {
  for (const char* t : {"[1,2,3]", "[1024, 1024, 1024, 1024]", "[]", "[0]", "[0,0,0,5,0,0]", "[0, 1]",
                        "[123456789012345678]"}) {
    OpList l(t);
    EXPECT_TRUE(l.compact()) << t;
    EXPECT_EQ(*l, t);
    EXPECT_EQ(l.value_or("x"), t);
  }
  for (const char* t : {"[1.5, 2]", "[01,2]", "[1,2, 3]", "[-1]", "not a list", "[1,]"}) {
    OpList l(t);
    EXPECT_FALSE(l.compact()) << t;
    EXPECT_EQ(*l, t);  // kept verbatim
  }
  EXPECT_DOUBLE_EQ(OpList("[1.5, 2]").sum(), 3.5);
  EXPECT_DOUBLE_EQ(OpList("[0,0,7,0,3]").sum(), 10);
  EXPECT_EQ(OpList("[0,0,7,0,3]").values(), (std::vector<std::int64_t>{0, 0, 7, 0, 3}));
  EXPECT_EQ(OpList("[0,0,7,0,3]").size(), 5u);
  OpList none;
  EXPECT_FALSE(none.has_value());
  EXPECT_EQ(none.value_or("d"), "d");
  // A 1024-entry split list with 3 of 4 peers zero: ~0.75 KB instead of ~2.3 KB of text.
  std::vector<std::int64_t> v(1024);
  for (std::size_t i = 0; i < v.size(); i += 4) v[i] = 37;
  OpList big = OpList::of(v);
  EXPECT_EQ(big.values(), v);
  EXPECT_LT(big.encoded().size(), 800u);
  EXPECT_GT(big.text().size(), 2300u);
}

TEST(OpList, StoredOncePerDistinctListAndSharedOnRead) {
  auto p = tmp_path("lists.moetune");
  {
    auto w = TraceWriter::create(p, {.force = true});
    ASSERT_TRUE(w);
    for (int r = 0; r < 8; ++r) {
      NcclOpRow op;
      op.rank = RankId(r);
      op.func = "AllToAll";
      op.start_ns = 100 * r, op.end_ns = 100 * r + 50;
      op.pg_ranks = "[0,1,2,3,4,5,6,7]";
      op.in_splits = r % 2 ? "[4,0,0,4,0,0,0,0]" : "[1, 2]";
      op.out_splits = "[1.5,2]";  // not integers: stays text
      (void)(*w)->add(op);
    }
    ASSERT_TRUE((*w)->finish());
  }
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->format_version(), kFormatVersion);
  EXPECT_EQ((*r)->db().scalar("SELECT count(*) FROM nccl_lists"), 3);  // group ranks + 2 split lists
  EXPECT_EQ((*r)->db().scalar("SELECT count(*) FROM nccl_ops WHERE typeof(out_splits) = 'text'"), 8);
  auto ops = test::rows((*r)->nccl_ops());
  ASSERT_EQ(ops.size(), 8u);
  for (const auto& o : ops) {
    EXPECT_EQ(*o.pg_ranks, "[0,1,2,3,4,5,6,7]");
    EXPECT_EQ(*o.in_splits, o.rank.value % 2 ? "[4,0,0,4,0,0,0,0]" : "[1, 2]");
    EXPECT_EQ(*o.out_splits, "[1.5,2]");
    EXPECT_EQ(&o.pg_ranks.encoded(), &ops[0].pg_ranks.encoded());  // one copy in memory
  }
}

TEST(OpList, FormatOneFilesReadTheirText) {
  auto p = tmp_path("v1.moetune");
  {
    auto w = TraceWriter::create(p, {.force = true});
    ASSERT_TRUE(w);
    NcclOpRow op;
    op.rank = RankId(0);
    op.func = "AllToAll";
    op.end_ns = 10;
    (void)(*w)->add(op);
    ASSERT_TRUE((*w)->finish());
  }
  // What a format-1 writer stored: JSON text in the columns, no nccl_lists table.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE nccl_ops SET in_splits='[3, 4]', out_splits='[5,6]', pg_ranks='[0, 1]';"
                         "DROP TABLE nccl_lists; PRAGMA user_version = 1;"
                         // format 3's tables out, format 1's expert_routing in
                         "DROP TABLE expert_counts; DROP VIEW topology_pairs; DROP TABLE topology_domain_gpus;"
                         "DROP TABLE topology_domains; CREATE TABLE expert_routing (step, layer, rank, expert, tokens,"
                         " time_ns)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->format_version(), 1);
  auto ops = test::rows((*r)->nccl_ops());
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(*ops[0].in_splits, "[3, 4]");
  EXPECT_EQ(*ops[0].out_splits, "[5,6]");
  EXPECT_EQ(*ops[0].pg_ranks, "[0, 1]");
  EXPECT_DOUBLE_EQ(ops[0].in_splits.sum(), 7);
}
