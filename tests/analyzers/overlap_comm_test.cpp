// SPDX-License-Identifier: Apache-2.0
// Communication ratio / overlap: hand-computed fixtures, the comm rule table, and the
// synth ground truth (no_overlap -> exposed_comm; clean -> none).
#include <gtest/gtest.h>

#include "anaa_helpers.h"
#include "moetune/analyzers/comm_rules.h"

using namespace anaa;

namespace {

const nlohmann::json& rank_row(const AnalysisResult& r, int rank) {
  for (const auto& row : r.metrics.at("per_rank"))
    if (row.at("rank") == rank) return row;
  static const nlohmann::json none;
  ADD_FAILURE() << "no per_rank row for rank " << rank;
  return none;
}

// One rank, one step [0, 1000): a gemm [0, gemm_end) on stream 7 and an NCCL SendRecv
// kernel [comm_start, comm_end) on stream 13; meta "command" = `command`.
RunData gemm_then_sendrecv(std::int64_t gemm_end, std::int64_t comm_start, std::int64_t comm_end,
                           const std::string& command) {
  Builder b;
  b.rank(0);
  b.kernel(0, 7, 0, gemm_end, "gemm");
  b.kernel(0, 13, comm_start, comm_end, "ncclDevKernel_SendRecv(x)");
  b.step(0, 0, 0, 1000);
  auto run = b.done();
  run.meta["command"] = command;
  return run;
}

}  // namespace

TEST(CommRules, ClassifiesKnownNamesAndLeavesUnknownAsCompute) {
  EXPECT_EQ(classify_kernel("ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)"),
            CommKind::NcclCollective);
  EXPECT_EQ(classify_kernel("ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclWorkElem)"), CommKind::NcclP2P);
  EXPECT_EQ(classify_kernel("ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)"), CommKind::NcclP2P);
  EXPECT_EQ(classify_kernel("ncclDevKernel_AllReduce_Sum_bf16_TREE_LL(ncclDevKernelArgsStorage<4096ul>)"),
            CommKind::NcclCollective);
  EXPECT_EQ(classify_kernel("void deep_ep::intranode::dispatch<8, 768, 8192>(int4*, float*)"), CommKind::EpDispatch);
  EXPECT_EQ(classify_kernel("void deep_ep::internode_ll::combine<false, 7168>(void*)"), CommKind::EpCombine);
  EXPECT_EQ(classify_kernel("void deep_ep::intranode::notify_dispatch<8>(int const*)"), CommKind::EpNotify);
  // Compute that merely mentions dispatch/combine, or an unknown name: never communication.
  EXPECT_EQ(classify_kernel("void deep_ep::layout::get_dispatch_layout<256, 32, 8>(long const*)"), CommKind::None);
  EXPECT_EQ(classify_kernel("void moe::dispatch_tokens_kernel(float*)"), CommKind::None);
  EXPECT_EQ(classify_kernel("combine_kernel"), CommKind::None);
  EXPECT_EQ(classify_kernel("my_custom_alltoall_kernel"), CommKind::None);
  EXPECT_EQ(classify_kernel("void at::native::vectorized_elementwise_kernel<4>(int)"), CommKind::None);
  EXPECT_GE(matching_rule("ncclDevKernel_Generic"), 0);
  EXPECT_EQ(matching_rule("sm90_xmma_gemm_bf16"), -1);
}

TEST(CommRules, DecodesNcclKernelNamesOldAndNew) {
  auto a = parse_nccl_kernel("ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->func, "AllReduce");
  EXPECT_EQ(a->algo, "Ring");
  EXPECT_EQ(a->proto, "LL");
  auto b = parse_nccl_kernel("ncclDevKernel_AllReduce_Sum_bf16_TREE_LL128(ncclDevKernelArgsStorage<4096ul>)");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->func, "AllReduce");
  EXPECT_EQ(b->algo, "Tree");
  EXPECT_EQ(b->proto, "LL128");
  auto c = parse_nccl_kernel("ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->func, "SendRecv");
  EXPECT_EQ(c->algo, "");
  EXPECT_FALSE(parse_nccl_kernel("flash_fwd_kernel"));
  EXPECT_TRUE(algo_env_applies("AllReduce"));
  EXPECT_FALSE(algo_env_applies("AllToAll"));
  EXPECT_FALSE(algo_env_applies("SendRecv"));
  EXPECT_FALSE(algo_env_applies("Send"));
}

TEST(CommRules, BlockingSyncApisByNameOnly) {
  EXPECT_TRUE(is_blocking_sync_api("cudaDeviceSynchronize"));
  EXPECT_TRUE(is_blocking_sync_api("cudaStreamSynchronize_v3020"));  // nsys suffix
  EXPECT_TRUE(is_blocking_sync_api("cudaMemcpy"));
  EXPECT_FALSE(is_blocking_sync_api("cudaMemcpyAsync"));
  EXPECT_FALSE(is_blocking_sync_api("cudaStreamWaitEvent_v3020"));  // GPU-side wait
  EXPECT_FALSE(is_blocking_sync_api("cudaEventQuery_v3020"));       // polls, never blocks
  EXPECT_FALSE(is_blocking_sync_api("cudaLaunchKernel"));
}

TEST(CommRules, PeerCopiesAreCommLocalCopiesAreNot) {
  MemcpyRow m;
  m.kind = CopyKind::PtoP;
  EXPECT_TRUE(is_comm_memcpy(m));
  m.kind = CopyKind::DtoD;
  m.src_device = 0, m.dst_device = 0;
  EXPECT_FALSE(is_comm_memcpy(m));
  m.dst_device = 1;
  EXPECT_TRUE(is_comm_memcpy(m));
  m.kind = CopyKind::HtoD;
  EXPECT_FALSE(is_comm_memcpy(m));
}

// Step [0, 1000): compute [0,400) on stream 7 and [300,500) on stream 9, NCCL kernel
// [350,700) on stream 13, peer copy [800,850), nothing in [700,800) and [850,1000).
// compute = 500, comm = 350 + 50 = 400, overlap = [350,500) = 150, exposed = 250,
// busy = [0,700)+[800,850) = 750, idle = 250.
TEST(CommOverlap, HandComputedFixture) {
  Builder b;
  b.rank(0);
  b.kernel(0, 7, 0, 400, "gemm");
  b.kernel(0, 9, 300, 500, "void deep_ep::layout::get_dispatch_layout<1>(int)");
  b.kernel(0, 13, 350, 700, "ncclDevKernel_AllReduce_Sum_f32_RING_LL(x)");
  MemcpyRow m;
  m.rank = RankId(0);
  m.start_ns = 800;
  m.dur_ns = 50;
  m.kind = CopyKind::PtoP;
  b.d.memcpys.push_back(m);
  b.step(0, 1, 0, 1000);
  auto run = b.done();
  AnalysisResult r;
  analyze_comm_overlap(run, {}, r);
  const auto& row = rank_row(r, 0);
  EXPECT_EQ(row.at("steps"), 1);
  EXPECT_DOUBLE_EQ(row.at("step_time_ms").get<double>(), 1000e-6);
  EXPECT_DOUBLE_EQ(row.at("compute_ms").get<double>(), 500e-6);
  EXPECT_DOUBLE_EQ(row.at("comm_ms").get<double>(), 400e-6);
  EXPECT_DOUBLE_EQ(row.at("exposed_comm_ms").get<double>(), 250e-6);
  EXPECT_DOUBLE_EQ(row.at("overlap_pct").get<double>(), 100.0 * 150 / 400);
  EXPECT_DOUBLE_EQ(row.at("comm_ratio").get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(row.at("idle_ms").get<double>(), 250e-6);
  ASSERT_EQ(r.metrics.at("per_step").size(), 1u);
  EXPECT_EQ(r.metrics.at("per_step")[0].at("step"), 1);
  // 25 % of the step is exposed comm and 350 ns of compute does not overlap comm:
  // the gain bound is min(250, 350) = 250 ns = 25 %.
  auto ex = of_kind(r, FindingKind::ExposedComm);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_NEAR(ex[0]->estimated_gain_pct, 25.0, 1e-9);
  EXPECT_EQ(ex[0]->evidence.at("link_bound"), false);
  // Not a moe_nccl run: the advice is the code change, no sample flag.
  for (const auto& fx : ex[0]->recommendation.fixes) EXPECT_EQ(fx.type, "code");
}

TEST(CommOverlap, MoeNcclRunGetsTheOverlapChunksFlag) {
  // 600 ns of compute, an all-to-all 500..900 (100 ns hidden): 300 ns exposed, 500 ns of compute
  // free to hide it -> overlap can hide all of it (30 % of the step).
  auto run = gemm_then_sendrecv(600, 500, 900, "moe_nccl --experts 8 --comm-dtype fp32");
  AnalysisResult r;
  analyze_comm_overlap(run, {}, r);
  auto ex = of_kind(r, FindingKind::ExposedComm);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0]->evidence.at("link_bound"), false);
  EXPECT_NEAR(ex[0]->estimated_gain_pct, 30.0, 1e-9);
  ASSERT_FALSE(ex[0]->recommendation.fixes.empty());
  EXPECT_EQ(ex[0]->recommendation.fixes.front().type, "flag");
  EXPECT_EQ(ex[0]->recommendation.fixes.front().body.at("name"), "--overlap-chunks");
  // Already chunked: no flag to add, the code advice stays.
  run.meta["command"] = "moe_nccl --overlap-chunks 4";
  AnalysisResult r2;
  analyze_comm_overlap(run, {}, r2);
  for (const auto& fx : of_kind(r2, FindingKind::ExposedComm).at(0)->recommendation.fixes) EXPECT_EQ(fx.type, "code");
}

TEST(CommOverlap, LinkBoundExposedCommGetsNoOverlapAdvice) {
  // 100 ns of compute, then 800 ns of all-to-all with nothing to hide behind: communication
  // is the step (the socket-linked emulated nodes' shape), overlap could hide <= 100 ns.
  auto run = gemm_then_sendrecv(100, 100, 900, "moe_nccl --experts 8");
  AnalysisResult r;
  analyze_comm_overlap(run, {}, r);
  auto ex = of_kind(r, FindingKind::ExposedComm);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0]->evidence.at("link_bound"), true);
  EXPECT_NEAR(ex[0]->estimated_gain_pct, 10.0, 1e-9);  // min(800 exposed, 100 idle compute) / 1000
  EXPECT_NE(ex[0]->recommendation.text.find("Overlap cannot hide this"), std::string::npos);
  for (const auto& fx : ex[0]->recommendation.fixes) EXPECT_NE(fx.type, "flag") << fx.body.dump();
}

TEST(CommOverlap, NoStepsMeansWholeRunAndSaysSo) {
  Builder b;
  b.rank(0);
  b.kernel(0, 7, 100, 200, "gemm");
  b.kernel(0, 13, 150, 300, "ncclDevKernel_SendRecv(x)");
  auto run = b.done();
  AnalysisResult r;
  analyze_comm_overlap(run, {}, r);
  const auto& row = rank_row(r, 0);
  EXPECT_EQ(row.at("steps"), 0);
  EXPECT_EQ(row.at("whole_run"), true);
  EXPECT_DOUBLE_EQ(row.at("step_time_ms").get<double>(), 200e-6);
  EXPECT_TRUE(has_note(r, "no steps recorded"));
}

TEST(CommOverlap, NoCommunicationIsNotEnoughData) {
  Builder b;
  b.rank(0);
  b.kernel(0, 7, 0, 100, "gemm");
  b.kernel(0, 7, 100, 200, "dispatch_kernel_of_unknown_library");
  b.step(0, 0, 0, 200);
  auto run = b.done();
  AnalysisResult r;
  analyze_comm_overlap(run, {}, r);
  EXPECT_TRUE(has_note(r, "not enough data: comm_overlap: no communication"));
  EXPECT_TRUE(of_kind(r, FindingKind::ExposedComm).empty());
  EXPECT_DOUBLE_EQ(rank_row(r, 0).at("comm_ms").get<double>(), 0.0);
}

TEST(CommOverlap, EmptyRunIsNotEnoughData) {
  RunData run;
  AnalysisResult r;
  analyze_comm_overlap(run, {}, r);
  EXPECT_TRUE(has_note(r, "not enough data: comm_overlap"));
}

TEST(CommOverlapSynth, NoOverlapInjectionGivesExposedComm) {
  auto r = analyze(synth_run("no_overlap"));
  auto ex = of_kind(r, FindingKind::ExposedComm);
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0]->ranks.size(), 8u);
  EXPECT_GT(ex[0]->estimated_gain_pct, 0.0);
  EXPECT_TRUE(of_kind(r, FindingKind::GlobalSync).empty());
  EXPECT_TRUE(of_kind(r, FindingKind::Straggler).empty());
  for (const auto& row : r.metrics.at("per_rank")) EXPECT_LT(row.at("overlap_pct").get<double>(), 60.0);
}

TEST(CommOverlapSynth, CleanRunHidesCommunication) {
  auto r = analyze(synth_run(""));
  EXPECT_TRUE(of_kind(r, FindingKind::ExposedComm).empty());
  ASSERT_EQ(r.metrics.at("per_rank").size(), 8u);
  for (const auto& row : r.metrics.at("per_rank")) {
    EXPECT_EQ(row.at("steps"), 20);
    EXPECT_GT(row.at("overlap_pct").get<double>(), 95.0);  // README: overlap > 95 %
    EXPECT_GT(row.at("comm_ms").get<double>(), 0.0);
  }
  EXPECT_EQ(r.metrics.at("per_step").size(), 8u * 20u);
}
