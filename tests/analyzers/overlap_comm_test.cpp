// SPDX-License-Identifier: Apache-2.0
// Communication ratio / overlap: hand-computed fixtures, the comm rule table, and the
// synth ground truth (no_overlap -> exposed_comm; clean -> none).
#include <gtest/gtest.h>

#include "anaa_helpers.h"
#include "common/comm_kernel_cases.h"
#include "moetune/analyzers/comm_rules.h"

using namespace anaa;

namespace {

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

// The one ExposedComm finding of `r`, with its link_bound flag and gain checked.
const Finding* exposed(const AnalysisResult& r, bool link_bound, double gain_pct) {
  const Finding* ex = only_of_kind(r, FindingKind::ExposedComm);
  if (ex) {
    EXPECT_EQ(ex->evidence.at("link_bound"), link_bound);
    EXPECT_NEAR(ex->estimated_gain_pct, gain_pct, 1e-9);
  }
  return ex;
}

}  // namespace

TEST(CommRules, ClassifiesKnownNamesAndLeavesUnknownAsCompute) {
  auto classify = [](std::string_view n) { return classify_kernel(n); };
  moetune::test::expect_kinds(classify, moetune::test::kNcclKernelKinds);
  moetune::test::expect_kinds(classify, moetune::test::kEpKernelKinds);
  moetune::test::expect_compute(classify);
  EXPECT_GE(matching_rule("ncclDevKernel_Generic"), 0);
  EXPECT_EQ(matching_rule("sm90_xmma_gemm_bf16"), -1);
}

TEST(CommRules, DecodesNcclKernelNamesOldAndNew) {
  moetune::test::expect_decodes_nccl_kernels(parse_nccl_kernel);
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
  auto r = run_analysis(analyze_comm_overlap, run);
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
  const Finding* ex = exposed(r, false, 25.0);
  ASSERT_TRUE(ex);
  // Not a moe_nccl run: the advice is the code change, no sample flag.
  for (const auto& fx : ex->recommendation.fixes) EXPECT_EQ(fx.type, "code");
}

TEST(CommOverlap, MoeNcclRunGetsTheOverlapChunksFlag) {
  // 600 ns of compute, an all-to-all 500..900 (100 ns hidden): 300 ns exposed, 500 ns of compute
  // free to hide it -> overlap can hide all of it (30 % of the step).
  auto run = gemm_then_sendrecv(600, 500, 900, "moe_nccl --experts 8 --comm-dtype fp32");
  auto r = run_analysis(analyze_comm_overlap, run);
  const Finding* ex = exposed(r, false, 30.0);
  ASSERT_TRUE(ex);
  ASSERT_FALSE(ex->recommendation.fixes.empty());
  EXPECT_EQ(ex->recommendation.fixes.front().type, "flag");
  EXPECT_EQ(ex->recommendation.fixes.front().body.at("name"), "--overlap-chunks");
  // Already chunked: no flag to add, the code advice stays.
  run.meta["command"] = "moe_nccl --overlap-chunks 4";
  auto r2 = run_analysis(analyze_comm_overlap, run);
  for (const auto& fx : of_kind(r2, FindingKind::ExposedComm).at(0)->recommendation.fixes) EXPECT_EQ(fx.type, "code");
}

TEST(CommOverlap, LinkBoundExposedCommGetsNoOverlapAdvice) {
  // 100 ns of compute, then 800 ns of all-to-all with nothing to hide behind: communication
  // is the step (the socket-linked emulated nodes' shape), overlap could hide <= 100 ns.
  auto run = gemm_then_sendrecv(100, 100, 900, "moe_nccl --experts 8");
  auto r = run_analysis(analyze_comm_overlap, run);
  const Finding* ex = exposed(r, true, 10.0);  // min(800 exposed, 100 idle compute) / 1000
  ASSERT_TRUE(ex);
  EXPECT_NE(ex->recommendation.text.find("Overlap cannot hide this"), std::string::npos);
  for (const auto& fx : ex->recommendation.fixes) EXPECT_NE(fx.type, "flag") << fx.body.dump();
}

TEST(CommOverlap, NoStepsMeansWholeRunAndSaysSo) {
  Builder b;
  b.rank(0);
  b.kernel(0, 7, 100, 200, "gemm");
  b.kernel(0, 13, 150, 300, "ncclDevKernel_SendRecv(x)");
  auto run = b.done();
  auto r = run_analysis(analyze_comm_overlap, run);
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
  auto r = run_analysis(analyze_comm_overlap, run);
  EXPECT_TRUE(has_note(r, "not enough data: comm_overlap: no communication"));
  EXPECT_TRUE(of_kind(r, FindingKind::ExposedComm).empty());
  EXPECT_DOUBLE_EQ(rank_row(r, 0).at("comm_ms").get<double>(), 0.0);
}

TEST(CommOverlap, EmptyRunIsNotEnoughData) {
  RunData run;
  auto r = run_analysis(analyze_comm_overlap, run);
  EXPECT_TRUE(has_note(r, "not enough data: comm_overlap"));
}

TEST(CommOverlapSynth, NoOverlapInjectionGivesExposedComm) {
  auto r = analyze(synth_run("no_overlap"));
  const Finding* ex = only_of_kind(r, FindingKind::ExposedComm);
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->ranks.size(), 8u);
  EXPECT_GT(ex->estimated_gain_pct, 0.0);
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
