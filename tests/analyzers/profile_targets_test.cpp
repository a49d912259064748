// SPDX-License-Identifier: Apache-2.0
// Profiles in the job's own language: target detection from command lines, the options
// rendered per target (names as cited in docs/PROFILE.md), nothing appended for a target
// that takes none, options the command already has left alone, and `moetune apply
// --target` end to end on a real command.
#include <gtest/gtest.h>

#include <fstream>

#include "anab_helpers.h"
#include "moetune/analyzers/profile.h"

using namespace moetune::analyzers;

namespace {

Profile sample_profile() {
  auto p = profile_from_json(nlohmann::json::parse(R"({"format":"moetune-profile","version":1,
    "env":{"NCCL_MAX_P2P_NCHANNELS":"32"},"flags":["--comm-dtype","bf16","--overlap-chunks","2"],
    "placement":{"experts":4,"ranks":2,"layers":{"0":{"0":[0,1],"1":[1],"2":[0],"3":[1,0]}}}})"),
                             "t.json");
  EXPECT_TRUE(p.ok());
  return *p;
}

using Args = std::vector<std::string>;

}  // namespace

TEST(ProfileTargets, DetectedFromTheCommandLine) {
  EXPECT_EQ(detect_target({"torchrun", "--nproc-per-node", "8", "pretrain_gpt.py", "--num-experts", "8"}), "megatron");
  EXPECT_EQ(detect_target({"python", "/opt/Megatron-LM/pretrain_mamba.py"}), "megatron");
  EXPECT_EQ(detect_target({"vllm", "serve", "Qwen/Qwen3-30B-A3B"}), "vllm");
  EXPECT_EQ(detect_target({"python", "-m", "vllm.entrypoints.openai.api_server"}), "vllm");
  EXPECT_EQ(detect_target({"python3", "-m", "sglang.launch_server", "--model-path", "x"}), "sglang");
  EXPECT_EQ(detect_target({"deepspeed", "train.py", "--deepspeed_config", "ds.json"}), "deepspeed");
  EXPECT_EQ(detect_target({"torchrun", "train.py", "--deepspeed", "ds.json"}), "deepspeed");
  EXPECT_EQ(detect_target({"bash", "tests/gpu/launch_moe.sh", "2", "build/samples/moe_nccl"}), "samples");
  EXPECT_EQ(detect_target({"torchrun", "--nproc-per-node", "2", "samples/torch_moe/torch_moe.py"}), "samples");
  EXPECT_EQ(detect_target({"sh", "-c", "echo hi"}), "generic");
  EXPECT_EQ(detect_target({"python", "train.py"}), "generic");
  EXPECT_EQ(detect_target({"vllm", "bench"}), "generic");
}

TEST(ProfileTargets, RenderedPerTarget) {
  const Profile p = sample_profile();
  EXPECT_EQ(render_knobs(p, "samples", "plan.json").args,
            (Args{"--comm-dtype", "bf16", "--overlap-chunks", "2", "--placement", "plan.json"}));
  EXPECT_EQ(render_knobs(p, "megatron", "plan.json").args,
            (Args{"--bf16", "--moe-token-dispatcher-type", "alltoall", "--overlap-moe-expert-parallel-comm"}));
  EXPECT_EQ(render_knobs(p, "vllm", "plan.json").args,
            (Args{"--dtype", "bfloat16", "--enable-dbo", "--enable-eplb", "--eplb-config", "{\"num_redundant_experts\":2}"}));
  EXPECT_EQ(render_knobs(p, "sglang", "plan.json").args,
            (Args{"--dtype", "bfloat16", "--enable-two-batch-overlap", "--enable-eplb", "--ep-num-redundant-experts", "2"}));
  const auto ds = render_knobs(p, "deepspeed", "plan.json");
  EXPECT_TRUE(ds.args.empty()) << "DeepSpeed reads its knobs from its config file";
  ASSERT_EQ(ds.config.size(), 1u);
  EXPECT_NE(ds.config[0].find("\"bf16\": {\"enabled\": true}"), std::string::npos);
  EXPECT_EQ(ds.manual.size(), 2u);  // overlap, placement
  EXPECT_FALSE(render_knobs(p, "megatron", "plan.json").manual.empty()) << "Megatron has no placement option";
}

TEST(ProfileTargets, GenericTakesNoFlagAndYoursAreKept) {
  const Profile p = sample_profile();
  const auto g = render_knobs(p, "generic", "plan.json");
  EXPECT_TRUE(g.args.empty());
  EXPECT_EQ(g.manual.size(), 3u);  // dtype, overlap, placement: printed, not appended
  const auto m = render_knobs(p, "megatron", "", {"torchrun", "pretrain_gpt.py", "--moe-token-dispatcher-type", "flex",
                                                  "--bf16"});
  EXPECT_EQ(m.args, (Args{"--overlap-moe-expert-parallel-comm"})) << "a dispatcher or --bf16 the job sets stays";
  EXPECT_FALSE(m.kept.empty());
  const auto v = render_knobs(p, "vllm", "", {"vllm", "serve", "m", "--dtype=float16"});
  EXPECT_EQ(std::count(v.args.begin(), v.args.end(), "--dtype"), 0);
  // a flag only as-is knows
  auto q = profile_from_json(nlohmann::json::parse(R"({"format":"moetune-profile","version":1,"flags":["--my-knob","3"]})"),
                             "q.json");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(render_knobs(*q, "samples", "").args.empty());
  EXPECT_EQ(render_knobs(*q, "as-is", "").args, (Args{"--my-knob", "3"}));
  // the profile file says what it sets for which target
  const auto j = to_json(p);
  ASSERT_TRUE(j.contains("targets"));
  EXPECT_EQ(j["targets"]["sglang"]["args"][1], "bfloat16");
  EXPECT_TRUE(j["targets"]["generic"]["args"].empty());
}

TEST(ProfileTargets, ApplyCliRendersForTheTarget) {
  auto prof = anab::tmpdir() / "targets.json";
  std::ofstream(prof) << R"({"format":"moetune-profile","version":1,"env":{"NCCL_MAX_P2P_NCHANNELS":"32"},
    "flags":["--comm-dtype","bf16","--overlap-chunks","2"]})";
  const std::string cli = MOETUNE_CLI;
  const std::string job = " -- sh -c 'echo \"args:$*|env:$NCCL_MAX_P2P_NCHANNELS\"' sh";
  auto generic = anab::run(cli + " apply " + prof.string() + " --target generic" + job);
  EXPECT_EQ(generic.rc, 0) << generic.out;
  EXPECT_NE(generic.out.find("args:|env:32"), std::string::npos) << "env everywhere, no flag: " << generic.out;
  EXPECT_NE(generic.out.find("not applied"), std::string::npos) << generic.out;
  auto detected = anab::run(cli + " apply " + prof.string() + job);  // sh: detected as generic
  EXPECT_NE(detected.out.find("args:|env:32"), std::string::npos) << detected.out;
  EXPECT_NE(detected.out.find("target generic (detected)"), std::string::npos) << detected.out;
  auto sg = anab::run(cli + " apply " + prof.string() + " --target sglang" + job);
  EXPECT_NE(sg.out.find("args:--dtype bfloat16 --enable-two-batch-overlap|env:32"), std::string::npos) << sg.out;
  auto bad = anab::run(cli + " apply " + prof.string() + " --target tensorflow" + job);
  EXPECT_EQ(bad.rc, 2) << bad.out;
  EXPECT_NE(bad.out.find("tensorflow"), std::string::npos) << bad.out;
}

// The tuning loop's baseline sets the very option the profile changes (--comm-dtype fp32): for
// our samples, which take an option's last value, the profile's value goes after it and apply
// says so. (Measured on the device: keeping the command's fp32 left the step unchanged.)
TEST(ProfileTargets, SamplesOverrideTheCommandsOwnValue) {
  const Profile p = sample_profile();
  const Args cmd{"torchrun", "samples/torch_moe/torch_moe.py", "--comm-dtype", "fp32"};
  const auto k = render_knobs(p, "samples", "", cmd);
  auto it = std::find(k.args.begin(), k.args.end(), "--comm-dtype");
  ASSERT_NE(it, k.args.end());
  EXPECT_EQ(*(it + 1), "bf16");
  ASSERT_EQ(k.overridden.size(), 1u);
  EXPECT_NE(k.overridden[0].find("--comm-dtype bf16"), std::string::npos);
  EXPECT_TRUE(k.kept.empty());
}
