// SPDX-License-Identifier: Apache-2.0
// Internals of the Nsight Systems SQLite importer, shared by its nsys_*.cpp files.
//
// NsysImport holds one export being read: the open read-only Db, the StringIds table
// (loaded once; ids are sparse, so a hash map), the time offset that turns the
// export's timestamps into CLOCK_REALTIME ns, and the pid -> rank map. The stages
// (activity tables, NVTX, NCCL) run in a fixed order and each reads one table once
// with a single prepared statement; only the few rows other stages need (comm
// kernels, their launch calls, NCCL NVTX ranges) are kept in memory.
// Every SQL error (corrupt file) is remembered in `error` and ends the import.
#pragma once
#include <climits>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moetune/import/import.h"
#include "moetune/trace/db.h"

namespace moetune::import::nsys_detail {

// nsys "Serialized GlobalId": hardware/vm id in the top bits, pid in bits 24..47,
// tid in bits 0..23.
inline std::int64_t pid_of(std::int64_t global_id) { return (global_id >> 24) & 0xFFFFFF; }
inline std::int64_t tid_of(std::int64_t global_id) { return global_id & 0xFFFFFF; }

// A communication kernel remembered for the NCCL stage.
struct CommKernel {
  RankId rank;
  std::int64_t pid = 0, correlation = 0, start_ns = 0, end_ns = 0, stream = 0, kernel_id = 0;
  std::string name;                       // short name, e.g. "ncclDevKernel_SendRecv"
  std::optional<std::int64_t> launch_tid;  // thread of the launching API call (from RUNTIME)
  std::int64_t launch_ns = 0;              // start of that call, run clock
};

// An NCCL API range from the NCCL NVTX domain (ncclSend, ncclAllReduce, ...).
struct NcclApiRange {
  std::int64_t pid = 0, tid = 0, start_ns = 0, end_ns = 0;
  std::string name;     // NVTX text, e.g. "ncclSend"
  std::string payload;  // decoded payload JSON ("" none)
};

struct NsysImport {
  const std::filesystem::path& file;
  Db& db;
  TraceWriter& w;
  ImportContext& ctx;
  std::unordered_map<std::int64_t, std::string> strings;  // StringIds
  std::int64_t time_offset = 0;                            // added to every export timestamp
  std::map<std::int64_t, RankId> rank_of_pid;              // processes that are ranks
  std::vector<CommKernel> comm_kernels;
  std::vector<NcclApiRange> nccl_ranges;
  std::map<std::string, std::int64_t> dropped;  // rows of processes that are not ranks, by table
  std::string error;                             // first SQL error, "" none

  const std::string& str(std::int64_t id) const;
  std::optional<RankId> rank(std::int64_t pid) const {
    auto it = rank_of_pid.find(pid);
    if (it == rank_of_pid.end()) return std::nullopt;
    return it->second;
  }
  // Export time -> run clock; a sum past INT64 saturates and is counted (time_overflows).
  std::int64_t t(std::int64_t raw) {
    std::int64_t out;
    if (!__builtin_add_overflow(raw, time_offset, &out) && out <= INT64_MAX / 4 && out >= INT64_MIN / 4) return out;
    ++time_overflows;  // the store's time range is +-INT64_MAX/4 (reader.h kTimeMin/kTimeMax)
    return raw > 0 ? INT64_MAX / 4 : INT64_MIN / 4;
  }
  // end - start, 0 (counted in clamped) when end < start or the difference is out of range.
  std::int64_t dur(std::int64_t start, std::int64_t end) {
    std::int64_t d;
    if (__builtin_sub_overflow(end, start, &d) || d < 0 || d > INT64_MAX / 4) {
      ++clamped;
      return 0;
    }
    return d;
  }
  std::int64_t time_overflows = 0, clamped = 0, unknown_names = 0;
  // Column expression: `col` if the table has it, else NULL (older/newer exports differ).
  std::string col(const std::string& table, const std::string& column, const char* fallback = "NULL");
  // Prepares sql; on failure records the error and returns an empty Statement.
  Statement prepare(const std::string& sql);
  // After a step() loop: records an error if the loop ended on anything but SQLITE_DONE.
  bool finished_ok(const Statement& st, const char* what);
  std::map<std::string, std::vector<std::string>> columns_cache;
};

// Stages, in the order import_nsys runs them.
bool import_activity(NsysImport& im);  // kernels, memcpy, memset, runtime, synchronization
bool import_nvtx(NsysImport& im);      // NVTX ranges/marks, payloads, steps, moe routing/placement
bool import_nccl(NsysImport& im);      // nccl_ops from comm kernels joined with NCCL NVTX ranges

// ---- pure helpers (unit-tested) ----

// Parsed NCCL kernel name: "ncclDevKernel_AllReduce_Sum_f32_RING_LL" ->
// {func "AllReduce", redop "Sum", dtype "f32", algo "Ring", proto "LL"}.
struct NcclKernelName {
  std::string func;
  std::optional<std::string> redop, dtype, algo, proto;
};
bool is_nccl_kernel(std::string_view name);
std::optional<NcclKernelName> parse_nccl_kernel(std::string_view name);

// One entry of an NVTX payload schema (NVTX_PAYLOAD_SCHEMA_ENTRIES).
struct PayloadEntry {
  std::int64_t type = 0;
  std::string name;
  std::optional<std::int64_t> offset;
};
struct PayloadSchema {
  std::int64_t domain = 0, id = 0, size = 0;
  std::string name;
  std::vector<PayloadEntry> entries;  // by idx
};
// Decodes a binary payload laid out per `schema` into a JSON object text; nullopt if
// the data is too short for the schema. Integer entries become numbers, strings text.
std::optional<std::string> decode_payload(const PayloadSchema& schema, std::string_view data);
// nsys stores binaryData as a BLOB or as hex text; returns the raw bytes.
std::string payload_bytes(std::string_view column, bool is_text);

}  // namespace moetune::import::nsys_detail
