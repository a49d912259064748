// SPDX-License-Identifier: Apache-2.0
// The parallel Kineto import (parser threads + one writer, kineto_pipeline.h) must give
// the same store as the sequential one: same rows in every table, ids and string ids
// included, on the real traces and on SYNTHETIC multi-batch rank files; and the same
// first error when files clash or break.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/scratch_test.h"
#include "import/kineto_test_util.h"
#include "common/expect_rows.h"
#include "moetune/import/import.h"
#include "moetune/trace/reader.h"

namespace moetune {
namespace {

namespace fs = std::filesystem;

// SYNTHETIC Kineto trace of one rank, shaped like bench/make_kineto.py: per launch a
// cpu_op, a launch call, a kernel (every 7th without args.correlation, found through its
// ac2g flow), every 25th an NCCL kernel with metadata, every 20th a memcpy; a
// ProfilerStep every 500 launches; per-rank kernel names so files intern differently.
void write_synthetic(const fs::path& p, int rank, int launches) {
  std::ofstream o(p);
  o << "{\"schemaVersion\": 1, \"traceName\": \"synthetic\", \"moetune_synthetic\": true,\n"
    << " \"deviceProperties\": [{\"id\": " << rank << ", \"name\": \"NVIDIA H200\", \"numSms\": 132}],\n"
    << " \"distributedInfo\": {\"rank\": " << rank << "},\n \"traceEvents\": [\n";
  long long t = 1000000 + rank * 7;
  for (int i = 0; i < launches; ++i, t += 30) {
    int corr = 3 * i + 1;
    if (i % 500 == 0)
      o << "{\"ph\":\"X\",\"cat\":\"user_annotation\",\"name\":\"ProfilerStep#" << i / 500 << "\",\"pid\":1,\"tid\":1,\"ts\":"
        << t << ",\"dur\":15000},\n";
    o << "{\"ph\":\"X\",\"cat\":\"cpu_op\",\"name\":\"aten::op" << i % 9 << "\",\"pid\":1,\"tid\":1,\"ts\":" << t
      << ",\"dur\":9.5},\n";
    o << "{\"ph\":\"X\",\"cat\":\"cuda_runtime\",\"name\":\"cudaLaunchKernel\",\"pid\":1,\"tid\":1,\"ts\":" << t + 1
      << ".25,\"dur\":4,\"args\":{\"correlation\":" << corr << "}},\n";
    bool flow = i % 7 == 3, nccl = i % 25 == 24;
    o << "{\"ph\":\"X\",\"cat\":\"kernel\",\"name\":\""
      << (nccl ? "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(x)" : "gemm<" + std::to_string(rank * 100 + i % 40) + ">")
      << "\",\"pid\":" << rank << ",\"tid\":7,\"ts\":" << t + 6 << ".5,\"dur\":" << 2 + i % 13
      << ",\"args\":{\"device\":" << rank << ",\"stream\":7";
    if (!flow) o << ",\"correlation\":" << corr;
    if (nccl) o << ",\"Collective name\":\"allreduce\",\"In msg nelems\":4096,\"Group size\":4,\"dtype\":\"BFloat16\"";
    o << "}},\n";
    if (flow)
      o << "{\"ph\":\"f\",\"id\":" << corr << ",\"pid\":" << rank << ",\"tid\":7,\"ts\":" << t + 6
        << ".5,\"cat\":\"ac2g\",\"name\":\"ac2g\"},\n";
    if (i % 20 == 0)
      o << "{\"ph\":\"X\",\"cat\":\"gpu_memcpy\",\"name\":\"Memcpy HtoD (Pinned -> Device)\",\"pid\":" << rank
        << ",\"tid\":7,\"ts\":" << t + 25 << ",\"dur\":3,\"args\":{\"stream\":7,\"correlation\":" << corr + 2
        << ",\"bytes\":65536}},\n";
  }
  o << "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1}\n],\n \"baseTimeNanoseconds\": 1700000000000000000}\n";
}

class KinetoParallel : public test::ScratchTest {
 protected:

  // Imports FILES with THREADS parser threads (1: sequential); the error message or "".
  std::string import(const std::vector<fs::path>& files, unsigned threads, const fs::path& out) {
    auto w = TraceWriter::create(out, {.force = true});
    EXPECT_TRUE(w.ok());
    import::ImportOptions opts;
    opts.threads = threads;
    auto r = import::import_files(files, **w, opts);
    if (!r) return r.error().message;
    auto f = (*w)->finish();
    EXPECT_TRUE(f.ok());
    return "";
  }

  // Per table: row count and every row's text (all columns, stored order) in one string.
  static std::map<std::string, std::pair<std::int64_t, std::string>> dump(const fs::path& run) {
    auto rd = TraceReader::open(run);
    EXPECT_TRUE(rd.ok());
    std::map<std::string, std::pair<std::int64_t, std::string>> out;
    for (const char* t : {"meta", "ranks", "strings", "kernels", "memcpys", "memsets", "api_calls", "nvtx",
                          "nccl_ops", "steps", "expert_counts", "expert_placement", "stats"}) {  // format 3: routing lists
      std::string order = std::string(t) == "kernels" ? "rank, start_ns, id" : std::string(t) == "meta" ? "key" : "rowid";
      std::string sql = std::string("SELECT * FROM ") + t + " ORDER BY " + order;
      sqlite3_stmt* st = nullptr;
      EXPECT_EQ(sqlite3_prepare_v2((*rd)->db().handle(), sql.c_str(), -1, &st, nullptr), SQLITE_OK);
      auto& [n, text] = out[t];
      while (sqlite3_step(st) == SQLITE_ROW) {
        ++n;
        for (int c = 0; c < sqlite3_column_count(st); ++c) {
          const unsigned char* v = sqlite3_column_text(st, c);
          text += v ? reinterpret_cast<const char*>(v) : "NULL";
          text += "|";
        }
        text += "\n";
      }
      sqlite3_finalize(st);
    }
    return out;
  }

  void expect_same(const std::vector<fs::path>& files) {
    ASSERT_EQ(import(files, 1, dir_ / "seq.moetune"), "");
    ASSERT_EQ(import(files, 4, dir_ / "par.moetune"), "");
    auto a = dump(dir_ / "seq.moetune"), b = dump(dir_ / "par.moetune");
    for (const auto& [table, rows] : a) {
      SCOPED_TRACE(table);
      EXPECT_EQ(rows.first, b[table].first);
      EXPECT_TRUE(rows.second == b[table].second) << "rows differ";
    }
  }
};

TEST_F(KinetoParallel, RealTracesSameRows) {
  auto k = test::kineto_dir();
  expect_same({k / "hta_sampled_rank0of128.json.gz", k / "hta_trace_diff_control_rank3of8.json.gz",
               k / "hta_sampled_rank1of128.json.gz"});
}

TEST_F(KinetoParallel, SyntheticRankFilesSameRows) {
  std::vector<fs::path> files;
  for (int r = 0; r < 5; ++r) {  // ~30 k rows each: several batches per file
    files.push_back(dir_ / ("synthetic_rank" + std::to_string(r) + ".json"));
    write_synthetic(files.back(), (r * 3) % 5, 8000 + 1500 * r);
  }
  expect_same(files);
  auto rd = TraceReader::open(dir_ / "par.moetune");
  ASSERT_TRUE(rd.ok());
  auto n = test::rows((*rd)->counts());
  EXPECT_EQ(n.get("kernels"), 5 * 8000 + 1500 * 10);
  EXPECT_EQ(test::rows((*rd)->ranks()).size(), 5u);
}

TEST_F(KinetoParallel, SameFirstError) {
  std::vector<fs::path> files;
  for (int r = 0; r < 3; ++r) {
    files.push_back(dir_ / ("synthetic_rank" + std::to_string(r) + ".json"));
    write_synthetic(files.back(), r == 2 ? 0 : r, 3000);  // the third claims rank 0 again
  }
  std::string seq = import(files, 1, dir_ / "a.moetune"), par = import(files, 4, dir_ / "b.moetune");
  EXPECT_NE(seq.find("rank 0 is already taken"), std::string::npos) << seq;
  EXPECT_EQ(seq, par);
  {  // a broken file in the middle: its JSON error, from either path
    std::ofstream(files[1], std::ios::app) << "]]";
  }
  seq = import(files, 1, dir_ / "a.moetune"), par = import(files, 4, dir_ / "b.moetune");
  EXPECT_NE(seq.find("invalid JSON"), std::string::npos) << seq;
  EXPECT_NE(seq.find(files[1].filename().string()), std::string::npos) << seq;
  EXPECT_EQ(seq, par);
  EXPECT_FALSE(fs::exists(dir_ / "b.moetune"));
}

}  // namespace
}  // namespace moetune
