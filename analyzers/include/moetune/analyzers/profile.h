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

}  // namespace moetune::analyzers
