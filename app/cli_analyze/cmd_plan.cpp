// SPDX-License-Identifier: Apache-2.0
// moetune plan RUN.moetune -o PROFILE.json [--force] [--memory-budget PCT] [--hot-k K] [--only ID|KIND,...]
// [--set NAME=VALUE ...]: analyze
// the run and write the tuning profile (every finding's machine-applicable fixes, or only the named findings') that
// `moetune apply` runs with.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "analysis_flags.h"
#include "command.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/profile.h"
#include "moetune/trace/safe_file.h"

namespace moetune::cli {
namespace {

struct PlanArgs {
  std::string run, out;
  AnalysisFlags flags;
  std::optional<double> memory_budget_pct;  // --memory-budget: placement.memory_budget_pct
  std::optional<int> hot_k;                 // --hot-k: experts.hot_k
  std::vector<std::string> only;  // finding ids (hot_experts-1) or kinds (hot_experts)
  bool force = false;
};

void run_plan(const PlanArgs& a, int& exit_code) {
  if (auto c = check_output(a.out, a.force); !c) throw InputError(c.error().message);
  auto run = analyzers::RunData::load(a.run);
  if (!run) throw InputError(run.error().message);
  auto opts = a.flags.options();  // --set first; the named flags below win
  if (a.memory_budget_pct) opts.memory_budget_pct = *a.memory_budget_pct;
  if (a.hot_k) opts.hot_k = *a.hot_k;
  auto res = analyzers::analyze(*run, opts);
  if (!a.only.empty()) {  // one fix at a time: measure each finding's gain on its own
    std::vector<analyzers::Finding> kept;
    std::string all;
    for (const auto& f : res.findings) {
      all += (all.empty() ? "" : ", ") + f.id;
      for (const auto& o : a.only)
        if (o == f.id || o == analyzers::to_string(f.kind)) {
          kept.push_back(f);
          break;
        }
    }
    for (const auto& o : a.only) {
      bool hit = false;
      for (const auto& f : kept) hit = hit || o == f.id || o == analyzers::to_string(f.kind);
      if (!hit) throw InputError(a.run + ": --only " + o + ": no such finding (the run has: " + (all.empty() ? "none" : all) + ")");
    }
    res.findings = std::move(kept);
  }
  auto prof = analyzers::build_profile(res, a.run);
  // Temporary + rename (--force) or link (exclusive create): never through a symlink at -o.
  auto w = write_file_safely(a.out, analyzers::to_json(prof).dump(2) + "\n", a.force);
  if (!w) throw InputError(w.error().message);
  std::printf("wrote %s: %zu env, %zu flag words, placement %s, %zu manual changes, from %zu findings\n",
              a.out.c_str(), prof.env.size(), prof.flags.size(), prof.placement ? "yes" : "no", prof.manual.size(),
              prof.findings.size());
  for (const auto& s : prof.skipped) std::printf("  skipped: %s\n", s.c_str());
  exit_code = 0;
}

const Register reg{"plan", [](CLI::App& app, int& exit_code) {
                     auto a = std::make_shared<PlanArgs>();
                     auto* c = app.add_subcommand("plan", "Write the tuning profile (env, flags, placement) for a run");
                     c->add_option("run", a->run, "run file (.moetune)")->required();
                     c->add_option("-o,--output", a->out, "profile to write (JSON)")->required();
                     c->add_flag("--force", a->force, "overwrite an existing profile");
                     c->add_option("--memory-budget", a->memory_budget_pct,
                                   "extra expert memory the placement plan may use, % of the expert weights "
                                   "(default 15; replicas of hot experts cost memory)")
                         ->check(CLI::Range(0.0, 400.0));
                     c->add_option("--hot-k", a->hot_k, "how many hot experts per layer (default 3)")
                         ->check(CLI::Range(1, 1024));
                     c->add_option("--only", a->only,
                                   "only these findings' fixes: ids (hot_experts-1) or kinds (hot_experts), comma list")
                         ->delimiter(',');
                     a->flags.add(c);
                     c->callback([a, &exit_code] { run_plan(*a, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
