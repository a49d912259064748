// SPDX-License-Identifier: Apache-2.0
// Fuzz entry for the analyzers on stores: the input bytes are a recipe of rows (ranks,
// kernels, API calls, NVTX, NCCL ops, steps, expert routing and placement, topology,
// strings) whose values come from a table of hostile numbers (INT_MIN, INT_MAX, -1,
// 2^31, 2^40, INT64 extremes, huge counts) or the raw bytes. The rows are written with
// TraceWriter, damaged with SQL (string ids moved, cached counts, end < start), then the
// run is loaded the way every command loads it (RunData::load) and every analysis, the
// reports (text, markdown, html, json), the profile, the placement plan and the diff run
// on it. Any crash, sanitizer report or abort is a bug; a refused store is fine but its
// error must name the file.
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "common/scratch_dir.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/diff.h"
#include "moetune/analyzers/placement.h"
#include "moetune/analyzers/profile.h"
#include "moetune/analyzers/report.h"
#include "moetune/trace/writer.h"

namespace {

namespace fs = std::filesystem;
using namespace moetune;

// Reads the recipe: bytes -> small choices and hostile values.
struct Recipe {
  const std::uint8_t* p;
  std::size_t n, i = 0;
  bool more() const { return i < n; }
  std::uint8_t u8() { return i < n ? p[i++] : 0; }
  std::int64_t raw64() {
    std::uint64_t v = 0;
    for (int k = 0; k < 8; ++k) v = (v << 8) | u8();
    return static_cast<std::int64_t>(v);
  }
  // Mostly small ids (real-looking), sometimes a hostile one.
  std::int64_t id() {
    static const std::int64_t hostile[] = {-1,         INT_MIN,     INT_MAX,     INT_MAX - 1LL, 1LL << 31,
                                           1LL << 40,  1000000,     268435455,   INT64_MIN,     INT64_MAX,
                                           -(1LL << 40), 65536};
    std::uint8_t b = u8();
    if (b < 200) return b % 8;
    if (b < 250) return hostile[b % (sizeof hostile / sizeof hostile[0])];
    return raw64();
  }
  // Times: ordered-looking values, or extremes.
  std::int64_t time() {
    std::uint8_t b = u8();
    if (b < 220) return static_cast<std::int64_t>(b) * 1000 + static_cast<std::int64_t>(u8()) * 7;
    // Within +-2^61 here (the writer adds start + duration); INT64 extremes come from the
    // SQL damage below, as a crafted store would hold them.
    static const std::int64_t hostile[] = {-1, 1LL << 55, -(1LL << 55), INT64_MAX / 4, INT64_MIN / 4, -5000};
    if (b < 250) return hostile[b % 6];
    return raw64() >> 4;
  }
  std::int64_t count() {
    std::uint8_t b = u8();
    if (b < 230) return b * 13;
    static const std::int64_t hostile[] = {-1, INT64_MAX, INT64_MIN, 1LL << 62, INT_MAX};
    return hostile[b % 5];
  }
  const char* name() {
    static const char* const names[] = {"gemm",          "ncclDevKernel_AllReduce_Sum_bf16_RING_LL",
                                        "ncclDevKernel_SendRecv", "dispatch", "experts", "combine",
                                        "cudaDeviceSynchronize", "cudaStreamSynchronize", "step 3",
                                        "moe.route layer=0 tokens=1,2", "", "ncclKernel_AllToAll"};
    return names[u8() % (sizeof names / sizeof names[0])];
  }
};

void build(Recipe& r, TraceWriter& w) {
  const char* funcs[] = {"AllReduce", "AllToAll", "SendRecv", "AllGather", "ReduceScatter", "Broadcast", ""};
  const char* links[] = {"NV18", "PIX", "PHB", "SYS", "NODE", "NET", "X", "NV4"};
  int rows = 0;
  while (r.more() && rows++ < 400) {
    switch (r.u8() % 11) {
      case 0: {
        RankRow k;
        k.rank = RankId(r.id());
        k.host = r.u8() % 2 ? "h0" : "h1";
        k.device = static_cast<int>(r.id());
        k.pcie_gen = r.u8() % 6;
        k.pcie_width = r.u8() % 33;
        w.add(k);
        break;
      }
      case 1:
      case 2: {
        KernelRow k;
        k.rank = RankId(r.id());
        k.stream = StreamId(r.id());
        k.start_ns = r.time();
        k.dur_ns = r.time();
        k.name = w.intern(r.name());
        w.add(k);
        break;
      }
      case 3: {
        ApiCallRow a;
        a.rank = RankId(r.id());
        a.tid = r.id();
        a.start_ns = r.time();
        a.dur_ns = r.time();
        a.name = w.intern(r.name());
        a.kind = static_cast<ApiKind>(r.u8() % 4);
        w.add(a);
        break;
      }
      case 4: {
        NvtxRow n;
        n.rank = RankId(r.id());
        n.start_ns = r.time();
        n.dur_ns = r.time();
        n.name = w.intern(r.name());
        n.domain = w.intern(r.u8() % 2 ? "moe" : "NCCL");
        w.add(n);
        break;
      }
      case 5: {
        NcclOpRow o;
        o.rank = RankId(r.id());
        o.comm_hash = r.u8() % 2 ? "c0" : "c1";
        o.seq = r.id();
        o.func = funcs[r.u8() % 7];
        o.count = r.count();
        o.bytes = r.count();
        o.peer = static_cast<int>(r.id());
        o.root = static_cast<int>(r.id());
        o.nranks = static_cast<int>(r.id());
        o.start_ns = r.time();
        o.end_ns = r.time();
        if (r.u8() % 3 == 0) o.in_splits = "[1,2,3]";
        w.add(o);
        break;
      }
      case 6: {
        StepRow s;
        s.rank = RankId(r.id());
        s.step = r.id();
        s.start_ns = r.time();
        s.end_ns = r.time();
        if (r.u8() % 2) s.tokens = r.count();
        w.add(s);
        break;
      }
      case 7:
      case 8: {
        ExpertRoutingRow e;
        e.step = r.id();
        e.layer = static_cast<int>(r.id());
        e.rank = RankId(r.id());
        e.expert = static_cast<int>(r.id());
        e.tokens = r.count();
        w.add(e);
        break;
      }
      case 9: {
        ExpertPlacementRow p;
        p.layer = static_cast<int>(r.id());
        p.expert = static_cast<int>(r.id());
        p.rank = RankId(r.id());
        p.replica = static_cast<int>(r.id());
        w.add(p);
        break;
      }
      case 10: {
        TopologyRow t;
        t.host = "h0";
        t.a = "GPU" + std::to_string(r.u8() % 9);
        t.b = "GPU" + std::to_string(r.u8() % 9);
        if (r.u8() % 2) t.rank_a = r.id();
        if (r.u8() % 2) t.rank_b = r.id();
        t.link = links[r.u8() % 8];
        if (r.u8() % 2) t.bandwidth_gbps = static_cast<double>(r.count());
        w.add(t);
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const moetune::test::ScratchDir scratch("moetune-fuzz-store", moetune::test::ScratchDir::On::Tmpfs);
  const fs::path file = scratch / "run.moetune";
  Recipe r{data, size};
  const std::uint8_t damage = r.u8();
  {
    WriterOptions wo;
    wo.force = true;
    auto w = TraceWriter::create(file, wo);
    if (!w) return 0;
    build(r, **w);
    if (!(*w)->finish()) return 0;
  }
  // Damage after the write: what a crafted or half-overwritten store looks like.
  if (damage & 0x1f) {
    auto db = Db::open(file, Db::Mode::ReadWrite);
    if (db) {
      if (damage & 1) (void)(*db)->exec("UPDATE strings SET id = id * 268435455 + 7 WHERE id % 2 = 1");
      if (damage & 2) (void)(*db)->exec("UPDATE meta SET value = 'kernels=-5 steps=99999999999' WHERE key = 'store.counts'");
      if (damage & 4) (void)(*db)->exec("UPDATE nccl_ops SET end_ns = start_ns - 10; UPDATE steps SET end_ns = -1");
      if (damage & 8) (void)(*db)->exec("DELETE FROM kernels WHERE rowid % 2 = 0");
      if (damage & 16)
        (void)(*db)->exec(
            "UPDATE kernels SET start_ns = 9223372036854775807 WHERE rowid % 3 = 0;"
            "UPDATE kernels SET dur_ns = -9223372036854775808 WHERE rowid % 3 = 1;"
            "UPDATE api_calls SET start_ns = -9223372036854775808, dur_ns = 9223372036854775807;"
            "UPDATE nvtx SET dur_ns = 9223372036854775807;"
            "UPDATE nccl_ops SET start_ns = -9223372036854775808, end_ns = 9223372036854775807 WHERE rowid % 2 = 0;"
            "UPDATE meta SET value = '-9223372036854775808 9223372036854775807' WHERE key = 'store.time_range_ns';"
            "UPDATE meta SET value = 'kernels=9223372036854775807' WHERE key = 'store.max_dur_ns'");
    }
  }
  auto run = analyzers::RunData::load(file);
  if (!run) {
    if (run.error().message.rfind(file.string() + ": ", 0) != 0) {
      std::fprintf(stderr, "error does not name the file: %s\n", run.error().message.c_str());
      std::abort();
    }
    return 0;
  }
  auto res = analyzers::analyze(*run);
  (void)analyzers::to_json(res).dump();
  (void)analyzers::report_text(*run, res);
  (void)analyzers::report_markdown(*run, res);
  (void)analyzers::report_html(*run, res);
  auto prof = analyzers::build_profile(res, file.string());
  (void)analyzers::to_json(prof).dump();
  if (prof.placement) (void)analyzers::to_json(*prof.placement).dump();
  auto sum = analyzers::summarize(*run, res);
  (void)analyzers::diff_runs(sum, sum).dump();
  return 0;
}
