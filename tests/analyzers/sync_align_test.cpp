// SPDX-License-Identifier: Apache-2.0
// Alignment of collectives and send/recv across ranks without sequence numbers (checked
// launch order), and waits attributed to the late rank:
//  - real traces, read by hand (numbers below recomputed from the raw files with sqlite3 /
//    python: pair the ranks' NCCL kernels, wait = duration - the shorter duration);
//  - synth ground truth: a late rank (straggler:3) is named the same with the sequence
//    numbers stripped and with nccl_ops dropped (kernels only);
//  - unit fixtures for refusals (no time overlap, different element counts), a call
//    missing on one rank, and point-to-point pairs by peer.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "anaa_helpers.h"
#include "import_helpers.h"
#include "moetune/import/import.h"

using namespace anaa;

namespace {

const nlohmann::json& gs_metrics(const AnalysisResult& r) { return r.metrics.at("global_sync"); }

double rank_wait_ms(const AnalysisResult& r, int rank) {
  for (const auto& row : gs_metrics(r).at("per_rank"))
    if (row.at("rank").get<int>() == rank) return row.at("wait_ms").get<double>();
  ADD_FAILURE() << "no per_rank row for rank " << rank;
  return -1;
}

std::string note_with(const AnalysisResult& r, const std::string& part) {
  for (const auto& n : r.notes)
    if (n.find(part) != std::string::npos) return n;
  return "";
}

// Two ranks, kernels only, one NCCL stream each (different stream ids, as in nsys exports).
RunData two_rank_kernels(const std::vector<std::array<std::int64_t, 2>>& r0, const std::vector<std::array<std::int64_t, 2>>& r1,
                         const std::string& name = "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)") {
  Builder b;
  b.rank(0), b.rank(1);
  for (const auto& k : r0) b.kernel(0, 7, k[0], k[1], name);
  for (const auto& k : r1) b.kernel(1, 15, k[0], k[1], name);
  return b.done();
}

}  // namespace

// nsys export of a 2-GPU torchrun job (nsys-ai mfu_2gpu_before): 33 ncclDevKernel_SendRecv
// kernels per rank (device 0 = rank 0 on stream 7, device 1 = rank 1 on stream 15), no NCCL
// payloads, so no communicator or sequence number. By hand: the n-th kernels of the two
// ranks overlap for all 33 n and end within ~25 us of each other; rank 0's kernels last up
// to 3.5-3.6 ms (n = 13, 31) where rank 1's last ~255 us: rank 1 starts later in 22 of 33
// and in 18 of the 20 where a rank waits >= max(50 us, transfer/2). Rank 0 waits 11.396 ms
// in total (11.250 ms of it while rank 1 is late), rank 1 2.452 ms; waiting is 55 % of all
// SendRecv time. In the two 3.2-3.3 ms gaps before rank 1 arrives its GPU runs ~1.9 ms of
// small compute kernels (elementwise_kernel most, 0.66 ms; nvjet GEMMs, layer norm): compute.
TEST(SyncAlignReal, NsysSendRecvTwoGpusNamesRankOneLate) {
  auto run = import_real({"nsys/nsys_ai_mfu_2gpu_before.sqlite"}, "align_mfu");
  auto r = analyze(run);
  const auto& m = gs_metrics(r);
  EXPECT_EQ(m.at("aligned_by_order").get<int>(), 33);
  EXPECT_EQ(m.at("aligned_by_id").get<int>(), 0);
  EXPECT_EQ(m.at("refused").get<int>(), 0);
  EXPECT_NEAR(rank_wait_ms(r, 0), 11.395541, 1e-6);
  EXPECT_NEAR(rank_wait_ms(r, 1), 2.451989, 1e-6);
  const Finding* gs = only_of_kind(r, FindingKind::GlobalSync);
  ASSERT_TRUE(gs);
  const auto& f = *gs;
  EXPECT_EQ(f.ranks, std::vector<int>{1});
  EXPECT_EQ(f.evidence.at("late_rank").get<int>(), 1);
  EXPECT_EQ(f.evidence.at("late_in").get<int>(), 18);
  EXPECT_EQ(f.evidence.at("sync_instances").get<int>(), 20);
  EXPECT_NEAR(f.evidence.at("others_wait_ms").get<double>(), 11.249812, 1e-6);
  EXPECT_NEAR(f.evidence.at("wait_share_of_comm_pct").get<double>(), 54.514, 0.01);
  EXPECT_EQ(f.evidence.at("late_rank_before_arrival"), "compute");
  EXPECT_EQ(f.evidence.at("late_rank_doing"), "elementwise_kernel");
  // The worst instance is one of the two ~3.3 ms gaps.
  EXPECT_GT(f.evidence.at("worst_instances").at(0).at("arrival_spread_ms").get<double>(), 3.2);
  // Sized on the run: 11.25 ms of ~299 ms traced per rank.
  EXPECT_NEAR(f.estimated_gain_pct, 100 * 11.249812 / 299.3, 0.2);
  // The only finding on this trace leads the list.
  EXPECT_EQ(r.findings.front().kind, FindingKind::GlobalSync);
}

// Two ranks of a 128-rank Kineto job (HTA trace_filter test data, sampled: most events were
// dropped). Ten ncclKernel_SendRecv kernels per rank on streams 84 and 203, no collective
// metadata. By hand, only five pairs of same-stream kernels overlap in time (rank 0's 2nd,
// 3rd, 5th, 9th, 10th with rank 1's 1st, 3rd, 5th, 9th, 10th; they end within 0.4 ms of each
// other); the other ten kernels overlap nothing on the other rank: the n-th rule alone
// would have paired them wrongly. Rank 1 starts later in all five; rank 0 waits 32.017 ms
// (22.3 ms of it in the 9th), rank 1 0.248 ms.
TEST(SyncAlignReal, KinetoSampledPairAlignsOnlyOverlappingKernels) {
  auto run = import_real({"kineto/hta_sampled_rank0of128.json.gz", "kineto/hta_sampled_rank1of128.json.gz"}, "align_hta");
  auto r = run_analysis(analyze_global_sync, run);
  const auto& m = gs_metrics(r);
  EXPECT_EQ(m.at("aligned_by_order").get<int>(), 5);
  EXPECT_EQ(m.at("refused").get<int>(), 10);
  EXPECT_NEAR(rank_wait_ms(r, 0), 32.017032, 1e-3);
  EXPECT_NEAR(rank_wait_ms(r, 1), 0.248032, 1e-3);
  for (const auto& row : m.at("per_rank"))
    EXPECT_EQ(row.at("arrived_last").get<int>(), row.at("rank").get<int>() == 1 ? 5 : 0);
}

// Synth ground truth: rank 3 computes 1.6x; every all-to-all and all-reduce waits for it.
TEST(SyncAlignSynth, LateRankIsNamedWithoutSequenceNumbers) {
  const RunData& full = synth_run("straggler:3");
  RunData noseq = full;
  for (auto& o : noseq.nccl_ops) o.seq = -1;
  RunData kernels_only = full;
  kernels_only.nccl_ops.clear();
  struct Case {
    const RunData* run;
    const char* a2a;  // the all-to-all's function as the alignment sees it
    const char* by;
  } cases[] = {{&full, "AllToAll", "aligned_by_id"}, {&noseq, "AllToAll", "aligned_by_order"},
               {&kernels_only, "SendRecv", "aligned_by_order"}};
  for (const auto& c : cases) {
    auto r = analyze(*c.run);
    const auto& m = gs_metrics(r);
    EXPECT_EQ(m.at(c.by).get<int>(), 360) << c.a2a;  // 20 steps x (2 layers x 8 chunks + 2 buckets)
    EXPECT_EQ(m.at("refused").get<int>(), 0);
    auto n = note_with(r, std::string("waiting ") + c.a2a);
    EXPECT_NE(n.find("global_sync: rank 3 arrives last in 100%"), std::string::npos) << n;
    const Finding* st = only_of_kind(r, FindingKind::Straggler);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->ranks, std::vector<int>{3});
    EXPECT_TRUE(of_kind(r, FindingKind::GlobalSync).empty()) << "the straggler finding owns the wait";
    // Without the stragglers analysis, global_sync names the rank itself, with its cause.
    auto alone = run_analysis(analyze_global_sync, *c.run);
    bool named = false;
    for (const auto* f : of_kind(alone, FindingKind::GlobalSync))
      if (f->evidence.value("cause", "") == "late rank" && f->evidence.at("func") == c.a2a) {
        named = true;
        EXPECT_EQ(f->ranks, std::vector<int>{3});
        EXPECT_EQ(f->evidence.at("late_rank_before_arrival"), "compute");
        EXPECT_GT(f->estimated_gain_pct, 1.0);
      }
    EXPECT_TRUE(named) << c.a2a;
  }
}

TEST(SyncAlign, CallsThatDoNotOverlapAreRefused) {
  // Rank 1's calls all start after rank 0's matching ones ended: no plausible pairing.
  auto run = two_rank_kernels({{0, 100}, {1000, 1100}}, {{200, 300}, {1200, 1300}});
  auto r = run_analysis(analyze_global_sync, run);
  EXPECT_EQ(gs_metrics(r).at("aligned").get<int>(), 0);
  EXPECT_EQ(gs_metrics(r).at("refused").get<int>(), 4);
  EXPECT_TRUE(has_note(r, "not enough data: global_sync"));
}

TEST(SyncAlign, MissingCallOnOneRankCostsOnlyThatCall) {
  // Rank 1's trace lacks rank 0's first call; the rest pairs up (by overlap, not n-th).
  std::vector<std::array<std::int64_t, 2>> r0, r1;
  for (int i = 0; i < 6; ++i) r0.push_back({i * 10'000'000, i * 10'000'000 + 3'000'000});
  for (int i = 1; i < 6; ++i) r1.push_back({i * 10'000'000 + 2'900'000, i * 10'000'000 + 3'000'000});
  auto run = two_rank_kernels(r0, r1);
  auto r = run_analysis(analyze_global_sync, run);
  EXPECT_EQ(gs_metrics(r).at("aligned_by_order").get<int>(), 5);
  EXPECT_EQ(gs_metrics(r).at("refused").get<int>(), 1);
  EXPECT_NEAR(rank_wait_ms(r, 0), 5 * 2.9, 1e-9);
  EXPECT_NEAR(rank_wait_ms(r, 1), 0.0, 1e-9);
  const Finding* gs = only_of_kind(r, FindingKind::GlobalSync);
  ASSERT_TRUE(gs);
  EXPECT_EQ(gs->ranks, std::vector<int>{1});
  EXPECT_EQ(gs->evidence.at("late_rank_before_arrival"), "gpu_idle");  // nothing ran on rank 1 before
}

TEST(SyncAlign, DifferentElementCountsAreRefused) {
  Builder b;
  b.rank(0), b.rank(1);
  auto op = [&](int r, std::int64_t s, std::int64_t e, std::int64_t count) {
    NcclOpRow o;
    o.rank = RankId(r);
    o.func = "AllReduce";
    o.pg_name = "0";
    o.count = count;
    o.start_ns = s, o.end_ns = e;
    b.d.nccl_ops.push_back(o);
  };
  op(0, 0, 1000, 64), op(1, 100, 1000, 64);     // same count: aligned
  op(0, 2000, 3000, 64), op(1, 2100, 3000, 32);  // overlap but counts differ: refused
  auto run = b.done();
  auto r = run_analysis(analyze_global_sync, run);
  EXPECT_EQ(gs_metrics(r).at("aligned_by_order").get<int>(), 1);
  EXPECT_EQ(gs_metrics(r).at("refused").get<int>(), 2);
  EXPECT_GE(gs_metrics(r).at("refused_count_mismatch").get<int>(), 1);
}

TEST(SyncAlign, PointToPointPairsSenderAndReceiverByPeer) {
  // Pipeline: rank 0 sends to 1 and rank 1 to 2, at the same times; each receiver is late
  // by 1 ms in its own pair. Pairing by peer keeps the two transfers apart.
  Builder b;
  for (int r = 0; r < 3; ++r) b.rank(r);
  auto op = [&](int r, const char* func, int peer, std::int64_t s, std::int64_t e) {
    b.p2p(r, func, peer, 1024, s, e);
  };
  for (int i = 0; i < 4; ++i) {
    std::int64_t t = i * 10'000'000;
    op(0, "Send", 1, t, t + 1'200'000);
    op(1, "Recv", 0, t + 1'000'000, t + 1'200'000);
    op(1, "Send", 2, t + 1'300'000, t + 2'500'000);
    op(2, "Recv", 1, t + 2'300'000, t + 2'500'000);
  }
  auto run = b.done();
  auto r = run_analysis(analyze_global_sync, run);
  EXPECT_EQ(gs_metrics(r).at("aligned_by_order").get<int>(), 8);
  EXPECT_EQ(gs_metrics(r).at("refused").get<int>(), 0);
  EXPECT_NEAR(rank_wait_ms(r, 0), 4 * 1.0, 1e-9);
  EXPECT_NEAR(rank_wait_ms(r, 1), 4 * 1.0, 1e-9);
  EXPECT_NEAR(rank_wait_ms(r, 2), 0.0, 1e-9);
}

// Synthetic Kineto traces (written here): PyTorch's "Seq" on NCCL kernels is kept as the
// op's sequence number for collectives, so instances align by (process group, seq) even
// when one rank's trace starts one collective later.
TEST(SyncAlign, KinetoSeqAlignsById) {
  auto write = [](int rank, const std::vector<int>& seqs) {
    auto p = tmpdir() / ("kineto_seq_r" + std::to_string(rank) + ".json");
    std::string ev;
    for (int s : seqs) {
      if (!ev.empty()) ev += ",";
      long ts = 1000 + s * 1000 + (rank == 1 ? 100 : 0);
      ev += R"j({"ph":"X","cat":"kernel","name":"ncclDevKernel_AllReduce_Sum_f32_RING_LL",)j"
            R"j("pid":0,"tid":7,"ts":)j" + std::to_string(ts) + R"j(,"dur":)j" + std::to_string(rank == 1 ? 400 : 500) +
            R"j(,"args":{"device":0,"stream":7,"correlation":)j" + std::to_string(10 + s) +
            R"j(,"Collective name":"allreduce","dtype":"Float","In msg nelems":1024,"Out msg nelems":1024,)j"
            R"j("Group size":2,"Process Group Name":"0","Seq":)j" + std::to_string(s) + "}}";
    }
    std::ofstream(p) << R"j({"distributedInfo":{"backend":"nccl","rank":)j" << rank
                     << R"j(,"world_size":2},"traceEvents":[)j" << ev << "]}";
    return p;
  };
  auto a = write(0, {0, 1, 2}), b = write(1, {1, 2});
  RunData run = import_run({a, b}, "kineto_seq");
  int with_seq = 0;
  for (const auto& o : run.nccl_ops) with_seq += o.seq >= 0;
  EXPECT_EQ(with_seq, 5);
  auto r = run_analysis(analyze_global_sync, run);
  EXPECT_EQ(gs_metrics(r).at("aligned_by_id").get<int>(), 2);
  EXPECT_EQ(gs_metrics(r).at("aligned_by_order").get<int>(), 0);
  EXPECT_NEAR(rank_wait_ms(r, 0), 2 * 0.1, 1e-9);  // rank 1 arrives 100 us later, same end
}

TEST(SyncAlign, SmallSendMayFinishBeforeItsReceiveStarts) {
  // Rank 0 sends 3 small messages to rank 1; each send completes at once (copied into the
  // peer's buffer) and rank 1 posts its receive later: no overlap, still a pair (causal:
  // the receive ends after the send started). Rank 1 also has a stray receive that ended
  // before any send started: refused.
  Builder b;
  b.rank(0), b.rank(1);
  auto op = [&](int r, const char* func, int peer, std::int64_t s, std::int64_t e) {
    b.p2p(r, func, peer, 256, s, e);
  };
  op(1, "Recv", 0, 0, 50'000);
  for (int i = 1; i <= 3; ++i) {
    std::int64_t t = i * 10'000'000;
    op(0, "Send", 1, t, t + 20'000);
    op(1, "Recv", 0, t + 2'000'000, t + 2'030'000);
  }
  auto run = b.done();
  auto r = run_analysis(analyze_global_sync, run);
  EXPECT_EQ(gs_metrics(r).at("aligned_by_order").get<int>(), 3);
  EXPECT_EQ(gs_metrics(r).at("refused").get<int>(), 1);
  EXPECT_NEAR(rank_wait_ms(r, 1), 3 * 0.010, 1e-9);  // 30 us receive vs 20 us send
}

// The recorded 4x H200 runs carry the NCCL plugin's communicator and sequence numbers:
// everything aligns by id (48 exchange rounds: 1 all-reduce + 47 all-to-all rounds of
// grouped send/recv), nothing by order, nothing refused, and the findings stay those of
// the stragglers analysis (rank 3 and rank 0 named there; no global_sync finding).
TEST(SyncAlignReal, RecordedFixturesAlignById) {
  for (const char* name : {"h200x4_moe_nccl.moetune", "h200x4_moe_nccl_v2.moetune"}) {
    auto run = RunData::load(std::filesystem::path(MOETUNE_TEST_DATA) / "recorded" / name);
    ASSERT_TRUE(run) << name;
    auto r = analyze(*run);
    const auto& m = gs_metrics(r);
    EXPECT_EQ(m.at("aligned_by_id").get<int>(), 48) << name;
    EXPECT_EQ(m.at("aligned_by_order").get<int>(), 0) << name;
    EXPECT_EQ(m.at("refused").get<int>(), 0) << name;
    EXPECT_TRUE(of_kind(r, FindingKind::GlobalSync).empty()) << name;
    std::set<int> stragglers;
    for (const auto* f : of_kind(r, FindingKind::Straggler)) stragglers.insert(f->ranks.begin(), f->ranks.end());
    EXPECT_EQ(stragglers, (std::set<int>{0, 3})) << name;
  }
}
