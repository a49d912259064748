// SPDX-License-Identifier: Apache-2.0
// Runs a shell command line for CLI tests: exit status and stdout+stderr together.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace moetune::test {

struct CommandResult {
  int rc = -1;      // exit status; -1 when the command could not run or was killed
  std::string out;  // stdout + stderr
};

inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace moetune::test
