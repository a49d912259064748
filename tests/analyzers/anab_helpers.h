// SPDX-License-Identifier: Apache-2.0
// Helpers for the analyzers part-B tests: run the built CLI, make synth runs once per
// test binary in a private temp folder, read text files.
#pragma once
#include "common/run_command.h"
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

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using CmdResult = moetune::test::CommandResult;
// Runs a shell command line; captures stdout and stderr together.
inline CmdResult run(const std::string& cmd) { return moetune::test::run_command(cmd); }

// A private folder for this test process, removed when the process exits.
inline const std::filesystem::path& tmpdir() {
  struct Dir {
    std::filesystem::path p;
    Dir() : p(std::filesystem::temp_directory_path() / ("moetune_anab_" + std::to_string(::getpid()))) {
      std::filesystem::create_directories(p);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  };
  static const Dir d;
  return d.p;
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

}  // namespace anab
