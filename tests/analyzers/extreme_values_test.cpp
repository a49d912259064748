// SPDX-License-Identifier: Apache-2.0
// Numbers from a file at the ends of the int64 range (what fuzz_store's UBSan reports
// found): the saturating helpers, and the expert heatmap over step numbers INT64_MIN ..
// INT64_MAX (its span overflowed int64; the old code then divided by zero).
#include <gtest/gtest.h>

#include <climits>
#include <regex>

#include "../../analyzers/src/sat_math.h"
#include "anab_helpers.h"
#include "moetune/analyzers/report.h"
#include "moetune/analyzers/report_model.h"

using namespace moetune::analyzers;

TEST(ExtremeValues, SaturatingHelpers) {
  EXPECT_EQ(sat_add(INT64_MAX, 1), INT64_MAX);
  EXPECT_EQ(sat_add(INT64_MIN, -1), INT64_MIN);
  EXPECT_EQ(sat_add(40, 2), 42);
  EXPECT_EQ(sat_sub(INT64_MAX, INT64_MIN), INT64_MAX);
  EXPECT_EQ(sat_sub(INT64_MIN, 1), INT64_MIN);
  EXPECT_EQ(sat_sub(5, 7), -2);
  EXPECT_EQ(sat_from_double(9.3e18), INT64_MAX);
  EXPECT_EQ(sat_from_double(-9.3e18), INT64_MIN);
  EXPECT_EQ(sat_from_double(0.0 / 0.0), 0);
  EXPECT_EQ(sat_from_double(1234.9), 1234);
}

TEST(ExtremeValues, HeatmapOverTheWholeStepRange) {
  auto path = anab::synth("--ranks 4 --inject hot_experts_slow_rank");
  ASSERT_FALSE(path.empty());
  auto run = RunData::load(path);
  ASSERT_TRUE(run.ok()) << run.error().message;
  ASSERT_GE(run->routing.size(), 2u);
  for (auto& r : run->routing)
    if (r.layer == 0) r.step = r.step % 2 ? INT64_MAX : INT64_MIN;
  const auto result = analyze(*run);
  bool drawn = false;
  for (const auto& p : report_plots(*run, result)) {
    if (p.id != "experts_l0") continue;
    const std::string svg = plot_svg(p, *run, result);
    // 2^64 steps saturate to INT64_MAX: ceil(INT64_MAX / 120) steps per column, 120 columns at most.
    EXPECT_NE(svg.find("76861433640456466 steps a column"), std::string::npos) << svg.substr(0, 400);
    const std::regex rect_x("<rect x=\"([-0-9.e+]+)\"");
    int cells = 0;
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), rect_x); it != std::sregex_iterator(); ++it, ++cells) {
      const double x = std::stod((*it)[1].str());
      EXPECT_GE(x, 110.0);
      EXPECT_LE(x, 880.0);
    }
    EXPECT_GT(cells, 1) << "both ends of the range are drawn";
    drawn = true;
  }
  EXPECT_TRUE(drawn) << "no layer-0 expert heatmap";
}
