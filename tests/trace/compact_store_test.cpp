// SPDX-License-Identifier: Apache-2.0
// Format 3's compact tables: expert_counts (routing as one list per step, layer and rank),
// topology domains (a uniform GPU set as one row per GPU) and bit-packed lists. Every test
// reads back exactly the rows that were added, in the order the reader always gave them;
// older files (format 1 recorded runs, a hand-made format 2 file) still read.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "common/expect_rows.h"
#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"

namespace fs = std::filesystem;
using namespace moetune;

namespace {
fs::path tmp_path(const std::string& name) {
  auto d = fs::temp_directory_path() / ("moetune_compact_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d / name;
}

std::string key(const ExpertRoutingRow& r) {
  return std::to_string(r.step) + "/" + std::to_string(r.layer) + "/" + std::to_string(r.rank.value) + "/" +
         std::to_string(r.expert) + "/" + std::to_string(r.tokens) + "/" +
         (r.time_ns ? std::to_string(*r.time_ns) : "null");
}
std::string key(const TopologyRow& t) {
  return t.host + "|" + t.a + "|" + t.b + "|" + (t.rank_a ? std::to_string(*t.rank_a) : "-") + "|" +
         (t.rank_b ? std::to_string(*t.rank_b) : "-") + "|" + t.link + "|" +
         (t.bandwidth_gbps ? std::to_string(*t.bandwidth_gbps) : "-") + "|" + t.source;
}
template <class Row>
std::vector<std::string> keys(const std::vector<Row>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(key(r));
  return out;
}

// The order TraceReader gave format 1/2 routing rows: (layer, step, rank, expert), ties as added.
std::vector<ExpertRoutingRow> sorted_like_reader(std::vector<ExpertRoutingRow> v) {
  std::stable_sort(v.begin(), v.end(), [](const ExpertRoutingRow& a, const ExpertRoutingRow& b) {
    return std::tie(a.layer, a.step, a.rank.value, a.expert) < std::tie(b.layer, b.step, b.rank.value, b.expert);
  });
  return v;
}

std::int64_t scalar(TraceReader& r, const std::string& sql) { return r.db().scalar(sql).value_or(-1); }

// The pairs (i, j), i < j, of GPUs `first`..`first + n - 1` of `host`, as synth writes them.
void add_clique(std::vector<TopologyRow>& rows, const std::string& host, int first, int n, const std::string& link,
                double bw) {
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      TopologyRow t;
      t.host = host;
      t.a = host + ":GPU" + std::to_string(i), t.b = host + ":GPU" + std::to_string(j);
      t.rank_a = first + i, t.rank_b = first + j;
      t.link = link, t.bandwidth_gbps = bw, t.source = "test";
      rows.push_back(t);
    }
}
}  // namespace

TEST(CompactStore, RoutingRowsReadBackAsAdded) {
  std::vector<ExpertRoutingRow> rows;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 3; ++step)
    for (int layer = 2; layer >= 0; --layer)  // not in the reader's (layer, step) order
      for (int rank = 0; rank < 4; ++rank)
        for (int e = 0; e < 16; ++e)
          rows.push_back({step, layer, RankId(rank), e, static_cast<std::int64_t>(rng() % 50), 1000 * step + rank});
  // experts out of order, a gap, a duplicate expert, negative and huge counts, no time
  for (int e : {5, 3, 9, 3, 40})
    rows.push_back({7, 1, RankId(2), e, e == 9 ? -4 : (e == 40 ? INT64_MAX : e), std::nullopt});
  rows.push_back({7, 1, RankId(2), 2, 11, 5});  // same (layer, step, rank), another report time
  auto p = tmp_path("routing.moetune");
  {
    auto w = TraceWriter::create(p, {.force = true});
    ASSERT_TRUE(w);
    for (const auto& r : rows) (*w)->add(r);
    ASSERT_TRUE((*w)->finish());
  }
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->format_version(), 3);
  EXPECT_EQ(keys(test::rows((*r)->expert_routing())), keys(sorted_like_reader(rows)));
  EXPECT_EQ(scalar(**r, "SELECT count(*) FROM expert_counts"), 3 * 3 * 4 + 2);  // one row per group
  EXPECT_EQ(scalar(**r, "SELECT count(*) FROM expert_counts WHERE experts IS NULL"), 3 * 3 * 4 + 1);
  EXPECT_EQ(test::rows((*r)->counts()).get("expert_routing"), static_cast<std::int64_t>(rows.size()));
  EXPECT_TRUE((*r)->check_integrity(true));
  for (const auto& s : test::rows((*r)->stats())) EXPECT_NE(s.name, "store_count_mismatch") << s.description;
}

TEST(CompactStore, UniformGpuSetsBecomeDomainsAndReadBackAsPairs) {
  std::vector<TopologyRow> rows;
  add_clique(rows, "a", 0, 8, "NV18", 478.125);  // a domain
  TopologyRow nic{"a", "GPU0", "NIC0", 0, std::nullopt, "PIX", std::nullopt, "test"};
  rows.push_back(nic);
  add_clique(rows, "b", 8, 3, "NV18", 478.125);  // too small: pairs
  add_clique(rows, "c", 11, 6, "SYS", 30.0);     // a domain
  std::vector<TopologyRow> partial;
  add_clique(partial, "d", 17, 5, "NV12", 300.0);
  partial[6].link = "NV6";  // one pair differs: all stay pairs
  rows.insert(rows.end(), partial.begin(), partial.end());
  add_clique(rows, "e", 22, 4, "NV4", 100.0);  // a domain, last
  auto p = tmp_path("topo.moetune");
  {
    auto w = TraceWriter::create(p, {.force = true});
    ASSERT_TRUE(w);
    for (const auto& t : rows) (*w)->add(t);
    ASSERT_TRUE((*w)->finish());
  }
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(keys(test::rows((*r)->topology())), keys(rows));
  EXPECT_EQ(scalar(**r, "SELECT count(*) FROM topology_domains"), 3);
  EXPECT_EQ(scalar(**r, "SELECT count(*) FROM topology_domain_gpus"), 8 + 6 + 4);
  EXPECT_EQ(scalar(**r, "SELECT count(*) FROM topology"), 1 + 3 + 10);
  EXPECT_EQ(scalar(**r, "SELECT count(*) FROM topology_pairs"), static_cast<std::int64_t>(rows.size()));
  EXPECT_EQ(scalar(**r, "SELECT count(*) FROM topology_pairs WHERE link='NV18' AND rank_a=0"), 7);
  EXPECT_EQ(test::rows((*r)->counts()).get("topology"), static_cast<std::int64_t>(rows.size()));
  EXPECT_TRUE((*r)->check_integrity(true));
  for (const auto& s : test::rows((*r)->stats())) EXPECT_NE(s.name, "store_count_mismatch") << s.description;
}

TEST(CompactStore, ListsPackAndUnpackExactly) {
  std::vector<std::vector<std::int64_t>> lists = {{}, {0}, {0, 0, 0}, {5}, {INT64_MAX, 0, 1}, {7, 0, 0, 0, 8, 0, 0, 0}};
  std::mt19937_64 rng(3);
  for (int k = 0; k < 200; ++k) {
    std::vector<std::int64_t> v(rng() % 300);
    const std::size_t stride = 1 + rng() % 5, off = rng() % stride;
    const std::int64_t base = static_cast<std::int64_t>(rng() % 100000), spread = 1 + static_cast<std::int64_t>(rng() % 40);
    for (std::size_t i = off; i < v.size(); i += stride) v[i] = base + static_cast<std::int64_t>(rng() % spread);
    if (k % 3 == 0 && !v.empty()) v[rng() % v.size()] = static_cast<std::int64_t>(rng() % 1000);  // break the stride
    lists.push_back(v);
  }
  for (const auto& v : lists)
    for (bool space : {false, true}) {
      OpList l = OpList::of(v, space);
      OpList back = OpList::from_stored(l.stored());
      ASSERT_TRUE(back.has_value());
      EXPECT_EQ(back.encoded(), l.encoded());
      EXPECT_EQ(*back, *l);
      EXPECT_LE(l.stored().size(), l.encoded().size());
    }
  // A 1024-peer split list with 256 evenly spaced receivers of 7 or 8: 769 bytes as varints.
  std::vector<std::int64_t> splits(1024, 0);
  for (std::size_t i = 0; i < splits.size(); i += 4) splits[i] = 7 + static_cast<std::int64_t>(i % 3 == 0);
  OpList s = OpList::of(splits);
  EXPECT_EQ(s.encoded().size(), 769u);
  EXPECT_LT(s.stored().size(), 48u);
  // Damaged packed bytes give no list (never a crash or a huge allocation).
  std::string bytes = s.stored();
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) (void)OpList::from_stored(bytes.substr(0, cut));
  EXPECT_FALSE(OpList::from_stored(bytes.substr(0, bytes.size() - 1)).has_value());
  EXPECT_FALSE(OpList::from_stored(std::string("\x11\xff\xff\xff\xff\x0f\x00\x01\x01\x00\x00", 11)).has_value());
  EXPECT_FALSE(OpList::from_stored(std::string("\x11\x04\x03\x02\x02\x00\x01\x03", 8)).has_value());  // 3+2 >= 4
  // Text lists (not plain integers) are stored as they are.
  EXPECT_EQ(OpList("[1.5, 2]").stored(), OpList("[1.5, 2]").encoded());
}

// Format 1 recorded runs (real routing and NVML topology) written again as format 3 give
// the same rows.
TEST(CompactStore, RecordedRunsRewrittenGiveTheSameRows) {
  int tried = 0;
  for (const auto& e : fs::directory_iterator(fs::path(MOETUNE_TEST_DATA) / "recorded")) {
    if (e.path().extension() != ".moetune") continue;
    auto old = TraceReader::open(e.path());
    ASSERT_TRUE(old) << old.error().message;
    ASSERT_LT(old->get()->format_version(), 3);
    auto routing = test::rows((*old)->expert_routing());
    auto topo = test::rows((*old)->topology());
    auto p = tmp_path("rewritten_" + e.path().filename().string());
    {
      auto w = TraceWriter::create(p, {.force = true});
      ASSERT_TRUE(w);
      // rows in the order the file stored them (topology: rowid; routing: as read)
      for (const auto& r : routing) (*w)->add(r);
      for (const auto& t : topo) (*w)->add(t);
      ASSERT_TRUE((*w)->finish());
    }
    auto fresh = TraceReader::open(p);
    ASSERT_TRUE(fresh) << fresh.error().message;
    EXPECT_EQ(keys(test::rows((*fresh)->expert_routing())), keys(routing)) << e.path();
    EXPECT_EQ(keys(test::rows((*fresh)->topology())), keys(topo)) << e.path();
    tried += !routing.empty();
  }
  EXPECT_GE(tried, 4);  // client1/2, h200x4_*, torch2 carry routing
}

// A format 2 file (expert_routing table, every pair in topology) reads as before.
TEST(CompactStore, FormatTwoFilesStillRead) {
  auto p = tmp_path("v2.moetune");
  {
    auto w = TraceWriter::create(p, {.force = true});
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->finish());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE expert_counts; DROP VIEW topology_pairs; DROP TABLE topology_domain_gpus;"
                         "DROP TABLE topology_domains;"
                         "CREATE TABLE expert_routing (step INTEGER NOT NULL, layer INTEGER NOT NULL, rank INTEGER "
                         "NOT NULL, expert INTEGER NOT NULL, tokens INTEGER NOT NULL, time_ns INTEGER);"
                         "INSERT INTO expert_routing VALUES (1,0,0,1,5,10),(0,0,0,1,3,9),(0,0,0,0,2,9);"
                         "INSERT INTO topology(host,a,b,rank_a,rank_b,link,bandwidth_gbps,source) VALUES"
                         "('h','GPU0','GPU1',0,1,'NV4',100,'t'),('h','GPU0','GPU2',0,2,'NV4',100,'t');"
                         "DELETE FROM meta WHERE key LIKE 'store.%'; PRAGMA user_version = 2",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->format_version(), 2);
  EXPECT_EQ(keys(test::rows((*r)->expert_routing())),
            (std::vector<std::string>{"0/0/0/0/2/9", "0/0/0/1/3/9", "1/0/0/1/5/10"}));
  EXPECT_EQ(test::rows((*r)->topology()).size(), 2u);
  EXPECT_EQ(test::rows((*r)->counts()).get("expert_routing"), 3);
  // ... and a format 2 file without its expert_routing table is refused, not read as empty.
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE expert_routing", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto bad = TraceReader::open(p);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("expert_routing"), std::string::npos) << bad.error().message;
}

// Strings ending in a long integer list (routing marks) are stored packed and read back
// as the same text; other strings stay TEXT.
TEST(CompactStore, ListTailedStringsReadBackExactly) {
  std::string route = "moe.route layer=3 tokens=";
  for (int e = 0; e < 256; ++e) route += (e ? "," : "") + std::to_string(30 + e % 5);
  const std::vector<std::string> texts = {
      route,
      "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20",      // only the list
      "x,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20",    // a comma before the list
      "t=01,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20",   // leading zero: not plain
      "t=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,",   // trailing comma
      "t=1,2,,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20",   // empty entry
      "t=1234567890123456789,2,3,4,5,6,7,8,9,10,11,12,13,14,15",  // 19 digits
      "t=1,2,3",                                                 // short
      "ampere_bf16_s16816gemm_bf16_128x256_ldg8_f2f_stages_64x3_tn"};
  auto p = tmp_path("strings.moetune");
  std::vector<StringId> ids;
  {
    auto w = TraceWriter::create(p, {.force = true});
    ASSERT_TRUE(w);
    for (const auto& t : texts) ids.push_back((*w)->intern(t));
    ASSERT_TRUE((*w)->finish());
  }
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r) << r.error().message;
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ((*r)->str(ids[i]), texts[i]);
  EXPECT_EQ(scalar(**r, "SELECT count(*) FROM strings WHERE typeof(value) = 'blob'"), 3);
  EXPECT_LT(scalar(**r, "SELECT length(value) FROM strings WHERE id = " + std::to_string(ids[0].value)), 200);
  // A damaged packed string refuses the run with one clear message.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, ("UPDATE strings SET value = x'01ff' WHERE id = " + std::to_string(ids[0].value)).c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto bad = TraceReader::open(p);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("cannot be unpacked"), std::string::npos) << bad.error().message;
}
