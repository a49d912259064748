// SPDX-License-Identifier: Apache-2.0
// Helpers shared by `moetune record` and `moetune merge`: locating the collector
// libraries, topology capture, and writing a merged run.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace moetune::cli {

struct CollectorLibs {
  std::filesystem::path cupti, nccl;  // empty when not found
};
// MOETUNE_LIB_DIR, else next to the binary (../collectors/{cupti,nccl} in a build
// tree, ../lib/moetune in an install).
CollectorLibs find_collector_libs();

// Whether `lib` loads in this process (dlopen RTLD_LAZY|RTLD_LOCAL, then dlclose): a
// collector that cannot load (libcupti.so.13 or libcuda.so.1 missing, a broken file)
// must not be injected, or the job's CUDA/NCCL init fails or warns on its own. On
// failure `why` holds dlerror().
bool collector_loads(const std::filesystem::path& lib, std::string& why);

// `nvidia-smi topo -m` output, or "" when nvidia-smi is absent or fails.
std::string capture_topo_text();

// Merges `parts` (+ optional topo text file) into `out`; returns 0 or throws InputError.
// Prints one summary line on stderr (and one per host when clocks were aligned).
// align_clocks=false keeps every host's times as recorded (merge --clocks keep).
void write_merged(const std::vector<std::filesystem::path>& parts, const std::filesystem::path& topo_txt,
                  const std::filesystem::path& out, bool force, const std::string& command, int exit_status,
                  bool align_clocks = true);

}  // namespace moetune::cli
