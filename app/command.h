// SPDX-License-Identifier: Apache-2.0
// Subcommand registry of the moetune CLI. Each cmd_*.cpp defines one
// `static const moetune::cli::Register reg{"name", setup};` where setup adds a
// CLI11 subcommand and its callback. Callbacks report bad input by throwing
// InputError (main prints one line and exits 2) and set the exit code through
// the reference they get.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "moetune/trace/comm_vocab.h"

namespace moetune::cli {

// Bad usage or bad input: main prints "moetune: <what>" and exits 2.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Setup = std::function<void(CLI::App& app, int& exit_code)>;

struct Entry {
  std::string name;
  Setup setup;
};

inline std::vector<Entry>& registry() {
  static std::vector<Entry> r;
  return r;
}

struct Register {
  Register(std::string name, Setup setup) { registry().push_back({std::move(name), std::move(setup)}); }
};

// True when stderr is a terminal (progress output only then).
bool stderr_is_tty();

// --comm-rules FILE (docs/COMM-RULES.md) of analyze/report/plan/diff: the parsed rules, null
// when no file was given; a bad file is an InputError ("FILE: what is wrong", exit 2).
inline std::shared_ptr<const comm::RuleSet> load_comm_rules(const std::string& path) {
  if (path.empty()) return nullptr;
  auto r = comm::RuleSet::load(path);
  if (!r) throw InputError(r.error().message);
  return std::make_shared<const comm::RuleSet>(std::move(*r));
}
inline constexpr const char* kCommRulesHelp =
    "communication rules file (JSON, docs/COMM-RULES.md), tried before the built-in rules";

}  // namespace moetune::cli
