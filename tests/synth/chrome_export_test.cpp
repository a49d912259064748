// SPDX-License-Identifier: Apache-2.0
// Chrome export: every track properly nested, kernel counts preserved, and the per-rank
// file round-trips through the Kineto importer (`moetune import`).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "moetune/export/chrome_export.h"
#include "moetune/trace/writer.h"
#include "synth_support.h"

namespace moetune::test {
namespace {

// Synth options for a run of `ranks` ranks and `steps` steps on `topology`.
synth::Options sized(int ranks, int steps, const std::string& topology) {
  synth::Options o;
  o.ranks = ranks;
  o.steps = steps;
  o.topology = topology;
  return o;
}

nlohmann::json load(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// Checks nesting on every (pid, tid) track; returns the number of "X" events.
std::int64_t check_nesting(const nlohmann::json& j) {
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::pair<std::int64_t, std::int64_t>>> tracks;
  auto ns = [](const nlohmann::json& v) { return static_cast<std::int64_t>(std::llround(v.get<double>() * 1000)); };
  std::int64_t n = 0;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] != "X") continue;
    ++n;
    tracks[{e["pid"].get<std::int64_t>(), e["tid"].get<std::int64_t>()}].push_back({ns(e["ts"]), ns(e["dur"])});
  }
  for (auto& [key, evs] : tracks) {
    std::stable_sort(evs.begin(), evs.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::vector<std::int64_t> stack;  // open parents' end times
    for (auto [start, dur] : evs) {
      while (!stack.empty() && stack.back() <= start) stack.pop_back();
      if (!stack.empty()) {
        EXPECT_LE(start + dur, stack.back()) << "pid " << key.first << " tid " << key.second << " event at " << start
                                             << " crosses its parent's end";
      }
      stack.push_back(start + dur);
    }
  }
  return n;
}

TEST(ChromeExport, AllRanksNestedAndEveryKernelExported) {
  synth::Options o;
  o.steps = 3;
  o.inject = "no_overlap,host_sync:1";
  auto run = make_run("export_all", o);
  auto r = open_run(run);
  auto out = temp_path("export_all.json");
  auto st = exporters::export_chrome(*r, out);
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto j = load(out);
  EXPECT_EQ(check_nesting(j), st->events);
  std::int64_t kernels = 0, ranks = 0;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] == "kernel") ++kernels;
    if (e["ph"] == "M" && e["name"] == "process_name") ++ranks;
  }
  EXPECT_EQ(kernels, r->counts()->get("kernels"));
  EXPECT_EQ(ranks, 8);
}

TEST(ChromeExport, FlowsLinkEveryLaunchToItsKernel) {
  auto r = open_run(make_run("flows", sized(2, 2, "nvlink:2")));
  auto out = temp_path("flows.json");
  exporters::ChromeExportOptions opts;
  opts.flows = true;
  auto st = exporters::export_chrome(*r, out, opts);
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto j = load(out);
  std::map<std::int64_t, double> s_ts, f_ts;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "s") s_ts[e["id"].get<std::int64_t>()] = e["ts"].get<double>();
    if (e["ph"] == "f") f_ts[e["id"].get<std::int64_t>()] = e["ts"].get<double>();
  }
  EXPECT_EQ(static_cast<std::int64_t>(s_ts.size()), r->counts()->get("kernels"));
  ASSERT_EQ(s_ts.size(), f_ts.size());
  for (const auto& [id, ts] : s_ts) EXPECT_LT(ts, f_ts[id]) << "flow " << id << " goes back in time";
  EXPECT_EQ(check_nesting(j), st->events);
}

TEST(ChromeExport, OverlappingEventsGoToExtraLanes) {
  auto path = temp_path("overlap.moetune");
  {
    auto w = TraceWriter::create(path, {.force = true});
    ASSERT_TRUE(w.ok());
    auto& tw = **w;
    RankRow rank;
    rank.rank = RankId(0);
    tw.add(rank);
    StringId k = tw.intern("kernel"), dom = tw.intern("user"), a = tw.intern("outer"), b = tw.intern("inner");
    // partial overlap on one stream, and equal starts (the longer one must be the parent)
    for (auto [s, d] : {std::pair{1000, 5000}, {4000, 5000}, {4000, 1000}, {20000, 100}, {20000, 300}}) {
      KernelRow kr;
      kr.rank = RankId(0), kr.stream = StreamId(7), kr.start_ns = s, kr.dur_ns = d, kr.name = k;
      tw.add(kr);
    }
    NvtxRow n1, n2;
    n1.rank = n2.rank = RankId(0), n1.tid = n2.tid = 99, n1.domain = n2.domain = dom;
    n1.start_ns = 0, n1.dur_ns = 10000, n1.name = a;
    n2.start_ns = 9000, n2.dur_ns = 5000, n2.name = b;  // straddles the outer range's end
    tw.add(n1);
    tw.add(n2);
    ASSERT_TRUE(tw.finish().ok());
  }
  auto r = open_run(path);
  auto out = temp_path("overlap.json");
  auto st = exporters::export_chrome(*r, out);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(check_nesting(load(out)), 7);
  EXPECT_EQ(st->extra_lanes, 2);
}

TEST(ChromeExport, PerRankFileRoundTripsThroughKinetoImport) {
  auto r = open_run(make_run("roundtrip", sized(4, 4, "nvlink:2,pcie:2")));
  auto json = temp_path("rank2.json"), back = temp_path("rank2.moetune");
  std::string cmd = std::string(MOETUNE_CLI) + " export " + r->path().string() + " --format chrome --rank 2 -o " +
                    json.string() + " --force > /dev/null && " + MOETUNE_CLI + " import " + json.string() + " -o " +
                    back.string() + " --force > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto b = open_run(back);
  EXPECT_EQ(scalar(*b, "SELECT count(*) FROM kernels"), scalar(*r, "SELECT count(*) FROM kernels WHERE rank=2"));
  EXPECT_EQ(scalar(*b, "SELECT count(*) FROM kernels WHERE stream=13"),
            scalar(*r, "SELECT count(*) FROM kernels WHERE rank=2 AND stream=13"));
  EXPECT_EQ(scalar(*b, "SELECT min(start_ns) FROM kernels"), scalar(*r, "SELECT min(start_ns) FROM kernels WHERE rank=2"));
  EXPECT_EQ(scalar(*b, "SELECT count(*) FROM nccl_ops WHERE func='AllToAll'"),
            scalar(*r, "SELECT count(*) FROM nccl_ops WHERE rank=2 AND func='AllToAll'"));
  EXPECT_EQ(scalar(*b, "SELECT rank FROM ranks"), 2);
}

TEST(ChromeExport, BadInputExitsTwoWithOneLine) {
  auto junk = temp_path("junk.moetune");
  std::ofstream(junk) << "not a run";
  std::string cmd = std::string(MOETUNE_CLI) + " export " + junk.string() + " -o " + temp_path("j.json").string() +
                    " 2>/dev/null";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  cmd = std::string(MOETUNE_CLI) + " synth -o " + temp_path("bad.moetune").string() + " --topology nvlink:3 2>/dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
}

}  // namespace
}  // namespace moetune::test
