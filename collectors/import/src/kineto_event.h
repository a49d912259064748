// SPDX-License-Identifier: Apache-2.0
// The Kineto importer's two stages: kineto_parse.cpp turns JSON (simdjson ondemand)
// into flat TraceMeta / Event values; kineto_importer.cpp maps Events to store rows.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kineto_internal.h"

namespace moetune::import::kineto {

struct DeviceProps {
  std::int64_t id = -1;
  std::string name;
  std::int64_t memory_bytes = 0;
  int sm_count = 0, cc_major = -1, cc_minor = -1;
};

// Top-level facts of one trace (everything but the events).
struct TraceMeta {
  std::optional<std::int64_t> base_time_ns;  // "baseTimeNanoseconds"
  std::optional<std::int64_t> rank;          // "distributedInfo": {"rank": N}
  std::vector<DeviceProps> devices;          // "deviceProperties"
  bool has_events = false;                   // "traceEvents" is an array
  // The top level is the events array itself: the legacy autograd-profiler export of a
  // PyTorch built without Kineto (e.g. Debian's python3-torch). Its events have no
  // "cat": record_function ranges named moe:/moe./ProfilerStep# read as user_annotation.
  bool legacy_array = false;
};

// One traceEvents entry, only the fields the importer uses. String views point into
// the loaded buffer or simdjson's string buffer and live as long as the parse.
struct Event {
  std::string_view ph, cat, name, bp;
  std::int64_t pid = 0, tid = 0;
  bool pid_is_int = false;
  bool has_ts = false, has_dur = false, bad_ts = false, has_id = false;
  std::int64_t ts_ns = 0, dur_ns = 0;  // raw (no base added)
  std::int64_t id = 0;                 // flow id
  // args
  std::optional<std::int64_t> correlation, device, stream, bytes;
  std::int64_t grid = 0, block = 0;
  // NCCL metadata args
  std::string_view coll_name, dtype, pg_name, in_split, out_split, pg_ranks;
  std::optional<std::int64_t> in_nelems, out_nelems, group_size, nccl_rank, seq;
  std::string_view arg_name;  // args.name of metadata events (thread_name, process_name)
};

// Parses FILE's JSON: first the top-level facts (meta), then calls on_meta once
// (which may fail, e.g. no rank), then on_event for each event in order until it
// returns false (the import was given up: the rest is not read).
// `progress(bytes_done, bytes_total)` is called every few thousand events.
// Returns the first JSON error as "FILE: invalid JSON (...) near byte N".
Expected<void> parse_trace(const std::filesystem::path& file, simdjson::padded_string_view json,
                           simdjson::ondemand::parser& parser,
                           const std::function<Expected<void>(const TraceMeta&)>& on_meta,
                           const std::function<bool(const Event&)>& on_event,
                           const std::function<void(std::uint64_t, std::uint64_t)>& progress);

}  // namespace moetune::import::kineto
