// SPDX-License-Identifier: Apache-2.0
// Tuning profiles: build from an analysis, JSON round trip, validation, and `moetune
// plan` / `moetune apply` running a real command with the env, flags and placement.
#include <gtest/gtest.h>

#include <fstream>

#include "anab_helpers.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/profile.h"

using namespace moetune::analyzers;

using anab::cli;
using anab::write;

TEST(Profile, BuiltFromFindingsAndRoundTrips) {
  auto path = anab::synth("--ranks 8 --inject hot_experts_slow_rank,fp32_dispatch");
  ASSERT_FALSE(path.empty());
  auto run = RunData::load(path);
  ASSERT_TRUE(run.ok());
  auto res = analyze(*run);
  auto p = build_profile(res, path.string());
  ASSERT_TRUE(p.placement.has_value()) << "hot_experts gives a placement";
  ASSERT_GE(p.flags.size(), 2u);
  EXPECT_EQ(p.flags[0], "--comm-dtype");
  EXPECT_EQ(p.flags[1], "bf16");
  EXPECT_FALSE(p.findings.empty());
  auto file = anab::tmpdir() / "roundtrip.json";
  ASSERT_TRUE(write_profile(file, p).ok());
  auto back = read_profile(file);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->flags, p.flags);
  EXPECT_EQ(back->env, p.env);
  EXPECT_EQ(back->findings, p.findings);
  ASSERT_TRUE(back->placement.has_value());
  EXPECT_EQ(back->placement->layers, p.placement->layers);
}

TEST(Profile, ValidationErrors) {
  auto err = [](const std::string& text) {
    auto r = profile_from_json(nlohmann::json::parse(text), "p.json");
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(err(R"({"format":"x","version":1})").find("p.json: "), std::string::npos);
  EXPECT_NE(err(R"({"format":"moetune-profile","version":2})").find("version"), std::string::npos);
  EXPECT_NE(err(R"({"format":"moetune-profile","version":1,"env":{"1BAD":"x"}})").find("not a valid"), std::string::npos);
  EXPECT_NE(err(R"({"format":"moetune-profile","version":1,"fixes":[{"type":"magic"}]})").find("unknown fix type"),
            std::string::npos);
  EXPECT_EQ(err(R"({"format":"moetune-profile","version":1,"fixes":[{"type":"env","name":"A","value":"1"}]})"), "");
}

TEST(ApplyCli, RunsCommandWithEnvFlagsPlacementAndPassesExitStatus) {
  auto prof = write("apply_ok.json", R"({"format":"moetune-profile","version":1,
    "env":{"NCCL_MAX_P2P_NCHANNELS":"32"},"flags":["--comm-dtype","bf16"],
    "placement":{"experts":2,"ranks":2,"layers":{"0":{"0":[1],"1":[0,1]}}}})");
  auto placement = anab::tmpdir() / "apply_ok.placement.json";
  auto r = anab::run(cli() + " apply " + prof.string() + " --target samples --placement-out " + placement.string() +
                     " -- sh -c 'echo \"args:$*\"; echo \"env:$NCCL_MAX_P2P_NCHANNELS\"; exit 3' sh");
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_NE(r.out.find("args:--comm-dtype bf16 --placement " + placement.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("env:32"), std::string::npos) << r.out;
  auto plan = read_placement(placement);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->layers.at(0)[1], (std::vector<int>{0, 1}));
  auto ok = anab::run(cli() + " apply " + prof.string() + " --placement-out " + placement.string() + " -- true");
  EXPECT_EQ(ok.rc, 0) << ok.out;
}

TEST(ApplyCli, BadProfilesExitTwoWithOneLine) {
  auto notjson = write("bad1.json", "{ nope");
  auto unknown = write("bad2.json", R"({"format":"moetune-profile","version":1,"fixes":[{"type":"reboot"}]})");
  auto badplan = write("bad3.json", R"({"format":"moetune-profile","version":1,"placement":{"experts":2,"ranks":1,"layers":{"0":{"0":[0]}}}})");
  for (const auto& p : {notjson, unknown, badplan}) {
    auto r = anab::run(cli() + " apply " + p.string() + " -- true");
    EXPECT_EQ(r.rc, 2) << p << ": " << r.out;
    EXPECT_TRUE(moetune::test::one_line(r.out)) << r.out;
    EXPECT_NE(r.out.find(p.filename().string()), std::string::npos) << r.out;
  }
  auto r = anab::run(cli() + " apply " + unknown.string() + " -- true");
  EXPECT_NE(r.out.find("unknown fix type \"reboot\""), std::string::npos) << r.out;
}

TEST(ApplyCli, PlanThenApplyOnASynthRun) {
  auto run = anab::synth("--ranks 8 --inject fp32_dispatch");
  ASSERT_FALSE(run.empty());
  auto prof = anab::tmpdir() / "fp32.profile.json";
  auto p = anab::run(cli() + " plan " + run.string() + " -o " + prof.string() + " --force");
  ASSERT_EQ(p.rc, 0) << p.out;
  auto r = anab::run(cli() + " apply " + prof.string() + " --target samples -- sh -c 'echo \"args:$*\"' sh");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("args:--comm-dtype bf16"), std::string::npos) << r.out;
}

// `moetune plan --only`: one finding's fixes at a time (the calibration measures each alone).
// A run with both fp32 dispatch and hot experts: --only hot_experts keeps the placement and
// drops the bf16 flag; --only comm_precision-1 the reverse; an unknown id exits 2 in one line.
TEST(Profile, PlanOnlyKeepsTheNamedFindingsFixes) {
  auto run = anab::synth("--ranks 8 --inject fp32_dispatch,hot_experts_slow_rank");
  ASSERT_FALSE(run.empty());
  auto plan = [&](const std::string& only) {
    auto out = anab::tmpdir() / ("only-" + only + ".json");
    auto r = anab::run(cli() + " plan " + run.string() + " -o " + out.string() + " --force --only " + only);
    return std::make_pair(r, r.rc == 0 ? nlohmann::json::parse(std::ifstream(out)) : nlohmann::json());
  };
  auto [r1, hot] = plan("hot_experts");
  ASSERT_EQ(r1.rc, 0) << r1.out;
  EXPECT_TRUE(hot.contains("placement")) << hot.dump();
  EXPECT_TRUE(hot["flags"].empty()) << hot.dump();
  EXPECT_EQ(hot["findings"], nlohmann::json::array({"hot_experts-1"}));
  auto [r2, prec] = plan("comm_precision-1");
  ASSERT_EQ(r2.rc, 0) << r2.out;
  EXPECT_FALSE(prec.contains("placement") && !prec["placement"].is_null()) << prec.dump();
  EXPECT_EQ(prec["flags"], nlohmann::json::array({"--comm-dtype", "bf16"}));
  auto [r3, none] = plan("straggler-9");
  EXPECT_EQ(r3.rc, 2) << r3.out;
  EXPECT_TRUE(moetune::test::one_line(r3.out)) << r3.out;
  EXPECT_NE(r3.out.find("--only straggler-9: no such finding"), std::string::npos) << r3.out;
}

// `moetune plan --memory-budget`: 0 % allows no replica, a larger budget allows more
// copies (the hot experts of hot_experts_slow_rank get replicated); bad values exit 2.
TEST(Profile, PlanMemoryBudgetBoundsReplicas) {
  auto path = anab::synth("--ranks 8 --inject hot_experts_slow_rank");
  ASSERT_FALSE(path.empty());
  auto copies = [&](const std::string& budget) -> long {
    auto out = anab::tmpdir() / ("budget_" + budget + ".json");
    auto r = anab::run(cli() + " plan '" + path.string() + "' -o '" + out.string() + "' --force --memory-budget " +
                       budget);
    EXPECT_EQ(r.rc, 0) << r.out;
    std::ifstream in(out);
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.contains("placement") || j["placement"].is_null()) return -1;
    long n = 0;
    for (const auto& [layer, experts] : j["placement"]["layers"].items())
      for (const auto& [e, ranks] : experts.items()) n += static_cast<long>(ranks.size()) - 1;
    return n;
  };
  long none = copies("0"), some = copies("15"), more = copies("60");
  ASSERT_GE(none, 0) << "hot_experts gives a placement even without replicas (moves only)";
  EXPECT_EQ(none, 0);
  EXPECT_GT(some, 0);
  EXPECT_GE(more, some);
  auto bad = anab::run(cli() + " plan '" + path.string() + "' -o " + (anab::tmpdir() / "bad.json").string() +
                       " --force --memory-budget -5");
  EXPECT_EQ(bad.rc, 2);
  EXPECT_TRUE(moetune::test::one_line(bad.out)) << bad.out;
}
