// SPDX-License-Identifier: Apache-2.0
// Issue 15 item 1: trace/schema.sql (the CREATE TABLE text) and the table descriptors
// of tables.h (what the writer binds and the reader selects) name the same tables and
// views, with the same columns and SQL types in the same order. Tables of older formats
// only (TableInfo::until) are checked against the files of those formats.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "moetune/trace/reader.h"
#include "moetune/trace/tables.h"
#include "moetune/trace/writer.h"

using namespace moetune;

namespace {

struct SqlColumn {
  std::string name, type;
};

// The tables and views of schema.sql, each with its columns in order.
std::map<std::string, std::vector<SqlColumn>> tables_of_schema_sql() {
  std::map<std::string, std::vector<SqlColumn>> out;
  auto db = Db::open(":memory:", Db::Mode::Create);
  EXPECT_TRUE(db);
  if (!db) return out;
  EXPECT_TRUE(create_schema(**db));
  auto t = (*db)->prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')");
  EXPECT_TRUE(t);
  while (t->step()) out[t->text(0)];
  for (auto& [name, cols] : out) {
    auto c = (*db)->prepare("SELECT name, type FROM pragma_table_info(?) ORDER BY cid");
    c->bind(1, name);
    while (c->step()) cols.push_back({c->text(0), c->text(1)});
  }
  return out;
}

// "table" or "view", as schema.sql creates `name`.
std::string kind_in_schema(const std::string& name) {
  auto db = Db::open(":memory:", Db::Mode::Create);
  if (!db || !create_schema(**db)) return "";
  auto t = (*db)->prepare("SELECT type FROM sqlite_master WHERE name = ?");
  if (!t) return "";
  t->bind(1, name);
  return t->step() ? t->text(0) : "";
}

}  // namespace

TEST(SchemaDescriptors, MatchSchemaSqlTablesColumnsTypesAndOrder) {
  const auto sql = tables_of_schema_sql();
  std::set<std::string> described;
  for (const auto& d : all_tables()) {
    if (!d.info.current()) continue;  // a table of older formats only
    const std::string name(d.info.name);
    described.insert(name);
    auto it = sql.find(name);
    ASSERT_NE(it, sql.end()) << name << " is described in tables.h but schema.sql does not create it";
    const auto& cols = it->second;
    EXPECT_EQ(d.info.flags & kView ? "view" : "table", kind_in_schema(name)) << name;
    ASSERT_EQ(cols.size(), d.columns.size()) << "columns of " << name;
    for (std::size_t c = 0; c < cols.size(); ++c) {
      EXPECT_EQ(cols[c].name, d.columns[c].name) << name << " column " << c;
      EXPECT_EQ(cols[c].type, d.columns[c].sql_type) << name << "." << cols[c].name;
      EXPECT_FALSE(d.columns[c].doc.empty()) << name << "." << cols[c].name << " has no doc";
    }
  }
  for (const auto& [name, cols] : sql) EXPECT_TRUE(described.count(name)) << name << " of schema.sql has no descriptor";
}

// A table of older formats only (expert_routing, formats 1-2) has the columns its
// descriptor names in a file of that format (the reader selects them there).
TEST(SchemaDescriptors, OlderFormatTablesMatchTheirDescriptors) {
  int older = 0;
  for (const auto& d : all_tables()) {
    if (d.info.current()) continue;
    ++older;
    EXPECT_LT(d.info.until, kFormatVersion) << d.info.name;
    EXPECT_LE(d.info.since, d.info.until) << d.info.name;
    EXPECT_FALSE(d.info.in_format(kFormatVersion)) << d.info.name;
    EXPECT_TRUE(d.info.in_format(d.info.until)) << d.info.name;
  }
  EXPECT_GE(older, 1);
  // Real files of formats 1 and 2 (recorded on GPUs): every older-format table has its
  // descriptor's columns, and TraceReader opens them (check_schema) and reads the table.
  for (const char* name : {"recorded/h200x4_moe_nccl.moetune", "recorded/emul4_h100_placement_before.moetune"}) {
    const std::string path = std::string(MOETUNE_TEST_DATA) + "/" + name;
    auto db = Db::open(path, Db::Mode::ReadOnly);
    ASSERT_TRUE(db) << path;
    const auto version = (*db)->scalar("PRAGMA user_version");
    ASSERT_TRUE(version);
    for (const auto& d : all_tables()) {
      if (d.info.current() || !d.info.in_format(static_cast<int>(*version))) continue;
      auto c = (*db)->prepare("SELECT name, type FROM pragma_table_info(?) ORDER BY cid");
      ASSERT_TRUE(c);
      c->bind(1, d.info.name);
      std::size_t i = 0;
      for (; c->step(); ++i) {
        ASSERT_LT(i, d.columns.size()) << name << ": " << d.info.name;
        EXPECT_EQ(c->text(0), d.columns[i].name) << name;
        EXPECT_EQ(c->text(1), d.columns[i].sql_type) << name;
      }
      EXPECT_EQ(i, d.columns.size()) << name << ": " << d.info.name;
    }
    auto rd = TraceReader::open(path);
    ASSERT_TRUE(rd) << rd.error().message;
    auto routing = (*rd)->expert_routing();
    ASSERT_TRUE(routing) << routing.error().message;
    EXPECT_EQ(static_cast<std::int64_t>(routing->size()), *(*db)->scalar("SELECT count(*) FROM expert_routing")) << name;
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
    if (t.info.flags & kRanged) {
      EXPECT_TRUE(has_start && (has_dur != has_end)) << t.info.name;
    }
  }
  // The tables `info` lists, in its order (unchanged from before the descriptors).
  std::vector<std::string_view> counted = table_names(kCounted);
  std::vector<std::string_view> expect = {"kernels", "memcpys", "memsets", "api_calls", "nvtx", "nccl_ops",
                                          "steps", "expert_routing", "expert_placement", "topology", "bench_results"};
  EXPECT_EQ(counted, expect);
}
