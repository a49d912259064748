// SPDX-License-Identifier: Apache-2.0
// Steady-state steps (steps.h) and what diff reports from them: the median job step time
// over steps that are not warm-up, tokens/s from the same steps, the rule said in the
// output; self-sends of grouped send/recv kept out of network traffic (diff, bandwidth,
// precision). Uses the recorded 4x H200 moe_nccl run (its command says --warmup 2) and
// hand-built runs whose answer is known by construction.
#include <gtest/gtest.h>

#include <algorithm>

#include "anab_helpers.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/diff.h"
#include "moetune/analyzers/steps.h"

using namespace moetune;
using namespace moetune::analyzers;

namespace {

const std::filesystem::path kRecorded = std::filesystem::path(MOETUNE_TEST_DATA) / "recorded" / "h200x4_moe_nccl.moetune";

// Two ranks, `n` steps of `ms` each, 1000 tokens per rank per step; step 0 lasts `first_ms`.
RunData steps_run(int n, double ms, double first_ms) {
  RunData run;
  std::int64_t t = 0;
  for (int s = 0; s < n; ++s) {
    auto dur = static_cast<std::int64_t>((s == 0 ? first_ms : ms) * 1e6);
    for (int r = 0; r < 2; ++r) run.steps.push_back({RankId(r), s, t, t + dur + r * 1000, 1000});
    t += dur + 10'000;
  }
  return run;
}

}  // namespace

TEST(SteadySteps, MarkedWarmupFromTheCommandLine) {
  auto run = steps_run(8, 2.0, 500.0);
  run.meta["command"] = "moe_nccl --steps 6 --warmup 2 --experts 8";
  auto s = steady_steps(run);
  EXPECT_EQ(s.rule, "marked");
  EXPECT_EQ(s.total, 8);
  EXPECT_EQ(s.warmup, 2);
  EXPECT_EQ(s.used(), 6);
  EXPECT_FALSE(s.is_steady(1));
  EXPECT_TRUE(s.is_steady(2));
  EXPECT_NE(s.rule_text.find("--warmup 2"), std::string::npos) << s.rule_text;
  run.meta["command"] = "torchrun x.py --warmup=3";
  EXPECT_EQ(steady_steps(run).warmup, 3);
  run.meta["warmup_steps"] = "0";  // an explicit mark wins over the command line
  EXPECT_EQ(steady_steps(run).warmup, 0);
}

TEST(SteadySteps, UnmarkedDropsTheFirstTenthAndLeadingOutliers) {
  // 20 steps: step 0 is 250x slower and step 2 4.5x; 10 % = steps 0-1, then step 2 is a leading outlier.
  auto run = steps_run(20, 2.0, 500.0);
  for (auto& st : run.steps)
    if (st.step == 2) st.end_ns = st.start_ns + 9'000'000;  // a third slow leading step
  auto s = steady_steps(run);
  EXPECT_EQ(s.rule, "first 10 % + leading outliers");
  EXPECT_EQ(s.warmup, 3) << s.rule_text;
  // A uniform run loses its first 10 % only.
  EXPECT_EQ(steady_steps(steps_run(20, 2.0, 2.0)).warmup, 2);
  // Under 10 steps and no outlier: nothing dropped.
  EXPECT_EQ(steady_steps(steps_run(5, 2.0, 2.0)).warmup, 0);
}

TEST(DiffSteps, MedianOfSteadyStepsAndTokensFromTheSameSteps) {
  // Before: a 500 ms first step then 9 x 4 ms; after: 9 x 2 ms. The mean of all steps would say
  // 53.6 ms -> 51.8; the steady median says 4 -> 2, i.e. 2x tokens/s.
  auto a = steps_run(10, 4.0, 500.0), b = steps_run(10, 2.0, 500.0);
  auto sa = summarize(a, {}), sb = summarize(b, {});
  ASSERT_TRUE(sa.step_time_ms && sb.step_time_ms);
  // job step = max over ranks: rank 1's steps are 1000 ns longer
  EXPECT_NEAR(*sa.step_time_ms, 4.001, 1e-9);
  EXPECT_NEAR(*sb.step_time_ms, 2.001, 1e-9);
  EXPECT_EQ(sa.steps_used, 9);
  EXPECT_EQ(sa.steps_total, 10);
  EXPECT_NEAR(*sa.tokens_per_s, 2000 / 4.001e-3, 1e-6);
  auto d = diff_runs(sa, sb);
  EXPECT_NEAR(d["speedup"].get<double>(), 4.001 / 2.001, 1e-9);
  EXPECT_EQ(d["steps_used"]["before"], 9);
  EXPECT_NE(d["warmup_rule"]["before"].get<std::string>().find("first 10 %"), std::string::npos)
      << d["warmup_rule"].dump();
}

TEST(DiffSteps, RecordedRunUsesItsMarkedWarmup) {
  auto run = RunData::load(kRecorded);
  ASSERT_TRUE(run.ok()) << run.error().message;
  auto s = summarize(*run, {});
  // Computed here independently: per step, max over ranks; median over steps >= 2.
  std::map<std::int64_t, std::int64_t> job;
  for (const auto& st : run->steps) job[st.step] = std::max(job[st.step], st.end_ns - st.start_ns);
  std::vector<double> v;
  for (const auto& [step, ns] : job)
    if (step >= 2) v.push_back(static_cast<double>(ns) / 1e6);
  std::sort(v.begin(), v.end());
  ASSERT_EQ(v.size(), 6u);
  double median = 0.5 * (v[2] + v[3]);
  EXPECT_DOUBLE_EQ(*s.step_time_ms, median);
  EXPECT_EQ(s.steps_used, 6);
  EXPECT_LT(*s.step_time_ms, *s.step_time_mean_ms * 1.5);
  // The first step (communicator setup) is hundreds of times the steady median: left out.
  EXPECT_GT(static_cast<double>(job[0]) / 1e6, 100 * median);
  auto cli = anab::run(std::string(MOETUNE_CLI) + " diff " + kRecorded.string() + " " + kRecorded.string());
  ASSERT_EQ(cli.rc, 0) << cli.out;
  EXPECT_NE(cli.out.find("steps used"), std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find("warm-up marked by the run (--warmup 2)"), std::string::npos) << cli.out;
}

TEST(SelfSends, DiffTrafficKeepsLocalCopiesApart) {
  auto run = RunData::load(kRecorded);
  ASSERT_TRUE(run.ok());
  double self = 0, net = 0;
  for (const auto& o : run->nccl_ops)
    if (o.func == "Send") (o.peer == o.rank.value ? self : net) += static_cast<double>(o.bytes);
  ASSERT_GT(self, 0) << "the recorded moe_nccl run sends to its own rank";
  auto s = summarize(*run, {});
  const double rows = static_cast<double>(run->steps.size());
  EXPECT_DOUBLE_EQ(s.bytes_per_step.at("Send"), net / rows);
  EXPECT_DOUBLE_EQ(s.local_bytes_per_step.at("Send"), self / rows);
  auto cli = anab::run(std::string(MOETUNE_CLI) + " diff --json " + kRecorded.string() + " " + kRecorded.string());
  ASSERT_EQ(cli.rc, 0);
  auto j = nlohmann::json::parse(cli.out);
  EXPECT_DOUBLE_EQ(j["local_bytes_per_step"]["Send"]["before"].get<double>(), self / rows);
}

TEST(SelfSends, PrecisionCountsOnlyWireBytes) {
  auto run = RunData::load(kRecorded);
  ASSERT_TRUE(run.ok());
  AnalysisResult r;
  analyze_precision(*run, {}, r);
  const Finding* f = nullptr;
  for (const auto& x : r.findings)
    if (x.kind == FindingKind::CommPrecision) f = &x;
  ASSERT_NE(f, nullptr);
  std::int64_t wire = 0, self = 0;
  for (const auto& o : run->nccl_ops)
    if (o.func == "Send" && o.dtype && (*o.dtype == "Float32" || *o.dtype == "Float"))
      (o.peer == o.rank.value ? self : wire) += o.bytes;
  EXPECT_EQ(f->evidence["alltoall_bytes_32bit"].get<std::int64_t>(), wire);
  EXPECT_EQ(f->evidence["self_send_bytes_32bit_not_counted"].get<std::int64_t>(), self);
  // Time share computed here: per rank, the union of its wide wire all-to-alls inside steady
  // steps (>= 2, the run's --warmup) over those steps' time; overlapping grouped ops count once.
  double wide = 0, step = 0;
  for (int rk = 0; rk < 4; ++rk) {
    std::vector<std::pair<std::int64_t, std::int64_t>> iv;
    for (const auto& o : run->nccl_ops)
      if (o.rank.value == rk && o.func == "Send" && o.peer != rk && o.dtype && *o.dtype == "Float32")
        iv.push_back({o.start_ns, o.end_ns});
    std::sort(iv.begin(), iv.end());
    for (const auto& s : run->steps) {
      if (s.rank.value != rk || s.step < 2) continue;
      step += static_cast<double>(s.end_ns - s.start_ns);
      std::int64_t cur = s.start_ns;
      for (auto [a, b] : iv) {
        a = std::max({a, cur, s.start_ns});
        b = std::min(b, s.end_ns);
        if (b > a) wide += static_cast<double>(b - a), cur = b;
      }
    }
  }
  ASSERT_GT(step, 0);
  EXPECT_NEAR(f->evidence["share_of_step_time_pct"].get<double>(), 100 * wide / step, 1e-6);
  EXPECT_NEAR(f->estimated_gain_pct, 50 * wide / step, 1e-6);  // 16-bit halves the 32-bit bytes
  EXPECT_EQ(f->severity, f->estimated_gain_pct >= 2 ? FindingSeverity::Medium : FindingSeverity::Low);
}

TEST(SelfSends, WarmupDoesNotInflateIdleFindings) {
  // The recorded run's first step is ~1.5 s of communicator setup: before steady steps it made
  // every rank "94 % GPU idle" and host_sync "1989 % of step time".
  auto run = RunData::load(kRecorded);
  ASSERT_TRUE(run.ok());
  auto r = analyze(*run);
  for (const auto& f : r.findings) {
    EXPECT_NE(f.kind, FindingKind::GpuIdle) << f.title;
    EXPECT_LT(f.estimated_gain_pct, 100.0) << f.title;
  }
}

TEST(WholeRun, GpuIdleWithoutStepsIsNotAHundredPercentGain) {
  // The real nsys export of an RTX 3080 has no steps: its gaps are not a step loop's.
  auto out = anab::tmpdir() / "rtx3080.moetune";
  auto imp = anab::run(std::string(MOETUNE_CLI) + " import " + MOETUNE_SHARED_DATA +
                       "/external/nsys/nsys_ai_mock_rtx3080.sqlite -o " + out.string() + " --force");
  ASSERT_EQ(imp.rc, 0) << imp.out;
  auto run = RunData::load(out);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run->steps.empty());
  auto r = analyze(*run);
  int idle = 0;
  for (const auto& f : r.findings)
    if (f.kind == FindingKind::GpuIdle) {
      ++idle;
      EXPECT_EQ(f.estimated_gain_pct, 0.0) << f.title;
      EXPECT_LE(f.severity, FindingSeverity::Medium);
      EXPECT_NE(f.title.find("no steps recorded"), std::string::npos);
    }
  EXPECT_GT(idle, 0) << "the export has long GPU gaps";
}
