// SPDX-License-Identifier: Apache-2.0
// Chrome trace (Perfetto / chrome://tracing) export of a run store.
// One pid per rank ("rank N"), one track (tid) per GPU stream, host thread, GPU
// annotation lane and NCCL-op lane; complete "X" events that nest properly on every
// track: events are sorted by (start, longer first) and an event that would overlap its
// parent's end goes to an extra lane (a new tid) instead. Kernels carry args (correlation,
// stream, device, grid, block) and, for NCCL kernels, the Kineto NCCL metadata
// (Collective name, msg nelems, dtype, Group size, split sizes, algo, proto, seq), so the
// file re-imports with the Kineto importer. Streaming writer; memory = one rank's events.
// `out` ending in ".gz" is gzip-compressed while it streams (zlib); "-" writes to stdout.
// Annotations (the analysis' findings) go on a "moetune findings" track of their rank.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "moetune/trace/reader.h"
#include "moetune/trace/result.h"

namespace moetune::exporters {

// One annotation: a complete event on the rank's "moetune findings" track.
struct ChromeAnnotation {
  std::int64_t rank = 0, start_ns = 0, end_ns = 0;
  std::string name;
  std::string args;  // JSON object members without braces ("\"id\":\"x\",..."), or ""
};

struct ChromeExportOptions {
  // Only this rank, in Kineto's per-rank layout (distributedInfo.rank, deviceProperties),
  // so `moetune import` reads it back as that rank. Unset: every rank, one pid each.
  std::optional<std::int64_t> rank;
  // Also write ac2g flow events (s at the launching API call, f at the kernel) so Perfetto
  // draws launch arrows; off by default (it adds two events per kernel).
  bool flows = false;
  std::vector<ChromeAnnotation> annotations;
};

struct ChromeExportStats {
  std::int64_t events = 0, kernels = 0, tracks = 0, extra_lanes = 0, flows = 0, bytes = 0;
};

Expected<ChromeExportStats> export_chrome(TraceReader& r, const std::filesystem::path& out,
                                          const ChromeExportOptions& opts = {});

}  // namespace moetune::exporters
