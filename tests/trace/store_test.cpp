// SPDX-License-Identifier: Apache-2.0
// Unit tests of the trace store: round trip, range queries, atomic output, version refusal.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "common/expect_rows.h"
#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"
#include "trace/store_fixture.h"

namespace fs = std::filesystem;
using namespace moetune;
using test::tmp_path;

namespace {
// Synthetic: 1 rank row, 100 kernels named gemm / nccl, one NCCL op with lists, one stat.
void write_small(const fs::path& p) {
  test::write_store(p, 100, [](TraceWriter& wr) {
    RankRow r0;
    r0.rank = RankId(0);
    r0.host = "h0";
    r0.gpu_name = "NVIDIA H200";
    wr.add(r0);
    NcclOpRow op = test::small_allreduce();
    op.algo = "Ring";
    op.bytes = 4096;
    op.in_splits = "[1,2]";
    wr.add(op);
    wr.add(StatRow{"dropped_records", Severity::DataLoss, 3, 0, "test drop"});
  });
}
}  // namespace

TEST(TraceStore, RoundTrip) {
  auto p = tmp_path("rt.moetune");
  write_small(p);
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)->format_version(), kFormatVersion);
  auto ranks = test::rows((*r)->ranks());
  ASSERT_EQ(ranks.size(), 1u);
  EXPECT_EQ(ranks[0].gpu_name, "NVIDIA H200");
  auto ks = test::rows((*r)->kernels());
  ASSERT_EQ(ks.size(), 100u);
  EXPECT_EQ((*r)->str(ks[0].name), "ncclDevKernel_AllReduce");
  auto ops = test::rows((*r)->nccl_ops());
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].algo.value_or(""), "Ring");
  EXPECT_EQ(ops[0].in_splits.value_or(""), "[1,2]");
  EXPECT_FALSE(ops[0].proto.has_value());
  auto st = test::rows((*r)->stats());
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].severity, Severity::DataLoss);
  EXPECT_EQ(st[0].value, 3);
  EXPECT_EQ(test::rows((*r)->counts()).get("kernels"), 100);
  auto [t0, t1] = test::rows((*r)->time_range());
  EXPECT_EQ(t0, 0);
  EXPECT_EQ(t1, 99 * 1000 + 500);
}

TEST(TraceStore, RangeQueryPerRankIncludesOverlapping) {
  auto p = tmp_path("range.moetune");
  write_small(p);
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r);
  // rank 0 has kernels at 0, 2000, 4000, ... each 500 long.
  auto ks = test::rows((*r)->kernels(RankId(0), 2300, 4100));
  ASSERT_EQ(ks.size(), 2u);  // [2000,2500) overlaps, [4000,4500) overlaps
  EXPECT_EQ(ks[0].start_ns, 2000);
  EXPECT_EQ(ks[1].start_ns, 4000);
  EXPECT_TRUE(test::rows((*r)->kernels(RankId(0), 2500, 4000)).empty());
  EXPECT_EQ(test::rows((*r)->kernels(RankId(1))).size(), 50u);
}

TEST(TraceStore, ExistingOutputNeedsForceAndFailedWriteLeavesNothing) {
  auto p = tmp_path("exists.moetune");
  write_small(p);
  auto before = fs::file_size(p);
  auto w = TraceWriter::create(p);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("exists"), std::string::npos);
  {
    auto w2 = TraceWriter::create(p, {.force = true});
    ASSERT_TRUE(w2);
    (*w2)->intern("x");
    // destroyed without finish(): the old file stays, the temporary goes
  }
  EXPECT_EQ(fs::file_size(p), before);
  for (auto& e : fs::directory_iterator(p.parent_path()))
    EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos) << e.path();
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::rows((*r)->counts()).get("kernels"), 100);
}

TEST(TraceStore, RefusesNewerFormatAndNonTraces) {
  auto p = tmp_path("newer.moetune");
  write_small(p);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto r = TraceReader::open(p);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("newer"), std::string::npos);
  EXPECT_NE(r.error().message.find(p.string()), std::string::npos);

  auto q = tmp_path("not_sqlite.moetune");
  { std::FILE* f = std::fopen(q.c_str(), "w"); std::fputs("hello, not a database at all\n", f); std::fclose(f); }
  auto r2 = TraceReader::open(q);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("not a moetune run"), std::string::npos);
  EXPECT_FALSE(TraceReader::open(tmp_path("missing.moetune")));
}

TEST(TraceStore, StoreSizePerKernelRow) {
  auto p = tmp_path("size.moetune");
  {
    auto w = TraceWriter::create(p, {.force = true});
    ASSERT_TRUE(w);
    std::vector<StringId> names;
    for (int i = 0; i < 50; ++i) names.push_back((*w)->intern("kernel_" + std::to_string(i)));
    // Rank-major order, as an import of per-rank files or a per-process merge writes it.
    for (int i = 0; i < 200000; ++i) {
      KernelRow k;
      k.rank = RankId(i / 25000);
      k.stream = StreamId(7 + i % 3);
      k.start_ns = 1'700'000'000'000'000'000 + 3000LL * i;
      k.dur_ns = 1000 + i % 5000;
      k.name = names[i % 50];
      k.correlation = i;
      k.grid = pack_dim3(128, 1, 1);
      k.block = pack_dim3(256, 1, 1);
      (*w)->add(k);
    }
    ASSERT_TRUE((*w)->finish());
  }
  double per_row = static_cast<double>(fs::file_size(p)) / 200000.0;
  RecordProperty("bytes_per_kernel", std::to_string(per_row));
  EXPECT_LE(per_row, 64.0) << "store size per kernel row (incl. index): " << per_row;
}
