// SPDX-License-Identifier: Apache-2.0
// moetune synth: determinism, store consistency, and the ground truth of every
// injection measured from the store with plain SQL (README.md numbers).
#include <gtest/gtest.h>

#include "common/expect_rows.h"
#include "moetune/trace/link_rates.h"
#include "synth_support.h"

namespace moetune::test {
namespace {

synth::Options small(const std::string& inject = "", const std::string& topo = "") {
  synth::Options o;
  o.steps = 6;
  o.inject = inject;
  o.topology = topo;
  return o;
}

// The run's routing rows (TraceReader::expert_routing, format 3 stores them as lists) as
// the TEMP table expert_routing, for the SQL checks below.
void routing_table(TraceReader& r) {
  ASSERT_TRUE(r.db().exec("CREATE TEMP TABLE expert_routing(step, layer, rank, expert, tokens, time_ns)"));
  auto ins = r.db().prepare("INSERT INTO expert_routing VALUES(?,?,?,?,?,?)");
  ASSERT_TRUE(ins);
  for (const auto& e : test::rows(r.expert_routing()))
    ins->bind(1, e.step).bind(2, e.layer).bind(3, e.rank.value).bind(4, e.expert).bind(5, e.tokens).bind(6, e.time_ns).exec();
}

// All event content of a run as one string (ordered, ids excluded where they are row ids).
std::string dump(TraceReader& r) {
  static const char* const queries[] = {
      "SELECT rank,stream,start_ns,dur_ns,name_id,correlation,grid,block FROM kernels ORDER BY rank,start_ns,id",
      "SELECT rank,tid,start_ns,dur_ns,name_id,kind,correlation FROM api_calls ORDER BY id",
      "SELECT rank,tid,start_ns,dur_ns,name_id,domain_id FROM nvtx ORDER BY id",
      "SELECT rank,comm_hash,seq,func,algo,proto,channels,count,dtype,bytes,nranks,enqueue_ns,start_ns,end_ns,"
      "in_splits,out_splits FROM nccl_ops ORDER BY id",
      "SELECT step,layer,rank,time_ns,n,expert0,experts,tokens FROM expert_counts ORDER BY rowid",
      "SELECT * FROM expert_placement ORDER BY rowid", "SELECT * FROM topology ORDER BY rowid",
      "SELECT * FROM topology_domains ORDER BY id", "SELECT * FROM topology_domain_gpus ORDER BY domain, idx",
      "SELECT * FROM steps ORDER BY rowid", "SELECT * FROM ranks ORDER BY rank",
      "SELECT * FROM strings ORDER BY id"};
  std::string out;
  for (const char* q : queries) {
    auto st = r.db().prepare(q);
    EXPECT_TRUE(st.ok()) << q;
    while (st->step()) {
      for (int c = 0; c < 16; ++c) out += st->text(c) + "|";
      out += "\n";
    }
  }
  return out;
}

TEST(Synth, SameArgumentsGiveIdenticalContentAndSeedChangesIt) {
  auto a = open_run(make_run("det_a", small("straggler:2,hot_experts_slow_rank")));
  auto b = open_run(make_run("det_b", small("straggler:2,hot_experts_slow_rank")));
  auto o = small("straggler:2,hot_experts_slow_rank");
  o.seed = 2;
  auto c = open_run(make_run("det_c", o));
  std::string da = dump(*a);
  EXPECT_GT(da.size(), 100000u);
  EXPECT_EQ(da, dump(*b));
  EXPECT_NE(da, dump(*c));
}

TEST(Synth, CleanRunIsConsistentAndLabelled) {
  auto r = open_run(make_run("clean", small()));
  auto meta = test::rows(r->meta());
  EXPECT_EQ(meta["synthetic"], "1");
  // counts and time range the writer recorded at finish() equal a full scan
  for (const char* t : {"kernels", "api_calls", "nvtx", "nccl_ops", "steps"})
    EXPECT_EQ(test::rows(r->counts()).get(t), scalar(*r, std::string("SELECT count(*) FROM ") + t)) << t;
  // format 3: routing entries are counted in expert_counts.n, GPU pairs through the view
  EXPECT_EQ(test::rows(r->counts()).get("expert_routing"), scalar(*r, "SELECT sum(n) FROM expert_counts"));
  EXPECT_EQ(test::rows(r->counts()).get("expert_routing"), static_cast<double>(test::rows(r->expert_routing()).size()));
  EXPECT_EQ(test::rows(r->counts()).get("topology"), scalar(*r, "SELECT count(*) FROM topology_pairs"));
  auto [lo, hi] = test::rows(r->time_range());
  EXPECT_EQ(lo, scalar(*r, "SELECT min(s) FROM (SELECT min(start_ns) s FROM kernels UNION ALL SELECT min(start_ns) "
                           "FROM api_calls UNION ALL SELECT min(start_ns) FROM nvtx)"));
  EXPECT_EQ(hi, scalar(*r, "SELECT max(e) FROM (SELECT max(start_ns+dur_ns) e FROM kernels UNION ALL SELECT "
                           "max(start_ns+dur_ns) FROM api_calls UNION ALL SELECT max(start_ns+dur_ns) FROM nvtx)"));
  EXPECT_EQ(meta["source"], "synth");
  // every kernel has exactly one cudaLaunchKernel with its correlation id on its rank
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM kernels k JOIN api_calls a ON a.rank=k.rank AND "
                       "a.correlation=k.correlation AND a.start_ns < k.start_ns"),
            scalar(*r, "SELECT count(*) FROM kernels"));
  // 96 compute kernels + 2 layers x 8 all-to-all chunks + 2 all-reduce buckets per rank per step
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM kernels WHERE rank=3"), 6 * (96 + 16 + 2));
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops n JOIN kernels k ON k.id=n.kernel_id AND k.rank=n.rank AND "
                       "k.start_ns=n.start_ns"),
            scalar(*r, "SELECT count(*) FROM nccl_ops"));
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops WHERE func='AllToAll' AND dtype='BFloat16' AND stream=13"),
            8 * 6 * 16);
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops WHERE func='AllReduce' AND algo='Ring'"), 8 * 6 * 2);
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM topology_pairs WHERE link='NV18' AND bandwidth_gbps=478.125"), 28);  // 18 x 26.5625
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM topology_domain_gpus"), 8);  // one NVLink host: one row per GPU
  routing_table(*r);
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM steps WHERE tokens=4096"), 48);
  // no kernels overlap on one stream of one rank
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM kernels a JOIN kernels b ON a.rank=b.rank AND a.stream=b.stream AND "
                       "b.start_ns > a.start_ns AND b.start_ns < a.start_ns + a.dur_ns"),
            0);
  // balanced routing: every rank receives 12.5 % +- 2 % of the tokens
  EXPECT_LT(scalar(*r, "SELECT max(t) * 1.0 / sum(t) FROM (SELECT p.rank r, sum(x.tokens) t FROM expert_routing x "
                       "JOIN expert_placement p ON p.layer=x.layer AND p.expert=x.expert GROUP BY p.rank)"),
            0.145);
  // dispatch chunks are hidden: every all-to-all kernel overlaps a compute kernel on the same rank
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM kernels c WHERE c.stream=13 AND NOT EXISTS (SELECT 1 FROM kernels k "
                       "WHERE k.rank=c.rank AND k.stream=7 AND k.start_ns < c.start_ns + c.dur_ns AND "
                       "k.start_ns + k.dur_ns > c.start_ns)"),
            0);
}

// Bus bandwidth of the fastest all-to-all instance relative to the link ceiling:
// largest per-rank payload / min duration across ranks x (n-1)/n ... x N/(N-1) cancels with algbw.
double a2a_busbw_fraction(TraceReader& r, double ceiling) {
  return scalar(r,
                "SELECT avg(bw) FROM (SELECT max(bytes) * 7.0 / 8 / min(end_ns - start_ns) AS bw FROM nccl_ops "
                "WHERE func='AllToAll' GROUP BY comm_hash, seq)") /
         ceiling;
}

// Clean: NCCL's achievable fraction of the raw NV18 rate (link_rates.h: 0.69 x 478.125);
// slow_link: 0.10 x that.
TEST(Synth, BandwidthIsTheAchievableFractionOfCeilingAndSlowLinkTen) {
  const double raw = 18 * moetune::links::kNvlink4PerLinkGbps, ach = moetune::links::kNvlinkAchievable.fraction;
  auto clean = open_run(make_run("bw_clean", small()));
  EXPECT_NEAR(a2a_busbw_fraction(*clean, raw), ach, 0.03);
  auto slow = open_run(make_run("bw_slow", small("slow_link")));
  EXPECT_NEAR(a2a_busbw_fraction(*slow, raw), 0.10 * ach, 0.01);
}

TEST(Synth, Fp32DispatchDoublesBytesAndSaysFloat) {
  auto r = open_run(make_run("fp32", small("fp32_dispatch")));
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops WHERE func='AllToAll' AND dtype<>'Float'"), 0);
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops WHERE func='AllToAll' AND bytes <> count * 4"), 0);
}

TEST(Synth, TreeSyncMakesMostRanksWaitAndFirstCallSlow) {
  auto r = open_run(make_run("tree", small("tree_sync")));
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops WHERE func='AllReduce' AND algo='Tree' AND proto='LL'"), 48);
  EXPECT_GE(scalar(*r, "SELECT min(end_ns-start_ns) FROM nccl_ops WHERE func='AllReduce' AND seq=0"), 40e6);
  // in every later instance at least 6 of 8 ranks wait > 100 us beyond the transfer (min duration)
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM (SELECT n.seq, sum(n.end_ns-n.start_ns > m.d + 100000) w FROM nccl_ops n "
                       "JOIN (SELECT seq, min(end_ns-start_ns) d FROM nccl_ops WHERE func='AllReduce' GROUP BY seq) m "
                       "ON m.seq=n.seq WHERE n.func='AllReduce' AND n.seq>0 GROUP BY n.seq) WHERE w >= 6"),
            5);
}

TEST(Synth, HotExpertsLiveOnTheSlowestRank) {
  auto r = open_run(make_run("hot", small("hot_experts_slow_rank", "nvlink:4,pcie:2,net:2")));
  EXPECT_EQ(test::rows(r->meta())["synth.slowest_rank"], "7");
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM expert_placement WHERE rank=7 AND expert IN (0,1,2)"), 3 * 2);
  routing_table(*r);
  double share = scalar(*r, "SELECT sum(x.tokens) * 1.0 / (SELECT sum(tokens) FROM expert_routing) FROM "
                            "expert_routing x JOIN expert_placement p ON p.layer=x.layer AND p.expert=x.expert "
                            "WHERE p.rank=7");
  EXPECT_NEAR(share, 0.62, 0.03);
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM topology_pairs WHERE link='NET' AND bandwidth_gbps=12.5"), 2 * 6);
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM topology_pairs WHERE link='PHB'"), 1);
}

TEST(Synth, StragglerComputesSixtyPercentLonger) {
  auto r = open_run(make_run("strag", small("straggler:5")));
  double slow = scalar(*r, "SELECT sum(dur_ns) FROM kernels WHERE rank=5 AND stream=7 AND name_id IN (SELECT id FROM "
                           "strings WHERE value LIKE 'flash%' OR value LIKE '%layer_norm%')");
  double other = scalar(*r, "SELECT sum(dur_ns) FROM kernels WHERE rank=4 AND stream=7 AND name_id IN (SELECT id FROM "
                            "strings WHERE value LIKE 'flash%' OR value LIKE '%layer_norm%')");
  EXPECT_NEAR(slow / other, 1.6, 0.05);
}

TEST(Synth, HostSyncAndGpuIdleLeaveGapsOnTheirRankOnly) {
  auto r = open_run(make_run("hsync", small("host_sync:3")));
  auto syncs = [&](const std::string& ranks) {
    return scalar(*r, "SELECT count(*) FROM api_calls a JOIN strings s ON s.id=a.name_id WHERE "
                      "s.value='cudaDeviceSynchronize' AND a.rank" + ranks);
  };
  EXPECT_EQ(syncs("=3"), 6);
  EXPECT_EQ(syncs("<>3"), 0);
  auto g = open_run(make_run("idle", small("gpu_idle:2")));
  // largest gap between consecutive kernels (any stream) on a rank
  auto gap = [&](int rank) {
    return scalar(*g, "SELECT max(s - e) FROM (SELECT start_ns s, max(start_ns + dur_ns) OVER (ORDER BY start_ns ROWS "
                      "BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) e FROM kernels WHERE rank=" +
                          std::to_string(rank) + ")");
  };
  EXPECT_GT(gap(2), 4.5e6);
  EXPECT_LT(gap(0), 0.5e6);
}

TEST(Synth, NoOverlapPutsAllToAllOnTheComputeStream) {
  auto r = open_run(make_run("noov", small("no_overlap")));
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops WHERE stream<>7"), 0);
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops WHERE func='AllToAll'"), 8 * 6 * 4);
}

// memcpy_bound: one 64 MiB H2D copy per rank and step on the compute stream at 12 GB/s,
// launched by cudaMemcpyAsync; the step's first kernel waits for it.
TEST(Synth, MemcpyBoundCopiesTheBatchEveryStep) {
  auto r = open_run(make_run("mcpy", small("memcpy_bound")));
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM memcpys WHERE kind=1 AND bytes=67108864 AND stream=7"), 8 * 6);
  EXPECT_NEAR(scalar(*r, "SELECT avg(bytes * 1.0 / dur_ns) FROM memcpys"), 12.0, 0.01);
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM api_calls a JOIN strings s ON s.id=a.name_id WHERE "
                       "s.value='cudaMemcpyAsync'"),
            8 * 6);
  // no kernel on the compute stream runs while the copy does
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM memcpys m JOIN kernels k ON k.rank=m.rank AND k.stream=7 AND "
                       "k.start_ns < m.start_ns + m.dur_ns AND k.start_ns + k.dur_ns > m.start_ns"),
            0);
  auto clean = open_run(make_run("mcpy_clean", small()));
  EXPECT_EQ(scalar(*clean, "SELECT count(*) FROM memcpys"), 0);
}

// launch_bound: 80 us of host time before every launch: consecutive launches of a rank
// start >= 80 us apart, and the GPU of rank 0 is busy under half of its steps.
TEST(Synth, LaunchBoundSpacesLaunchesAndStarvesTheGpu) {
  auto r = open_run(make_run("launch", small("launch_bound")));
  EXPECT_GE(scalar(*r, "SELECT min(d) FROM (SELECT start_ns - lag(start_ns) OVER (PARTITION BY rank ORDER BY start_ns) "
                       "d FROM api_calls) WHERE d IS NOT NULL"),
            80000);
  double busy = scalar(*r, "SELECT sum(dur_ns) FROM kernels WHERE rank=0 AND stream=7");
  double steps = scalar(*r, "SELECT sum(end_ns - start_ns) FROM steps WHERE rank=0");
  EXPECT_LT(busy / steps, 0.5);
  auto clean = open_run(make_run("launch_clean", small()));
  EXPECT_GT(scalar(*clean, "SELECT sum(dur_ns) FROM kernels WHERE rank=0 AND stream=7") /
                scalar(*clean, "SELECT sum(end_ns - start_ns) FROM steps WHERE rank=0"),
            0.8);
}

// fp32_grad_allreduce: the two gradient all-reduce buckets in Float (16 Mi elements, 64 MiB),
// kernel ..._f32_RING_LL, both after the last backward kernel (exposed).
TEST(Synth, Fp32GradAllReduceIsFloatAndAfterTheBackward) {
  auto r = open_run(make_run("fp32ar", small("fp32_grad_allreduce")));
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops WHERE func='AllReduce' AND dtype='Float' AND bytes=67108864"),
            8 * 6 * 2);
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops WHERE func='AllReduce' AND dtype<>'Float'"), 0);
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM strings WHERE value LIKE 'ncclDevKernel_AllReduce_Sum_f32_RING_LL%'"), 1);
  // no compute kernel overlaps an all-reduce (nothing hides it)
  EXPECT_EQ(scalar(*r, "SELECT count(*) FROM nccl_ops o JOIN kernels k ON k.rank=o.rank AND k.stream=7 AND "
                       "k.start_ns < o.end_ns AND k.start_ns + k.dur_ns > o.start_ns WHERE o.func='AllReduce'"),
            0);
}

TEST(Synth, EventsTargetIsMetWithinTenPercent) {
  synth::Options o;
  o.ranks = 4, o.steps = 5, o.events = 200000;
  o.topology = "sxm-no-nvlink:4";
  auto s = synth::generate_file(temp_path("events.moetune"), o, true);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_NEAR(static_cast<double>(s->events()), 200000.0, 20000.0);
}

TEST(Synth, BadOptionsNameWhatIsWrong) {
  EXPECT_FALSE(synth::parse_topology("nvlink:4,pcie:2", 8).ok());
  EXPECT_NE(synth::parse_topology("nvlink:4,pcie:2", 8).error().message.find("--ranks is 8"), std::string::npos);
  EXPECT_FALSE(synth::parse_topology("infiniband:8", 8).ok());
  EXPECT_FALSE(synth::parse_topology("nvlink:x", 8).ok());
  EXPECT_FALSE(synth::parse_injections("straggler:9", 8).ok());
  EXPECT_FALSE(synth::parse_injections("bogus", 8).ok());
  EXPECT_FALSE(synth::parse_injections("slow_link:2", 8).ok());
  auto ok = synth::parse_injections("straggler,host_sync:4,gpu_idle", 8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok->straggler, 1);
  EXPECT_EQ(*ok->host_sync, 4);
  EXPECT_EQ(*ok->gpu_idle, 0);
  synth::Options o;
  o.top_k = 40;
  EXPECT_FALSE(synth::validate(o).ok());
}

}  // namespace
}  // namespace moetune::test
