// SPDX-License-Identifier: Apache-2.0
// moetune merge PART_OR_DIR... -o RUN [--force]: merges per-process files (as written
// by the collectors, e.g. under torchrun with `record -o run-%r.moetune`, or a
// RUN.parts/ directory left by a killed job) into one run. Parts from several hosts
// (per-node files of srun/mpirun/torchrun jobs) get their clocks aligned onto the host
// of the lowest rank (merge_clock.h) unless --clocks keep.
#include <cstdio>

#include "command.h"
#include "moetune/live/merge.h"
#include "record_support.h"

namespace moetune::cli {
namespace {

namespace fs = std::filesystem;

void run_merge(const std::vector<std::string>& inputs, const std::string& out, bool force, const std::string& clocks) {
  if (clocks != "align" && clocks != "keep") throw InputError("merge: --clocks must be align or keep, not '" + clocks + "'");
  std::vector<fs::path> parts;
  fs::path topo;
  std::error_code ec;
  for (const auto& in : inputs) {
    if (fs::is_directory(in, ec)) {
      auto found = live::find_parts(in);
      if (found.empty()) throw InputError(in + ": directory holds no .moetune files");
      parts.insert(parts.end(), found.begin(), found.end());
      if (fs::exists(fs::path(in) / "topo.txt", ec)) topo = fs::path(in) / "topo.txt";
    } else if (fs::exists(in, ec)) {
      parts.emplace_back(in);
    } else {
      throw InputError(in + ": no such file");
    }
  }
  write_merged(parts, topo, out, force, "", -1, clocks == "align");
}

const Register reg{"merge", [](CLI::App& app, int& exit_code) {
                     auto inputs = std::make_shared<std::vector<std::string>>();
                     auto out = std::make_shared<std::string>();
                     auto force = std::make_shared<bool>(false);
                     auto clocks = std::make_shared<std::string>("align");
                     auto* c = app.add_subcommand("merge", "Merge per-process recorded files into one run");
                     c->add_option("inputs", *inputs, "part files or directories")->required();
                     c->add_option("-o,--output", *out, "run file to write")->required();
                     c->add_flag("--force", *force, "overwrite an existing run file");
                     c->add_option("--clocks", *clocks,
                                   "align: map each host's clock onto the reference host's from the collectives "
                                   "(default); keep: times as recorded");
                     c->callback([=, &exit_code] {
                       run_merge(*inputs, *out, *force, *clocks);
                       exit_code = 0;
                     });
                   }};

}  // namespace
}  // namespace moetune::cli
