// SPDX-License-Identifier: Apache-2.0
// A run recorded on nvidia-h200-x4 (4 H200 on NVSwitch, NV18 each way) by
// tests/gpu/multi_gpu.sh: `moetune record` of moe_nccl, one process per GPU, 6 measured
// steps. Checks, on real data, what a multi-GPU recording must hold: one rank per GPU,
// the NVLink topology, NCCL ops whose sends and receives pair up across ranks, and GPU
// clocks that agree across the four GPUs.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/run_command.h"
#include "common/expect_rows.h"
#include "moetune/trace/reader.h"

using namespace moetune;

namespace {
const std::string kRun = std::string(MOETUNE_TEST_DATA) + "/recorded/h200x4_moe_nccl.moetune";

std::unique_ptr<TraceReader> open_run() {
  auto r = TraceReader::open(kRun);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? std::move(*r) : nullptr;
}

bool is_nccl_kernel(const TraceReader& rd, const KernelRow& k) {
  return rd.str(k.name).find("ncclDevKernel") != std::string::npos;
}
}  // namespace

TEST(H200x4Recorded, OneRankPerGpuWithNvlinkTopology) {
  auto rd = open_run();
  ASSERT_TRUE(rd);
  auto ranks = test::rows(rd->ranks());
  ASSERT_EQ(ranks.size(), 4u);
  std::set<std::string> bus;
  for (const auto& r : ranks) {
    EXPECT_EQ(r.gpu_name, "NVIDIA H200");
    bus.insert(r.bus_id);
  }
  EXPECT_EQ(bus.size(), 4u) << "each rank on its own GPU";
  // nvidia-smi topo -m text: NV18 between every pair of the 4 GPUs.
  int nv18_pairs = 0;
  for (const auto& t : test::rows(rd->topology()))
    if (t.source == "topo.txt" && t.link == "NV18") ++nv18_pairs;
  EXPECT_EQ(nv18_pairs, 6);
  EXPECT_NE(test::rows(rd->meta())["nvidia_smi_topo"].find("NV18"), std::string::npos);
}

TEST(H200x4Recorded, EverySendPairsWithTheSameSizedRecvOnItsPeer) {
  auto rd = open_run();
  ASSERT_TRUE(rd);
  // (comm, from, to, seq) -> count for sends and receives.
  std::map<std::tuple<std::string, int, int, std::int64_t>, std::int64_t> sends, recvs;
  int allreduce = 0;
  for (const auto& o : test::rows(rd->nccl_ops())) {
    const int me = static_cast<int>(o.rank.value);
    if (o.func == "Send") sends[{o.comm_hash.value_or(""), me, o.peer, o.seq}] = o.count;
    if (o.func == "Recv") recvs[{o.comm_hash.value_or(""), o.peer, me, o.seq}] = o.count;
    if (o.func == "AllReduce") {
      ++allreduce;
      EXPECT_EQ(o.algo.value_or(""), "Ring");
      EXPECT_EQ(o.proto.value_or(""), "LL");
      EXPECT_EQ(o.nranks, 4);
    }
    if (o.func == "Send" || o.func == "Recv") {
      EXPECT_GE(o.seq, 0);
      if (o.peer != me) {
        EXPECT_GT(o.channels, 0) << "NVLink P2P op with no channels";
      }
    }
  }
  EXPECT_EQ(allreduce, 4) << "the one all-reduce, seen on every rank";
  ASSERT_GT(sends.size(), 100u);
  ASSERT_EQ(sends.size(), recvs.size());
  for (const auto& [key, count] : sends) {
    auto it = recvs.find(key);
    ASSERT_NE(it, recvs.end()) << "send without a matching receive";
    EXPECT_EQ(it->second, count);
  }
}

// CUPTI kernel times of the four processes are on one clock: an NCCL kernel blocks until
// its peers take part, so each NCCL kernel of rank 0 must overlap an NCCL kernel on every
// other GPU, and the all-reduce kernels start together.
TEST(H200x4Recorded, NcclKernelsOverlapAcrossTheFourGpus) {
  auto rd = open_run();
  ASSERT_TRUE(rd);
  std::map<int, std::vector<KernelRow>> nccl;
  std::map<int, std::int64_t> allreduce_start;
  for (const auto& k : test::rows(rd->kernels())) {
    if (!is_nccl_kernel(*rd, k)) continue;
    nccl[static_cast<int>(k.rank.value)].push_back(k);
    if (rd->str(k.name).find("AllReduce") != std::string::npos)
      allreduce_start.emplace(static_cast<int>(k.rank.value), k.start_ns);
  }
  ASSERT_EQ(nccl.size(), 4u);
  std::size_t overlapping = 0;
  for (const auto& k0 : nccl[0]) {
    bool all = true;
    for (int r = 1; r < 4; ++r)
      all = all && std::any_of(nccl[r].begin(), nccl[r].end(), [&](const KernelRow& k) {
              return k.start_ns < k0.end_ns() && k.end_ns() > k0.start_ns;
            });
    overlapping += all;
  }
  ASSERT_GE(nccl[0].size(), 40u);
  EXPECT_GE(overlapping, nccl[0].size() * 9 / 10) << overlapping << " of " << nccl[0].size();
  ASSERT_EQ(allreduce_start.size(), 4u);
  auto [lo, hi] = std::minmax_element(allreduce_start.begin(), allreduce_start.end(),
                                      [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_LT(hi->second - lo->second, 100'000) << "all-reduce kernel starts spread over more than 100 us";
}

TEST(H200x4Recorded, AnalyzeClassifiesTheNvlinkFabric) {
  auto r = test::run_command(std::string(MOETUNE_CLI) + " analyze " + kRun + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  const auto& topo = j["metrics"]["topology"];
  ASSERT_TRUE(topo.is_array());
  ASSERT_FALSE(topo.empty());
  bool found = false;
  for (const auto& t : topo)
    if (t.value("gpus", 0) == 4) {
      found = true;
      EXPECT_TRUE(t.value("nvlink_fully_connected", false));
      EXPECT_EQ(t["link_codes"].value("NV18", 0), 6);
      EXPECT_TRUE(t["gpus_without_nvlink"].empty());
    }
  EXPECT_TRUE(found) << topo.dump();
}
