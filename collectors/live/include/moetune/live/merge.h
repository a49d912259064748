// SPDX-License-Identifier: Apache-2.0
// Merge of per-process part files (one per collector module and process) into one
// run. All parts carry times on CLOCK_REALTIME already (CUPTI's default; the NCCL
// plugin converts %globaltimer with its calibrated offset), so merging is a copy with
// string ids remapped and ranks resolved: parts of the same (host, pid) share a rank;
// two processes claiming one rank keep it for the first and get the next free rank
// for the other (counted in stats). A part left by a killed job is first recovered
// (its WAL checkpointed) and merged with what it holds; an unreadable part is skipped
// and counted, never fatal.
// Parts from several hosts: each host's clock is mapped onto the reference host's (the
// one holding the lowest rank) by offset + drift estimated from the collectives
// (merge_clock.h); every time column of the host's rows moves by that map, the offset
// goes to ranks.clock_offset_ns and offset, drift and error bound to stats.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "moetune/live/merge_clock.h"
#include "moetune/trace/writer.h"

namespace moetune::live {

struct MergeReport {
  int parts_read = 0, parts_skipped = 0, ranks = 0;
  std::int64_t rows = 0;
  std::vector<std::string> warnings;  // one line each
  std::vector<HostClock> clocks;      // one per clock domain when there were several
};

struct MergeOptions {
  bool align_clocks = true;  // false: keep every host's times as recorded (PTP-synced hosts)
};

// Part files in a directory ("*.moetune"), sorted by name.
std::vector<std::filesystem::path> find_parts(const std::filesystem::path& dir);

Expected<MergeReport> merge_parts(const std::vector<std::filesystem::path>& parts, TraceWriter& out,
                                  const MergeOptions& opts = {});

}  // namespace moetune::live
