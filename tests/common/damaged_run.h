// SPDX-License-Identifier: Apache-2.0
// The damaged-store tests' run handling: a run made once per test process by a CLI
// command, a copy of it per test to damage (damage_store.h), and the check that a CLI
// command refuses the damaged copy with one line.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "common/damage_store.h"
#include "common/run_command.h"

namespace moetune::test {

inline const std::string& cli() {
  static const std::string path = MOETUNE_CLI;
  return path;
}

// This process's scratch folder for `what` (created).
inline std::filesystem::path damage_dir(const std::string& what) {
  auto d = std::filesystem::temp_directory_path() / ("moetune_" + what + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d;
}

// Runs `moetune ARGS -o OUT --force` (import, synth): the run file, or a test failure.
inline std::filesystem::path make_run(const std::string& args, const std::filesystem::path& out) {
  auto r = run_command(cli() + " " + args + " -o " + out.string() + " --force");
  EXPECT_EQ(r.rc, 0) << r.out;
  return out;
}

// A copy of `run` beside it, named `name`, to damage.
inline std::filesystem::path copy_of(const std::filesystem::path& run, const std::string& name) {
  auto p = run.parent_path() / name;
  std::filesystem::copy_file(run, p, std::filesystem::copy_options::overwrite_existing);
  return p;
}

// `moetune CMD FILE` fails with exit 2 and exactly one line naming the file and `what`.
inline void expect_one_line_error(const std::string& cmd, const std::filesystem::path& p, const std::string& what) {
  auto r = run_command(cli() + " " + cmd + " " + p.string());
  EXPECT_EQ(r.rc, 2) << cmd << ": " << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << cmd << ": " << r.out;
  EXPECT_NE(r.out.find(p.string()), std::string::npos) << cmd << ": " << r.out;
  EXPECT_NE(r.out.find(what), std::string::npos) << cmd << ": " << r.out;
}

}  // namespace moetune::test
