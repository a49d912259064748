// SPDX-License-Identifier: Apache-2.0
// Golden tests of the Kineto importer on the real traces in ../shared/data/external/kineto:
// counts equal an independent nlohmann::json count of the same file, plus values
// checked by hand (absolute start times, the AllReduce message size, devices).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "common/import_store.h"
#include "common/scratch_test.h"
#include "import/kineto_test_util.h"
#include "common/expect_rows.h"
#include "moetune/import/import.h"
#include "moetune/trace/reader.h"

namespace moetune {
namespace {

namespace fs = std::filesystem;
using test::count_kineto;
using test::kineto_dir;

class KinetoGolden : public test::ScratchTest {
 protected:

  // Imports `files` into a fresh run and opens it.
  std::unique_ptr<TraceReader> import(const std::vector<fs::path>& files, import::ImportOptions opts = {}) {
    return test::import_store(files, dir_ / "run.moetune", opts);
  }

  void expect_counts_match(const fs::path& gz) {
    SCOPED_TRACE(gz.string());
    auto want = count_kineto(gz);
    auto rd = import({gz});
    auto n = test::rows(rd->counts());
    EXPECT_EQ(n.get("kernels"), want.kernels);
    EXPECT_EQ(n.get("nccl_ops"), want.nccl_kernels);
    EXPECT_EQ(n.get("memcpys"), want.memcpys);
    EXPECT_EQ(n.get("memsets"), want.memsets);
    EXPECT_EQ(n.get("api_calls"), want.api_calls);
    EXPECT_EQ(n.get("nvtx"), want.nvtx);
    EXPECT_EQ(n.get("steps"), static_cast<std::int64_t>(want.steps.size()));
    auto ranks = test::rows(rd->ranks());
    ASSERT_EQ(ranks.size(), 1u);
    EXPECT_EQ(ranks[0].rank.value, want.rank);
    std::set<long> steps;
    for (const auto& s : test::rows(rd->steps())) {
      steps.insert(s.step);
      EXPECT_LT(s.start_ns, s.end_ns);
    }
    EXPECT_EQ(steps, want.steps);
    long sync = 0;
    for (const auto& a : test::rows(rd->api_calls())) sync += a.kind == ApiKind::Sync;
    EXPECT_EQ(sync, want.sync_calls);
  }

};

TEST_F(KinetoGolden, CountsMatchEveryRealFile) {
  int files = 0;
  for (const auto& e : fs::directory_iterator(kineto_dir()))
    if (e.path().extension() == ".gz") expect_counts_match(e.path()), ++files;
  EXPECT_EQ(files, 4);
}

TEST_F(KinetoGolden, NcclDataFileHandChecked) {
  auto rd = import({kineto_dir() / "hta_nccl_data_rank0of2.json.gz"});
  // baseTimeNanoseconds 1711964646000000000 + earliest kernel ts 4458676422880.181 us.
  auto ks = test::rows(rd->kernels());
  ASSERT_FALSE(ks.empty());
  EXPECT_EQ(ks.front().start_ns, 1716423322422880181LL);
  EXPECT_EQ(ks.front().dur_ns, 3744);
  auto ranks = test::rows(rd->ranks());
  ASSERT_EQ(ranks.size(), 1u);
  EXPECT_EQ(ranks[0].gpu_name, "NVIDIA A100-PG509-200");
  EXPECT_EQ(ranks[0].sm_count, 108);
  EXPECT_EQ(ranks[0].memory_bytes, 42297524224LL);
  EXPECT_EQ(ranks[0].compute_cap, "8.0");
  EXPECT_EQ(ranks[0].device, 0);
  EXPECT_EQ(ranks[0].pid, 2910249);
  // 15 AllReduce + 6 Broadcast kernels carry "Collective name"; the earliest AllReduce
  // (ts 4458676524716.094 us, dur 3306.963 us) has In msg nelems 2049000 of Float: 8196000 bytes.
  std::map<std::string, int> funcs;
  auto ops = test::rows(rd->nccl_ops());  // ordered by start
  for (const auto& op : ops) ++funcs[op.func];
  EXPECT_EQ(funcs["AllReduce"], 15);
  EXPECT_EQ(funcs["Broadcast"], 6);
  auto it = std::find_if(ops.begin(), ops.end(), [](const NcclOpRow& o) { return o.func == "AllReduce"; });
  ASSERT_NE(it, ops.end());
  EXPECT_EQ(it->start_ns, 1711964646000000000LL + 4458676524716094LL);
  EXPECT_EQ(it->end_ns - it->start_ns, 3306963);
  EXPECT_EQ(it->count, 2049000);
  EXPECT_EQ(it->bytes, 2049000LL * 4);
  EXPECT_EQ(it->dtype.value_or(""), "Float");
  EXPECT_EQ(it->nranks, 2);
  EXPECT_EQ(it->algo.value_or(""), "Ring");
  EXPECT_EQ(it->proto.value_or(""), "LL");
  EXPECT_EQ(it->pg_ranks.value_or(""), "[0, 1]");
  EXPECT_FALSE(it->in_splits.has_value());  // "[]" in the file
  // Enqueue = start of the cudaLaunchKernelExC with the same correlation id (25941): ts 4458676524703.113 us.
  ASSERT_TRUE(it->enqueue_ns.has_value());
  EXPECT_EQ(*it->enqueue_ns, 1716423322524703113LL);
  EXPECT_LT(*it->enqueue_ns, it->start_ns);
  // The op points at its kernel and shares its times.
  ASSERT_TRUE(it->kernel_id.has_value());
  bool found = false;
  for (const auto& k : test::rows(rd->kernels(RankId(0), it->start_ns, it->start_ns + 1)))
    if (k.id == *it->kernel_id) {
      found = true;
      EXPECT_EQ(k.end_ns(), it->end_ns);
      EXPECT_EQ(rd->str(k.name).rfind("ncclKernel_AllReduce", 0), 0u);
    }
  EXPECT_TRUE(found);
  // Launch correlation: every kernel's correlation id is a cuda_runtime call's.
  std::set<std::int64_t> api;
  for (const auto& a : test::rows(rd->api_calls())) api.insert(a.correlation);
  long linked = 0;
  for (const auto& k : ks) linked += api.count(k.correlation);
  EXPECT_EQ(linked, static_cast<long>(ks.size()));
  for (const auto& s : test::rows(rd->stats())) EXPECT_NE(s.name, "relative_timestamps");
}

TEST_F(KinetoGolden, TwoRankFilesShareOneAxis) {
  auto rd = import({kineto_dir() / "hta_sampled_rank0of128.json.gz", kineto_dir() / "hta_sampled_rank1of128.json.gz"});
  auto ranks = test::rows(rd->ranks());
  ASSERT_EQ(ranks.size(), 2u);
  EXPECT_EQ(ranks[0].rank.value, 0);
  EXPECT_EQ(ranks[1].rank.value, 1);
  auto k0 = test::rows(rd->kernels(RankId(0))), k1 = test::rows(rd->kernels(RankId(1)));
  ASSERT_FALSE(k0.empty());
  ASSERT_FALSE(k1.empty());
  EXPECT_EQ(k0.front().start_ns, 1682725898082228000LL);  // epoch us in the file, no baseTimeNanoseconds
  EXPECT_EQ(k1.front().start_ns, 1682725898082381000LL);
  std::int64_t end0 = 0, end1 = 0;
  for (const auto& k : k0) end0 = std::max(end0, k.end_ns());
  for (const auto& k : k1) end1 = std::max(end1, k.end_ns());
  EXPECT_LT(k0.front().start_ns, end1);  // the two ranks' spans overlap
  EXPECT_LT(k1.front().start_ns, end0);
  long sendrecv = 0;
  for (const auto& op : test::rows(rd->nccl_ops())) sendrecv += op.func == "SendRecv" && op.proto.value_or("") == "Simple";
  EXPECT_EQ(sendrecv, count_kineto(kineto_dir() / "hta_sampled_rank0of128.json.gz").nccl_kernels +
                          count_kineto(kineto_dir() / "hta_sampled_rank1of128.json.gz").nccl_kernels);
  int relative = 0;
  for (const auto& s : test::rows(rd->stats())) relative += s.name == "relative_timestamps";
  EXPECT_EQ(relative, 2);  // one per file
}

TEST_F(KinetoGolden, SameRankTwiceIsAnError) {
  fs::path out = dir_ / "dup.moetune";
  auto w = TraceWriter::create(out, {.force = true});
  ASSERT_TRUE(w.ok());
  auto f = kineto_dir() / "hta_sampled_rank0of128.json.gz";
  auto r = import::import_files({f, f}, **w, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("already taken"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace moetune
