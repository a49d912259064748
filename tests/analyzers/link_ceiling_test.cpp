// SPDX-License-Identifier: Apache-2.0
// The link model (moetune/trace/link_rates.h) against the measured 2x H200 NVLink numbers:
// the topology imported from the real `nvidia-smi topo -m` + `nvlink --status` text gives the
// raw rate, the analyzer's ceiling is raw x the NVLink achievable fraction, and the fraction
// matches the evidence file it cites (tests/data/device/h200x2_a2a_bw.jsonl, torch
// all_to_all_single, 2 ranks). The measured sweep must not be flagged; a 4x slower one must.
// A nccl-tests baseline imported into the run takes precedence over the model.
#include <gtest/gtest.h>

#include "bandwidth_helpers.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/import/import.h"
#include "moetune/import/text_formats.h"
#include "moetune/trace/link_rates.h"

using namespace moetune;
using namespace moetune::analyzers;
using anaa::run_analysis;

namespace {

using bwtest::low_bw;

std::vector<bwtest::Point> measured() { return bwtest::sweep("h200x2_a2a_bw.jsonl"); }

// The real h200x2 topology text imported into a run, plus two ranks on GPU0/GPU1 and, per
// measured size, 3 all-to-all instances lasting time_us x slow.
RunData h200x2_run(double slow) {
  auto run = bwtest::imported(std::filesystem::path(MOETUNE_SHARED_DATA) / "device" / "h200x2_topo.txt", 2,
                              "h200x2.moetune");
  bwtest::add_sweep(run, measured(), "BFloat16", slow, 2);
  return run;
}

}  // namespace

TEST(LinkCeiling, NvlinkFractionIsTheMeasuredOneGibPoint) {
  auto pts = measured();
  ASSERT_EQ(pts.size(), 6u);
  const auto& big = pts.back();
  ASSERT_EQ(big.bytes, 1LL << 30);
  const double raw = 18 * links::kNvlink4PerLinkGbps;
  EXPECT_NEAR(big.busbw / raw, links::kNvlinkAchievable.fraction, 0.01);
  EXPECT_NE(std::string(links::kNvlinkAchievable.basis).find("h200x2_a2a_bw.jsonl"), std::string::npos);
  // The importer's per-link figure is the same constant.
  EXPECT_DOUBLE_EQ(*import::nvlink_gbps_per_link("NVIDIA H200", 18), links::kNvlink4PerLinkGbps);
  EXPECT_DOUBLE_EQ(*import::pcie_gbps(5, 16), *links::pcie_raw_gbps(5, 16));
}

TEST(LinkCeiling, H200x2TopologyGivesRawAndAchievableCeiling) {
  auto run = h200x2_run(1.0);
  ASSERT_FALSE(run.topology.empty());
  auto r = run_analysis(analyze_bandwidth, run);
  // raw = 18 links x the per-link rate the file prints (26.562 GB/s)
  const double raw = 18 * 26.562;
  const double ceiling = raw * links::kNvlinkAchievable.fraction;
  ASSERT_TRUE(r.metrics.contains("collectives"));
  int rows = 0;
  for (const auto& c : r.metrics["collectives"]) {
    ++rows;
    EXPECT_EQ(c["link"], "NV18");
    EXPECT_NEAR(c["link_raw_gbps"].get<double>(), raw, 1e-9);
    EXPECT_NEAR(c["ceiling_gbps"].get<double>(), ceiling, 1e-9);
    EXPECT_LE(c["busbw_gbps"].get<double>(), ceiling * 1.01) << c.dump();
  }
  EXPECT_EQ(rows, 6);
  EXPECT_NEAR(r.metrics["link_model"]["NV18"]["raw_gbps"].get<double>(), raw, 1e-9);
  EXPECT_EQ(low_bw(r), nullptr) << "the measured healthy sweep is not low bandwidth: " << low_bw(r)->title;
}

TEST(LinkCeiling, FourTimesSlowerIsLowAndSaysRawVsAchievable) {
  auto run = h200x2_run(4.0);
  auto r = run_analysis(analyze_bandwidth, run);
  const auto* f = low_bw(r);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->evidence["slowest_link"], "NV18");
  EXPECT_NEAR(f->evidence["link_raw_gbps"].get<double>(), 18 * 26.562, 1e-9);
  EXPECT_NEAR(f->evidence["achievable_fraction"].get<double>(), links::kNvlinkAchievable.fraction, 1e-12);
  EXPECT_NE(f->evidence["achievable_basis"].get<std::string>().find("measured"), std::string::npos);
  EXPECT_NE(f->title.find("NCCL over the NV18 link"), std::string::npos) << f->title;
}

TEST(LinkCeiling, NcclTestsBaselineTakesPrecedence) {
  // A run 3x slower than the measured sweep is low against the link model; with an imported
  // nccl-tests baseline at a third of the measured rates it matches its baseline and is not.
  auto run = h200x2_run(3.0);
  auto model = run_analysis(analyze_bandwidth, run);
  ASSERT_NE(low_bw(model), nullptr) << "3x slower than measured is low against the link model";
  for (const auto& p : measured()) {
    BenchResultRow b;
    b.source = "alltoall_perf.txt";
    b.func = "AllToAll";
    b.nranks = 2;
    b.bytes = p.bytes;
    b.busbw_gbps = p.busbw / 3.0;
    run.bench.push_back(b);
  }
  auto r = run_analysis(analyze_bandwidth, run);
  EXPECT_EQ(low_bw(r), nullptr) << "the run matches its own nccl-tests baseline";
}
