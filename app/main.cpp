// SPDX-License-Identifier: Apache-2.0
// moetune CLI entry point: registers the subcommands and maps errors to exit codes
// (0 ok, 1 findings above --fail-on, 2 bad usage or bad input; never a crash).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>

#include "command.h"
#include "moetune/version.h"

namespace moetune::cli {
bool stderr_is_tty() { return ::isatty(2) == 1; }
}  // namespace moetune::cli

int main(int argc, char** argv) {
  using namespace moetune::cli;
  CLI::App app{"moetune: profiler-driven tuning advisor for Mixture-of-Experts jobs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("moetune " MOETUNE_VERSION));
  int exit_code = 0;
  auto& entries = registry();
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  for (auto& e : entries) e.setup(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "moetune: %s (see moetune --help)\n", e.what());
    return 2;
  } catch (const InputError& e) {
    std::fprintf(stderr, "moetune: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moetune: error: %s\n", e.what());
    return 2;
  }
  return exit_code;
}
