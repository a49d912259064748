// SPDX-License-Identifier: Apache-2.0
// The flags every command that runs the analyses takes (analyze, report, plan, diff):
// --comm-rules FILE and --set NAME=VALUE (repeatable; analyze also lists them with
// --list-options). One place, so a threshold set on `analyze` can be set on `report` too.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "moetune/analyzers/options.h"

namespace moetune::cli {

struct AnalysisFlags {
  std::string comm_rules;
  std::vector<std::string> set;

  void add(CLI::App* c) {
    c->add_option("--comm-rules", comm_rules, kCommRulesHelp);
    c->add_option("--set", set,
                  "set an analysis threshold, NAME=VALUE (repeatable; `moetune analyze --list-options` lists them)")
        ->allow_extra_args(false);  // one NAME=VALUE per --set: a positional file is not swallowed
  }
  // The options the flags describe; a bad NAME=VALUE or rules file is an InputError (exit 2).
  [[nodiscard]] analyzers::AnalyzeOptions options() const {
    analyzers::AnalyzeOptions o;
    for (const auto& s : set)
      if (auto r = analyzers::set_analyze_option(o, s); !r) throw InputError(r.error().message);
    o.comm_rules = load_comm_rules(comm_rules);
    return o;
  }
};

}  // namespace moetune::cli
