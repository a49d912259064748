// SPDX-License-Identifier: Apache-2.0
// Merge of per-process part files (one per collector module and process) into one
// run. All parts carry times on CLOCK_REALTIME already (CUPTI's default; the NCCL
// plugin converts %globaltimer with its calibrated offset), so merging is a copy with
// string ids remapped and ranks resolved: parts of the same (host, pid) share a rank;
// two processes claiming one rank keep it for the first and get the next free rank
// for the other (counted in stats). A part left by a killed job is first recovered
// (its WAL checkpointed) and merged with what it holds; an unreadable part is skipped
// and counted, never fatal.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "moetune/trace/writer.h"

namespace moetune::live {

struct MergeReport {
  int parts_read = 0, parts_skipped = 0, ranks = 0;
  std::int64_t rows = 0;
  std::vector<std::string> warnings;  // one line each
};

// Part files in a directory ("*.moetune"), sorted by name.
std::vector<std::filesystem::path> find_parts(const std::filesystem::path& dir);

Expected<MergeReport> merge_parts(const std::vector<std::filesystem::path>& parts, TraceWriter& out);

}  // namespace moetune::live
