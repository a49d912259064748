// SPDX-License-Identifier: Apache-2.0
// moetune analyze RUN [--json] [--fail-on SEVERITY] [--set NAME=VALUE ...]: findings + metrics.
// --list-options prints the analysis thresholds (docs/ANALYZE-OPTIONS.md).
// Text: per-rank table, findings with recommendation and gain, notes. JSON: the
// docs/ANALYZE-JSON.md document. Exit 1 when a finding is at/above --fail-on.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "command.h"
#include "moetune/analyzers/model.h"
#include "moetune/analyzers/options.h"
#include "moetune/analyzers/report.h"

namespace moetune::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Analysis thresholds: --set NAME=VALUE (repeatable) and --list-options.
struct OptionFlags {
  std::vector<std::string> set;
  bool list = false;
  void add(CLI::App* c) {
    c->add_option("--set", set, "set an analysis threshold, NAME=VALUE (repeatable; --list-options lists them)")
        ->allow_extra_args(false);  // one NAME=VALUE per --set: the run file is not swallowed
    c->add_flag("--list-options", list, "list the analysis thresholds: name, default, unit, what it judges");
  }
  void apply(analyzers::AnalyzeOptions& o) const {
    for (const auto& s : set)
      if (auto r = analyzers::set_analyze_option(o, s); !r) throw InputError(r.error().message);
  }
};

void run_analyze(const std::string& path, bool json, const std::string& fail_on, bool timing,
                 const std::string& rules, const OptionFlags& flags, int& exit_code) {
  if (flags.list) {
    std::fputs(analyzers::analyze_options_table().c_str(), stdout);
    exit_code = 0;
    return;
  }
  if (path.empty()) throw InputError("analyze: a run file is required (or --list-options)");
  std::optional<analyzers::FindingSeverity> threshold;
  if (!fail_on.empty()) {
    threshold = analyzers::parse_severity(fail_on);
    if (!threshold) throw InputError("--fail-on " + fail_on + ": expected low, medium, high or critical");
  }
  analyzers::AnalyzeOptions opts;
  flags.apply(opts);
  opts.comm_rules = load_comm_rules(rules);
  auto t0 = std::chrono::steady_clock::now();
  auto run = analyzers::RunData::load(path);
  if (!run) throw InputError(run.error().message);
  double t_load = seconds_since(t0);
  auto t1 = std::chrono::steady_clock::now();
  auto result = analyzers::analyze(*run, opts);
  if (timing)
    std::fprintf(stderr, "timing: load %.3f s, analyses %.3f s (%zu kernels, %zu api calls, %zu nccl ops)\n", t_load,
                 seconds_since(t1), run->kernels.size(), run->api_calls.size(), run->nccl_ops.size());
  if (json)
    std::printf("%s\n", analyzers::to_json(result).dump(2).c_str());
  else
    std::fputs(analyzers::report_text(*run, result).c_str(), stdout);
  exit_code = 0;
  if (threshold)
    for (const auto& f : result.findings)
      if (f.severity >= *threshold) exit_code = 1;
}

const Register reg{"analyze", [](CLI::App& app, int& exit_code) {
                     auto path = std::make_shared<std::string>();
                     auto json = std::make_shared<bool>(false);
                     auto fail_on = std::make_shared<std::string>();
                     auto timing = std::make_shared<bool>(false);
                     auto rules = std::make_shared<std::string>();
                     auto flags = std::make_shared<OptionFlags>();
                     auto* c = app.add_subcommand("analyze", "Findings, metrics and recommendations for a run");
                     c->add_option("run", *path, "run file (.moetune)");
                     c->add_flag("--json", *json, "the analyze --json document");
                     c->add_option("--fail-on", *fail_on, "exit 1 when a finding has this severity or higher "
                                                          "(low, medium, high, critical)");
                     c->add_flag("--timing", *timing, "print load and analysis times to stderr");
                     c->add_option("--comm-rules", *rules, kCommRulesHelp);
                     flags->add(c);
                     c->callback([path, json, fail_on, timing, rules, flags, &exit_code] {
                       run_analyze(*path, *json, *fail_on, *timing, *rules, *flags, exit_code);
                     });
                   }};

}  // namespace
}  // namespace moetune::cli
