// SPDX-License-Identifier: Apache-2.0
// Helpers for the analyzers part-B tests: run the built CLI, make synth runs once per
// test binary in a private temp folder, read and write text files.
#pragma once
#include "common/run_command.h"
#include "common/scratch_dir.h"
#include "common/text.h"
#include "moetune/analyzers/model.h"
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace anab {

using moetune::test::read_text;

// The built CLI.
inline std::string cli() { return MOETUNE_CLI; }

using CmdResult = moetune::test::CommandResult;
// Runs a shell command line; captures stdout and stderr together.
inline CmdResult run(const std::string& cmd) { return moetune::test::run_command(cmd); }

// A private folder for this test process, removed when the process exits.
inline const std::filesystem::path& tmpdir() { return moetune::test::process_dir("moetune_anab"); }

// Writes `text` to tmpdir()/name; its path.
inline std::filesystem::path write(const std::string& name, const std::string& text) {
  return moetune::test::write_text(tmpdir() / name, text);
}

// A synth run made once per binary: key = extra synth arguments.
inline std::filesystem::path synth(const std::string& args) {
  static std::map<std::string, std::filesystem::path> made;
  auto it = made.find(args);
  if (it != made.end()) return it->second;
  auto out = tmpdir() / ("synth_" + std::to_string(made.size()) + ".moetune");
  auto r = run(std::string(MOETUNE_CLI) + " synth --force --steps 6 -o " + out.string() + " " + args);
  if (r.rc != 0) return {};
  made[args] = out;
  return out;
}

// That synth run loaded into memory; the error names the synth arguments or the load.
inline moetune::Expected<moetune::analyzers::RunData> load_synth(const std::string& args) {
  auto path = synth(args);
  if (path.empty()) return moetune::Error{"moetune synth " + args + " failed"};
  return moetune::analyzers::RunData::load(path);
}

}  // namespace anab
