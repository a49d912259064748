// SPDX-License-Identifier: Apache-2.0
// Plain row types, one per table of schema.sql (see that file for units and meaning).
// Times are int64 ns on the run clock; durations ns.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "moetune/trace/ids.h"
#include "moetune/trace/op_list.h"

namespace moetune {

inline constexpr int kFormatVersion = 3;

struct RankRow {
  RankId rank;
  std::string host;
  std::int64_t pid = 0;
  int device = -1;
  std::string gpu_name, gpu_uuid, bus_id;
  std::int64_t clock_offset_ns = 0;
  std::string source;
  int sm_count = 0;
  std::int64_t memory_bytes = 0;
  std::string compute_cap;
  int pcie_gen = 0, pcie_width = 0;
};

struct KernelRow {
  std::int64_t id = 0;  // filled by the reader
  RankId rank;
  StreamId stream;
  std::int64_t start_ns = 0, dur_ns = 0;
  StringId name;
  std::int64_t correlation = 0;
  std::int64_t grid = 0, block = 0;  // packed x | y<<21 | z<<42
  std::int64_t end_ns() const { return start_ns + dur_ns; }
};

inline constexpr std::int64_t pack_dim3(std::int64_t x, std::int64_t y, std::int64_t z) {
  return x | (y << 21) | (z << 42);
}

enum class CopyKind : int { Unknown = 0, HtoD = 1, DtoH = 2, DtoD = 8, PtoP = 10 };

struct MemcpyRow {
  std::int64_t id = 0;
  RankId rank;
  StreamId stream;
  std::int64_t start_ns = 0, dur_ns = 0, bytes = 0;
  CopyKind kind = CopyKind::Unknown;
  int src_device = -1, dst_device = -1;
  std::int64_t correlation = 0;
  std::int64_t end_ns() const { return start_ns + dur_ns; }
};

struct MemsetRow {
  std::int64_t id = 0;
  RankId rank;
  StreamId stream;
  std::int64_t start_ns = 0, dur_ns = 0, bytes = 0;
  std::int64_t correlation = 0;
  std::int64_t end_ns() const { return start_ns + dur_ns; }
};

enum class ApiKind : int { Runtime = 1, Driver = 2, Sync = 3 };

struct ApiCallRow {
  std::int64_t id = 0;
  RankId rank;
  std::int64_t tid = 0;
  std::int64_t start_ns = 0, dur_ns = 0;
  StringId name;
  ApiKind kind = ApiKind::Runtime;
  std::int64_t correlation = 0;
  std::int64_t end_ns() const { return start_ns + dur_ns; }
};

struct NvtxRow {
  std::int64_t id = 0;
  RankId rank;
  std::int64_t tid = 0;
  std::int64_t start_ns = 0, dur_ns = 0;
  StringId name, domain;
  std::optional<std::string> payload;  // JSON text
  std::int64_t end_ns() const { return start_ns + dur_ns; }
};

struct NcclOpRow {
  std::int64_t id = 0;
  RankId rank;
  std::optional<std::string> comm_hash;
  std::int64_t seq = -1;
  std::string func;
  std::optional<std::string> algo, proto;
  int channels = 0;
  std::int64_t count = 0;
  std::optional<std::string> dtype;
  std::int64_t bytes = 0;
  int peer = -1, root = -1, nranks = 0;
  std::optional<std::int64_t> enqueue_ns;
  std::int64_t start_ns = 0, end_ns = 0;
  std::int64_t stream = 0;
  std::optional<std::int64_t> kernel_id;
  OpList in_splits, out_splits;  // JSON arrays (op_list.h): per-peer split sizes (all-to-all)
  std::optional<std::string> pg_name;
  OpList pg_ranks;  // JSON array of the group's global ranks (shared by the group's ops)
  std::int64_t dur_ns() const { return end_ns - start_ns; }
};

struct ExpertRoutingRow {
  std::int64_t step = 0;
  int layer = 0;
  RankId rank;
  int expert = 0;
  std::int64_t tokens = 0;
  std::optional<std::int64_t> time_ns;
};

struct ExpertPlacementRow {
  int layer = 0, expert = 0;
  RankId rank;
  int replica = 0;
};

struct TopologyRow {
  std::string host, a, b;
  std::optional<std::int64_t> rank_a, rank_b;
  std::string link;
  std::optional<double> bandwidth_gbps;
  std::string source;
};

struct StepRow {
  RankId rank;
  std::int64_t step = 0;
  std::int64_t start_ns = 0, end_ns = 0;
  std::optional<std::int64_t> tokens;
};

struct BenchResultRow {
  std::string source, func;
  int nranks = 0;
  std::int64_t bytes = 0, count = 0;
  std::string dtype;
  double time_us = 0, algbw_gbps = 0, busbw_gbps = 0;
  bool in_place = false;
};

enum class Severity { Info, Error, DataLoss };
const char* to_string(Severity s);

struct StatRow {
  std::string name;
  Severity severity = Severity::Info;
  std::int64_t value = 0;
  std::optional<std::int64_t> rank;
  std::string description;
};

}  // namespace moetune
