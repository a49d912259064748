// SPDX-License-Identifier: Apache-2.0
// Merge of per-process parts: ranks resolved per (host, pid), collisions remapped,
// rank-less launcher processes left out, a killed (unfinished) part recovered.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "common/expect_rows.h"
#include "common/scratch_dir.h"
#include "moetune/live/merge.h"
#include "moetune/trace/reader.h"

using namespace moetune;
namespace fs = std::filesystem;

namespace {

// A part as a collector writes it: one ranks row, `kernels` kernels named `kname`.
void part(const fs::path& f, std::int64_t rank, std::int64_t pid, int kernels, const char* kname,
          bool finish = true) {
  WriterOptions o;
  o.force = true;
  o.atomic = false;
  auto w = TraceWriter::create(f, o);
  ASSERT_TRUE(w);
  RankRow r;
  r.rank = RankId(rank);
  r.host = "h";
  r.pid = pid;
  r.source = "cupti";
  (*w)->add(r);
  auto name = (*w)->intern(kname);
  for (int i = 0; i < kernels; ++i) {
    KernelRow k;
    k.rank = RankId(rank < 0 ? 0 : rank);
    k.stream = StreamId(1);
    k.start_ns = 100 + i;
    k.dur_ns = 1;
    k.name = name;
    (*w)->add(k);
  }
  if (finish) ASSERT_TRUE((*w)->finish());
  else {
    ASSERT_TRUE((*w)->flush());
    (*w).release();  // leak the connection: the file stays as a killed process leaves it (WAL)
  }
}
}  // namespace

TEST(Merge, ResolvesRanksAndSkipsLaunchers) {
  const test::ScratchDir d("moetune-merge");
  part(d.path() / "a.cupti.moetune", 1, 100, 3, "k_rank1");
  part(d.path() / "a.nccl.moetune", 1, 100, 0, "unused");
  part(d.path() / "b.cupti.moetune", 0, 200, 2, "k_rank0");
  part(d.path() / "c.cupti.moetune", 1, 300, 4, "k_dup");       // claims rank 1 too
  part(d.path() / "launcher.cupti.moetune", -1, 400, 0, "none");  // torchrun agent
  part(d.path() / "killed.cupti.moetune", 5, 500, 6, "k_killed", false);
  auto out = d.path() / "run.moetune";
  {
    auto w = TraceWriter::create(out, {.force = true});
    ASSERT_TRUE(w);
    auto rep = live::merge_parts(live::find_parts(d.path()), **w);
    ASSERT_TRUE(rep) << rep.error().message;
    EXPECT_EQ(rep->ranks, 4);
    ASSERT_TRUE((*w)->finish());
  }
  auto rd = TraceReader::open(out);
  ASSERT_TRUE(rd);
  auto& r = **rd;
  std::map<std::string, std::set<std::int64_t>> by_name;
  for (const auto& k : test::rows(r.kernels())) by_name[r.str(k.name)].insert(k.rank.value);
  EXPECT_EQ(by_name["k_rank1"], std::set<std::int64_t>{1});
  EXPECT_EQ(by_name["k_rank0"], std::set<std::int64_t>{0});
  EXPECT_EQ(by_name["k_dup"], std::set<std::int64_t>{2});  // next free rank
  EXPECT_EQ(by_name["k_killed"], std::set<std::int64_t>{5});
  EXPECT_EQ(test::rows(r.counts()).get("kernels"), 15);
  std::map<std::string, std::int64_t> stats;
  for (const auto& s : test::rows(r.stats())) stats[s.name] = s.value;
  EXPECT_EQ(stats["rank_collision_remapped"], 1);
  EXPECT_EQ(stats["unranked_processes_skipped"], 1);
}

TEST(Merge, LinksNcclOpsToTheirKernels) {
  const test::ScratchDir d("moetune-merge");
  {
    WriterOptions o;
    o.force = true;
    auto w = TraceWriter::create(d.path() / "p.cupti.moetune", o);
    ASSERT_TRUE(w);
    RankRow rr;
    rr.rank = RankId(0);
    rr.host = "h";
    rr.pid = 10;
    (*w)->add(rr);
    auto add = [&](const char* name, std::int64_t start, std::int64_t dur) {
      KernelRow k;
      k.rank = RankId(0);
      k.stream = StreamId(42);
      k.start_ns = start;
      k.dur_ns = dur;
      k.name = (*w)->intern(name);
      (*w)->add(k);
    };
    add("gemm", 50, 40);
    add("ncclDevKernel_AllReduce_Sum_f32_RING_LL", 100, 100);
    ASSERT_TRUE((*w)->finish());
    auto n = TraceWriter::create(d.path() / "p.nccl.moetune", o);
    ASSERT_TRUE(n);
    (*n)->add(rr);
    NcclOpRow op;
    op.rank = RankId(0);
    op.func = "AllReduce";
    op.start_ns = 120;
    op.end_ns = 180;
    (void)(*n)->add(op);
    op.start_ns = 300;  // no kernel there
    op.end_ns = 310;
    (void)(*n)->add(op);
    ASSERT_TRUE((*n)->finish());
  }
  auto out = d.path() / "run.moetune";
  {
    auto w = TraceWriter::create(out, {.force = true});
    ASSERT_TRUE(w);
    ASSERT_TRUE(live::merge_parts(live::find_parts(d.path()), **w));
    ASSERT_TRUE((*w)->finish());
  }
  auto rd = TraceReader::open(out);
  ASSERT_TRUE(rd);
  auto ks = test::rows((*rd)->kernels());
  auto ops = test::rows((*rd)->nccl_ops());
  ASSERT_EQ(ops.size(), 2u);
  ASSERT_TRUE(ops[0].kernel_id.has_value());
  const KernelRow* k = nullptr;
  for (const auto& x : ks)
    if (x.id == *ops[0].kernel_id) k = &x;
  ASSERT_TRUE(k);
  EXPECT_EQ((*rd)->str(k->name), "ncclDevKernel_AllReduce_Sum_f32_RING_LL");
  EXPECT_EQ(ops[0].stream, 42);
  EXPECT_FALSE(ops[1].kernel_id.has_value());
}

TEST(Merge, NothingReadableIsAnError) {
  const test::ScratchDir d("moetune-merge");
  { std::FILE* f = std::fopen((d.path() / "junk.moetune").c_str(), "w"); std::fputs("not sqlite", f); std::fclose(f); }
  auto w = TraceWriter::create(d.path() / "out.moetune", {.force = true});
  ASSERT_TRUE(w);
  auto rep = live::merge_parts(live::find_parts(d.path()), **w);
  EXPECT_FALSE(rep);
}
