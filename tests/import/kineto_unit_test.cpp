// SPDX-License-Identifier: Apache-2.0
// Unit tests of the Kineto importer's helpers and of its edge-case mapping on small
// hand-written traces (tests/data/fuzz/kineto/edge_*.json, also fuzz seeds).
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <map>

#include "common/scratch_test.h"
#include "../collectors/import/src/kineto_internal.h"
#include "common/expect_rows.h"
#include "moetune/import/import.h"
#include "moetune/trace/reader.h"

namespace moetune {
namespace {

namespace fs = std::filesystem;
using namespace moetune::import::kineto;

TEST(KinetoUnit, MicrosecondTokensToExactNanoseconds) {
  std::int64_t ns = 0;
  ASSERT_TRUE(us_token_to_ns("4458676983543.183", ns));
  EXPECT_EQ(ns, 4458676983543183LL);  // a double would round this
  ASSERT_TRUE(us_token_to_ns("1682725898082228 ", ns));
  EXPECT_EQ(ns, 1682725898082228000LL);
  ASSERT_TRUE(us_token_to_ns("-5.5", ns));
  EXPECT_EQ(ns, -5500);
  ASSERT_TRUE(us_token_to_ns("0.0005", ns));  // rounds half up at the 4th fraction digit
  EXPECT_EQ(ns, 1);
  ASSERT_TRUE(us_token_to_ns("1e2", ns));
  EXPECT_EQ(ns, 100000);
  EXPECT_FALSE(us_token_to_ns("99999999999999999999", ns));  // overflows int64
  EXPECT_FALSE(us_token_to_ns("1.", ns));
  EXPECT_FALSE(us_token_to_ns("abc", ns));
  EXPECT_FALSE(us_token_to_ns("", ns));
}

TEST(KinetoUnit, CollectiveNames) {
  EXPECT_EQ(normalise_collective("allreduce"), "AllReduce");
  EXPECT_EQ(normalise_collective("all_to_all"), "AllToAll");
  EXPECT_EQ(normalise_collective("alltoall_base"), "AllToAll");
  EXPECT_EQ(normalise_collective("_allgather_base"), "AllGather");
  EXPECT_EQ(normalise_collective("reduce_scatter_tensor"), "ReduceScatter");
  EXPECT_EQ(normalise_collective("reduce"), "Reduce");
  EXPECT_EQ(normalise_collective("broadcast"), "Broadcast");
  EXPECT_EQ(normalise_collective("send"), "Send");
  EXPECT_EQ(normalise_collective("recv"), "Recv");
  EXPECT_EQ(normalise_collective("custom_op"), "Custom_op");
  EXPECT_EQ(dtype_size("Float"), 4);
  EXPECT_EQ(dtype_size("BFloat16"), 2);
  EXPECT_EQ(dtype_size("c10::Half"), 2);
  EXPECT_EQ(dtype_size("Long"), 8);
  EXPECT_EQ(dtype_size("Byte"), 1);
  EXPECT_EQ(dtype_size("Mystery"), 0);
  auto n = parse_nccl_kernel_name("ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)");
  EXPECT_EQ(n.func, "AllReduce");
  EXPECT_EQ(n.algo, "Ring");
  EXPECT_EQ(n.proto, "LL");
  n = parse_nccl_kernel_name("ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)");
  EXPECT_EQ(n.func, "SendRecv");
  EXPECT_EQ(n.algo, "");
  EXPECT_TRUE(is_nccl_kernel("ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclWorkElem)"));
  EXPECT_FALSE(is_nccl_kernel("void cutlass::Kernel<x>"));
}

TEST(KinetoUnit, RankFromFileName) {
  EXPECT_EQ(rank_from_file_name("a/rank-3.json"), 3);
  EXPECT_EQ(rank_from_file_name("trace_rank12of16.json.gz"), 12);
  EXPECT_EQ(rank_from_file_name("Worker_5.pt.trace.json"), 5);
  EXPECT_EQ(rank_from_file_name("trace.json"), std::nullopt);
  EXPECT_EQ(rank_from_file_name("ranking.json"), std::nullopt);
  EXPECT_EQ(copy_kind_from_name("Memcpy HtoD (Pinned -> Device)"), CopyKind::HtoD);
  EXPECT_EQ(copy_kind_from_name("Memcpy PtoP (Device -> Device)"), CopyKind::PtoP);
  EXPECT_TRUE(is_sync_api("cudaStreamSynchronize"));
  EXPECT_TRUE(is_sync_api("cuCtxSynchronize"));
  EXPECT_FALSE(is_sync_api("cudaLaunchKernel"));
}

class KinetoEdges : public test::ScratchTest {
 protected:
  std::unique_ptr<TraceReader> import(const fs::path& file, import::ImportOptions opts = {}) {
    auto w = TraceWriter::create(dir_ / "run.moetune", {.force = true});
    EXPECT_TRUE(w.ok());
    import::ImportContext ctx(opts);
    auto r = import::import_kineto(file, **w, ctx);
    EXPECT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE((*w)->finish().ok());
    return std::move(*TraceReader::open(dir_ / "run.moetune"));
  }
};

TEST_F(KinetoEdges, FlowsClampsAndSkips) {
  auto rd = import(fs::path(MOETUNE_TEST_DATA) / "fuzz/kineto/edge_flows_no_correlation.json");
  ASSERT_EQ(test::rows(rd->ranks()).size(), 1u);
  EXPECT_EQ(test::rows(rd->ranks())[0].rank.value, 5);
  auto ks = test::rows(rd->kernels());
  ASSERT_EQ(ks.size(), 1u);
  EXPECT_EQ(ks[0].correlation, 42);  // from the ac2g flow, no args.correlation
  EXPECT_EQ(ks[0].start_ns, 104250);
  EXPECT_EQ(ks[0].dur_ns, 0);  // dur -2 clamped
  EXPECT_EQ(ks[0].grid, pack_dim3(1, 2, 3));
  auto api = test::rows(rd->api_calls());
  ASSERT_EQ(api.size(), 1u);
  EXPECT_EQ(api[0].correlation, 42);
  auto steps = test::rows(rd->steps());
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].step, 3);
  EXPECT_EQ(steps[0].start_ns, 99000);   // "ts": "99" (a string)
  EXPECT_EQ(steps[0].end_ns, 199000);    // "dur": 1e2
  auto mc = test::rows(rd->memcpys());
  ASSERT_EQ(mc.size(), 1u);
  EXPECT_EQ(mc[0].kind, CopyKind::PtoP);
  EXPECT_EQ(mc[0].bytes, 1024);
  std::map<std::string, std::int64_t> stats;
  for (const auto& s : test::rows(rd->stats())) stats[s.name] = s.value;
  EXPECT_EQ(stats["negative_duration_clamped"], 1);
  EXPECT_EQ(stats["kineto_events_skipped"], 1);     // cpu_op without ts
  EXPECT_EQ(stats["kineto_missing_duration"], 1);   // the memcpy
  EXPECT_EQ(stats["relative_timestamps"], 1);
  EXPECT_EQ(stats["kineto_uncorrelated"], 1);       // the memcpy has neither
}

TEST_F(KinetoEdges, AllToAllSplitsAndBadBaseTime) {
  import::ImportOptions opts;
  opts.rank = 2;
  auto rd = import(fs::path(MOETUNE_TEST_DATA) / "fuzz/kineto/edge_nccl_alltoall.json", opts);
  auto ops = test::rows(rd->nccl_ops());
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].func, "AllToAll");
  EXPECT_EQ(ops[0].bytes, 4096 * 2);  // In msg nelems 0 -> sum of In split size x BFloat16
  EXPECT_EQ(ops[0].in_splits.value_or(""), "[1024, 1024, 1024, 1024]");
  EXPECT_EQ(ops[0].out_splits.value_or(""), "[1,2,3]");
  EXPECT_EQ(ops[0].nranks, 4);
  EXPECT_EQ(ops[0].pg_name.value_or(""), "1");
  auto api = test::rows(rd->api_calls());
  ASSERT_EQ(api.size(), 2u);
  int sync = 0, driver = 0;
  for (const auto& a : api) sync += a.kind == ApiKind::Sync, driver += a.kind == ApiKind::Driver;
  EXPECT_EQ(sync, 1);
  EXPECT_EQ(driver, 1);
  ASSERT_EQ(test::rows(rd->ranks()).size(), 1u);
  EXPECT_EQ(test::rows(rd->ranks())[0].gpu_name, "NVIDIA H200");
  EXPECT_EQ(test::rows(rd->ranks())[0].compute_cap, "9.0");
}


TEST_F(KinetoEdges, MetadataFromRecordParamComms) {
  auto rd = import(fs::path(MOETUNE_TEST_DATA) / "fuzz/kineto/edge_param_comms.json");
  auto ops = test::rows(rd->nccl_ops());
  ASSERT_EQ(ops.size(), 2u);
  // First kernel: launched (corr 77, tid 12, ts 15 us) inside the tid-12 record_param_comms.
  EXPECT_EQ(ops[0].func, "AllGather");
  EXPECT_EQ(ops[0].count, 256);
  EXPECT_EQ(ops[0].bytes, 512);  // 256 x Half
  EXPECT_EQ(ops[0].nranks, 4);
  EXPECT_EQ(ops[0].pg_name.value_or(""), "3");
  EXPECT_EQ(ops[0].enqueue_ns.value_or(0), 1000000000000 + 15000);
  EXPECT_EQ(ops[0].start_ns, 1000000000000 + 40000);
  EXPECT_EQ(ops[0].algo.value_or(""), "Ring");
  // Second: no launch call in the trace: name only, no metadata, no enqueue time.
  EXPECT_EQ(ops[1].func, "AllGather");
  EXPECT_EQ(ops[1].bytes, 0);
  EXPECT_FALSE(ops[1].dtype.has_value());
  EXPECT_FALSE(ops[1].enqueue_ns.has_value());
}


// Two gzip members (as `cat a.gz b.gz` makes): the second member's trailer size is
// a wrong guess for the whole, so this also takes the buffer-growth path.
TEST_F(KinetoEdges, ConcatenatedGzipMembers) {
  std::string json = R"({"distributedInfo":{"rank":0},"traceEvents":[)";
  for (int i = 0; i < 2000; ++i)
    json += std::string(i ? "," : "") + R"({"ph":"X","cat":"kernel","name":"k","pid":0,"tid":7,"ts":)" +
            std::to_string(i * 10) + R"(,"dur":5,"args":{"correlation":)" + std::to_string(i + 1) + "}}";
  json += "]}";
  fs::path gz = dir_ / "two_members.json.gz";
  std::size_t half = json.size() / 2;
  for (int part = 0; part < 2; ++part) {
    gzFile f = gzopen(gz.c_str(), part == 0 ? "wb" : "ab");
    ASSERT_NE(f, nullptr);
    std::string piece = part == 0 ? json.substr(0, half) : json.substr(half);
    ASSERT_EQ(gzwrite(f, piece.data(), static_cast<unsigned>(piece.size())), static_cast<int>(piece.size()));
    gzclose(f);
  }
  auto rd = import(gz);
  auto ks = test::rows(rd->kernels());
  ASSERT_EQ(ks.size(), 2000u);
  EXPECT_EQ(ks.back().start_ns, 1999 * 10 * 1000);
  EXPECT_EQ(ks.back().correlation, 2000);
}

}  // namespace
}  // namespace moetune
