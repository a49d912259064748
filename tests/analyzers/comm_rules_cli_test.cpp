// SPDX-License-Identifier: Apache-2.0
// --comm-rules FILE on analyze / report / plan / diff (docs/COMM-RULES.md): a bad file is one
// line naming the file and exit 2; a good one changes what counts as communication. Runs the
// built CLI on a synth run (SYNTHETIC data).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "anab_helpers.h"
#include "moetune/analyzers/model.h"

using anab::cli;
using anab::write;

TEST(CommRulesCli, BadFileIsOneLineNamingTheFileAndExit2) {
  auto run = anab::synth("");
  ASSERT_FALSE(run.empty());
  auto bad_kind = write("bad_kind.json", R"([{"pattern": "x", "match": "prefix", "kind": "teleport"}])");
  auto not_json = write("not_json.json", "[{pattern: x}");
  const auto missing = anab::tmpdir() / "no_such_rules.json";
  const auto out = (anab::tmpdir() / "r.md").string();
  for (const auto& f : {bad_kind, not_json, missing}) {
    for (const std::string& cmd :
         {cli() + " analyze " + run.string(), cli() + " report --format md -o " + out + " " + run.string(),
          cli() + " plan --force -o " + (anab::tmpdir() / "p.json").string() + " " + run.string(),
          cli() + " diff " + run.string() + " " + run.string()}) {
      auto r = anab::run(cmd + " --comm-rules " + f.string());
      EXPECT_EQ(r.rc, 2) << cmd << "\n" << r.out;
      EXPECT_TRUE(moetune::test::one_line(r.out)) << r.out;
      EXPECT_NE(r.out.find(f.string() + ": "), std::string::npos) << r.out;
    }
  }
  EXPECT_NE(anab::run(cli() + " analyze " + run.string() + " --comm-rules " + bad_kind.string()).out.find("teleport"),
            std::string::npos);
}

TEST(CommRulesCli, UserRulesChangeWhatIsCommunication) {
  auto run = anab::synth("");
  ASSERT_FALSE(run.empty());
  auto base = anab::run(cli() + " analyze --json " + run.string());
  ASSERT_EQ(base.rc, 0) << base.out;
  auto jb = nlohmann::json::parse(base.out);
  EXPECT_EQ(jb["metrics"]["comm_vocabulary"]["user_rule_count"], 0);
  // The synth run's token permutation kernel (moe::permute_tokens_kernel) declared a dispatch.
  auto rules = write("permute.json", R"({"rules": [{"pattern": "moe::permute_tokens_kernel", "kind": "dispatch"}]})");
  auto with = anab::run(cli() + " analyze --json " + run.string() + " --comm-rules " + rules.string());
  ASSERT_EQ(with.rc, 0) << with.out;
  auto jw = nlohmann::json::parse(with.out);
  EXPECT_EQ(jw["metrics"]["comm_vocabulary"]["user_rule_count"], 1);
  EXPECT_EQ(jw["metrics"]["comm_vocabulary"]["user_rules"], rules.string());
  double comm_b = 0, comm_w = 0;
  for (const auto& r : jb["metrics"]["per_rank"]) comm_b += r.value("comm_ms", 0.0);
  for (const auto& r : jw["metrics"]["per_rank"]) comm_w += r.value("comm_ms", 0.0);
  EXPECT_GT(comm_w, comm_b) << "the permutation kernels now count as communication";
}

TEST(CommRulesHealth, HeaviestUnclassifiedCommLikeKernelsAreNamed) {
  using namespace moetune;
  using namespace moetune::analyzers;
  // SYNTHETIC run: one rank with a GEMM, an unknown library's all-to-all kernel (heaviest), a
  // "dispatch_kernel" with no all-to-all word (not classified) and an NCCL kernel (classified).
  RunData run;
  run.strings = {"sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "void mylib::alltoallv_fused<4>(int*)",
                 "dispatch_kernel", "ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)"};
  auto add = [&](int name, std::int64_t start, std::int64_t dur) {
    KernelRow k;
    k.rank = RankId(0);
    k.name = StringId(name);
    k.start_ns = start;
    k.dur_ns = dur;
    run.kernels.push_back(k);
  };
  add(0, 0, 5'000'000);
  add(1, 5'000'000, 3'000'000);
  add(1, 8'000'000, 3'000'000);
  add(2, 11'000'000, 1'000'000);
  add(3, 12'000'000, 2'000'000);
  auto r = analyze(run);
  const auto& u = r.metrics["comm_vocabulary"]["unclassified_comm_like"];
  ASSERT_EQ(u.size(), 2u) << u.dump();
  EXPECT_EQ(u[0]["name"], "void mylib::alltoallv_fused<4>(int*)");
  EXPECT_DOUBLE_EQ(u[0]["total_ms"].get<double>(), 6.0);
  EXPECT_EQ(u[0]["kernels"], 2);
  EXPECT_EQ(u[1]["name"], "dispatch_kernel");
  bool noted = false;
  for (const auto& n : r.notes) noted |= n.find("trace health") != std::string::npos &&
                                         n.find("mylib::alltoallv_fused") != std::string::npos &&
                                         n.find("6.000 ms in 2 kernels") != std::string::npos;
  EXPECT_TRUE(noted);
  // A rule for it settles the name: it is communication and no longer reported.
  auto rules = comm::RuleSet::parse(R"([{"pattern": "mylib::alltoallv", "match": "prefix", "kind": "p2p"}])", "r.json");
  ASSERT_TRUE(rules.ok());
  AnalyzeOptions opts;
  opts.comm_rules = std::make_shared<const comm::RuleSet>(*rules);
  auto r2 = analyze(run, opts);
  ASSERT_EQ(r2.metrics["comm_vocabulary"]["unclassified_comm_like"].size(), 1u);
  EXPECT_EQ(r2.metrics["comm_vocabulary"]["unclassified_comm_like"][0]["name"], "dispatch_kernel");
}
