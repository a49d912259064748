// SPDX-License-Identifier: Apache-2.0
// Issue 15 item 1: trace/schema.sql (the CREATE TABLE text) and the table descriptors
// of tables.h (what the writer binds and the reader selects) name the same tables and
// columns, with the same SQL types, in the same order.
#include <gtest/gtest.h>

#include <set>

#include "moetune/trace/reader.h"
#include "moetune/trace/tables.h"
#include "moetune/trace/writer.h"

using namespace moetune;

namespace {

struct SqlColumn {
  std::string name, type;
};

// The tables of schema.sql in the order it creates them, each with its columns in order.
std::vector<std::pair<std::string, std::vector<SqlColumn>>> tables_of_schema_sql() {
  std::vector<std::pair<std::string, std::vector<SqlColumn>>> out;
  auto db = Db::open(":memory:", Db::Mode::Create);
  EXPECT_TRUE(db);
  if (!db) return out;
  EXPECT_TRUE(create_schema(**db));
  auto t = (*db)->prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid");
  EXPECT_TRUE(t);
  while (t->step()) out.push_back({t->text(0), {}});
  for (auto& [name, cols] : out) {
    auto c = (*db)->prepare("SELECT name, type FROM pragma_table_info(?) ORDER BY cid");
    c->bind(1, name);
    while (c->step()) cols.push_back({c->text(0), c->text(1)});
  }
  return out;
}

}  // namespace

TEST(SchemaDescriptors, MatchSchemaSqlTablesColumnsTypesAndOrder) {
  const auto sql = tables_of_schema_sql();
  const auto& desc = all_tables();
  ASSERT_EQ(sql.size(), desc.size()) << "schema.sql and tables.h list a different number of tables";
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const auto& [name, cols] = sql[i];
    ASSERT_EQ(name, desc[i].info.name) << "table " << i << " of schema.sql";
    ASSERT_EQ(cols.size(), desc[i].columns.size()) << "columns of " << name;
    for (std::size_t c = 0; c < cols.size(); ++c) {
      EXPECT_EQ(cols[c].name, desc[i].columns[c].name) << name << " column " << c;
      EXPECT_EQ(cols[c].type, desc[i].columns[c].sql_type) << name << "." << cols[c].name;
      EXPECT_FALSE(desc[i].columns[c].doc.empty()) << name << "." << cols[c].name << " has no doc";
    }
  }
}

TEST(SchemaDescriptors, FlagsAndVersionsAreConsistent) {
  std::set<std::string_view> names;
  for (const auto& t : all_tables()) {
    EXPECT_TRUE(names.insert(t.info.name).second) << "table " << t.info.name << " twice";
    EXPECT_GE(t.info.since, 1);
    EXPECT_LE(t.info.since, kFormatVersion) << t.info.name;
    bool has_start = false, has_end = false, has_dur = false;
    for (const auto& c : t.columns) {
      has_start |= c.name == "start_ns";
      has_end |= c.codec == Codec::End;
      has_dur |= c.codec == Codec::Dur;
    }
    // A ranged table is read by (rank, start_ns) windows: it needs a start and a length.
    if (t.info.flags & kRanged) EXPECT_TRUE(has_start && (has_dur != has_end)) << t.info.name;
  }
  // The tables `info` lists, in its order (unchanged from before the descriptors).
  std::vector<std::string_view> counted = table_names(kCounted);
  std::vector<std::string_view> expect = {"kernels", "memcpys", "memsets", "api_calls", "nvtx", "nccl_ops",
                                          "steps", "expert_routing", "expert_placement", "topology", "bench_results"};
  EXPECT_EQ(counted, expect);
}
