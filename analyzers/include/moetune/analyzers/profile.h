// SPDX-License-Identifier: Apache-2.0
// Tuning profiles: the machine-applicable part of an analysis (env variables, sample
// flags, an expert placement) in one JSON file that `moetune apply` runs a command with.
// Format (docs/PROFILE.md):
//   {"format": "moetune-profile", "version": 1, "source_run": "RUN.moetune",
//    "env": {"NAME": "VALUE"}, "flags": ["--comm-dtype", "bf16"],
//    "placement": {plan, see placement.h} | "placement.json",
//    "findings": ["comm_precision-1", ...],
//    "manual": [{"type": "code", "description": "...", "finding": "..."}],
//    "fixes": [{"type": "env|flag|placement|code", ...}]   // optional, merged on read
//   }
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "moetune/analyzers/model.h"
#include "moetune/analyzers/placement.h"

namespace moetune::analyzers {

struct Profile {
  std::string source_run;
  std::map<std::string, std::string> env;
  std::vector<std::string> flags;             // appended to the command, in order
  std::optional<PlacementPlan> placement;     // inline plan
  std::string placement_file;                 // or a plan file (relative to the profile)
  std::vector<std::string> findings;          // ids of the findings the fixes came from
  std::vector<nlohmann::json> manual;         // code changes described, not applied
  std::vector<std::string> skipped;           // conflicting fixes left out, one line each
};

// Collects the fixes of every finding (most severe first; the first value of an env
// variable or flag wins, later conflicting ones are listed in `skipped`).
Profile build_profile(const AnalysisResult& r, const std::string& source_run);
nlohmann::json to_json(const Profile& p);
// Validates everything: unknown keys' types, unknown fix types, bad env names -> error
// naming `where`.
Expected<Profile> profile_from_json(const nlohmann::json& j, const std::string& where);
Expected<Profile> read_profile(const std::filesystem::path& file);
Expected<void> write_profile(const std::filesystem::path& file, const Profile& p);

// ---- targets: the profile in the job's own language (profile_targets.cpp) ------------
// A profile's flags are written in our samples' language (--comm-dtype, --overlap-chunks,
// --placement). `moetune apply --target NAME` renders them for the job it runs:
//   samples    our moe_nccl / torch_moe samples: the flags as they are
//   megatron   Megatron-LM (pretrain_gpt.py ...): its own arguments
//   vllm       vllm serve: its engine arguments
//   sglang     python -m sglang.launch_server: its server arguments
//   deepspeed  DeepSpeed: config-file keys (printed; DeepSpeed reads them from its JSON)
//   generic    any other command: no argument at all
//   as-is      append the profile's flags verbatim (a script of yours that takes them)
// The env variables (NCCL_*, CUDA_*) apply to every target. A knob the target does not
// have is a manual step: printed, never appended. docs/PROFILE.md cites the source file
// of each project option.
struct TargetKnobs {
  std::string target;
  std::vector<std::string> args;    // appended to the command, in order
  std::vector<std::string> config;  // config keys to set by hand ("bf16.enabled = true")
  std::vector<std::string> manual;  // no knob in the target: what to do by hand
  std::vector<std::string> kept;    // left out: the command already sets that option
  std::vector<std::string> overridden;  // appended after the command's own value (the target takes the last one)
};
const std::vector<std::string>& profile_targets();  // the names above
// The target a command line belongs to (launchers such as torchrun / python -m are
// looked through); "generic" when nothing matches.
std::string detect_target(const std::vector<std::string>& cmd);
// placement_path: where `apply` wrote the profile's placement plan ("" when none);
// cmd: the command the args go to (options it already has are not appended again).
TargetKnobs render_knobs(const Profile& p, const std::string& target, const std::string& placement_path,
                         const std::vector<std::string>& cmd = {});
// {"samples": {"args": [...], "config": [...], "manual": [...]}, "megatron": ...}: which
// knobs the profile sets for which target (written into the profile file, "targets").
nlohmann::json targets_json(const Profile& p);

}  // namespace moetune::analyzers
