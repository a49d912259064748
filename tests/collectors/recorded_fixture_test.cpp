// SPDX-License-Identifier: Apache-2.0
// Runs recorded on the H200 device by tests/gpu/run_device.sh (moetune record of the
// tests/gpu client, 1 and 2 ranks, and a 2-rank torchrun job), committed as fixtures.
// Checks what the live collectors must deliver, on real captured data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "common/expect_rows.h"
#include "moetune/trace/reader.h"

using namespace moetune;

namespace {
std::unique_ptr<TraceReader> open_fixture(const char* name) {
  auto r = TraceReader::open(std::string(MOETUNE_TEST_DATA) + "/recorded/" + name);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? std::move(*r) : nullptr;
}
}  // namespace

// (fixture, ranks, written by `moetune record` itself). client2 was recorded per rank
// (record -o c2-%r inside the launcher) and joined with `moetune merge` by a version
// that did not yet carry the per-rank meta (exit status, topology text) over.
class Recorded : public ::testing::TestWithParam<std::tuple<const char*, int, bool>> {};

TEST_P(Recorded, HoldsGpuActivityNvtxAndMoeStructurePerRank) {
  auto [name, nranks, by_record] = GetParam();
  auto rd = open_fixture(name);
  ASSERT_TRUE(rd);
  auto ranks = test::rows(rd->ranks());
  ASSERT_EQ(static_cast<int>(ranks.size()), nranks);
  for (const auto& r : ranks) {
    EXPECT_EQ(r.gpu_name, "NVIDIA H200");
    EXPECT_FALSE(r.bus_id.empty());
    EXPECT_EQ(r.pcie_gen, 5);
    EXPECT_EQ(r.pcie_width, 16);
    EXPECT_EQ(r.compute_cap, "9.0");
    EXPECT_FALSE(test::rows(rd->kernels(r.rank)).empty());
    EXPECT_FALSE(test::rows(rd->memcpys(r.rank)).empty());
    EXPECT_FALSE(test::rows(rd->api_calls(r.rank)).empty());
    EXPECT_FALSE(test::rows(rd->steps(r.rank)).empty());
    auto nv = test::rows(rd->nvtx(r.rank));
    EXPECT_TRUE(std::any_of(nv.begin(), nv.end(), [](const NvtxRow& n) { return n.dur_ns > 0; }));
  }
  // Kernel durations are GPU times (ns), never negative, and inside the run.
  auto [t0, t1] = test::rows(rd->time_range());
  for (const auto& k : test::rows(rd->kernels())) {
    ASSERT_GE(k.dur_ns, 0);
    ASSERT_GE(k.start_ns, t0);
    ASSERT_LE(k.end_ns(), t1);
  }
  // Routing rows: every step of every rank reports tokens per expert.
  auto routing = test::rows(rd->expert_routing());
  ASSERT_FALSE(routing.empty());
  std::set<std::pair<std::int64_t, std::int64_t>> rank_step;
  for (const auto& e : routing) {
    EXPECT_GE(e.step, 0);
    EXPECT_GE(e.tokens, 0);
    rank_step.insert({e.rank.value, e.step});
  }
  EXPECT_EQ(rank_step.size(), test::rows(rd->steps()).size());
  auto meta = test::rows(rd->meta());
  if (by_record) {
    EXPECT_EQ(meta["exit_status"], "0");
    EXPECT_TRUE(test::rows(rd->counts()).get("topology") > 0 || meta.count("nvidia_smi_topo"));
  }
}

TEST_P(Recorded, NcclOpsMatchAcrossRanks) {
  auto [name, nranks, by_record] = GetParam();
  (void)by_record;
  if (nranks < 2) GTEST_SKIP() << "one rank: no collectives";
  auto rd = open_fixture(name);
  ASSERT_TRUE(rd);
  std::map<std::tuple<std::string, std::string, std::int64_t>, std::set<std::int64_t>> inst;
  std::map<std::int64_t, int> sends, recvs;
  for (const auto& op : test::rows(rd->nccl_ops())) {
    if (op.func == "Send") ++sends[op.rank.value];
    if (op.func == "Recv") ++recvs[op.rank.value];
    if (op.func == "Send" || op.func == "Recv") continue;
    EXPECT_TRUE(op.algo.has_value());
    EXPECT_TRUE(op.proto.has_value());
    EXPECT_EQ(op.nranks, nranks);
    EXPECT_GT(op.bytes, 0);
    inst[{op.comm_hash.value_or(""), op.func, op.seq}].insert(op.rank.value);
  }
  ASSERT_FALSE(inst.empty());
  for (const auto& [key, rs] : inst) EXPECT_EQ(static_cast<int>(rs.size()), nranks) << std::get<1>(key);
  for (int r = 0; r < nranks; ++r) {
    EXPECT_GT(sends[r], 0);
    EXPECT_EQ(sends[r], recvs[r]);
  }
}

INSTANTIATE_TEST_SUITE_P(Device, Recorded,
                         ::testing::Values(std::make_tuple("client1.moetune", 1, true),
                                           std::make_tuple("client2.moetune", 2, false),
                                           std::make_tuple("torch2.moetune", 2, true)));
