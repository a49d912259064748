// SPDX-License-Identifier: Apache-2.0
// The store's tables, one descriptor each: its columns (SQL type, unit, one-line doc) and
// the row field each column holds. TraceWriter binds, TraceReader selects and `info`
// counts from these; trace/schema.sql is the readable CREATE TABLE text and
// tests/trace/schema_desc_test.cpp checks that both name the same tables, views and
// columns, with the same types, columns in the same order. Adding a column: its field in
// rows.h, a col() line here, the column in schema.sql.
// Format 3 stores two kinds of rows compactly (trace/src/compact_store.h): the logical
// expert_routing rows as expert_counts lists (expert_routing is a table of formats 1-2
// only: TableInfo::until), topology pairs of a uniform GPU domain as topology_domains +
// topology_domain_gpus (the view topology_pairs lists all pairs).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "moetune/trace/rows.h"

namespace moetune {

// How a column's stored value becomes the field (the writer stores the field as it is,
// except AutoId columns, which SQLite assigns).
enum class Codec {
  Plain,   // the field's own type (integer, real, text, enum as its number, Severity as text)
  AutoId,  // INTEGER PRIMARY KEY assigned by SQLite: read, never written
  Time,    // ns on the run clock, read clamped to [kTimeMin, kTimeMax] (TraceReader::time)
  Dur,     // ns duration, read clamped to [0, kTimeMax] (TraceReader::dur)
  End,     // ns end time, read as max(start_ns, clamped value)
  Str,     // StringId into `strings`, read through TraceReader::sid (renumbered strings)
  IntId,   // small id (layer, expert, replica): out of int range reads as -1
  Blob,    // bytes, stored as a BLOB
  Dim3,    // packed grid/block (rows.h pack_dim3); format 3 stores it as dim3_store.h says
};

struct ColumnInfo {
  std::string_view name, sql_type, unit, doc;
  Codec codec = Codec::Plain;
};

// Table roles (flags): which tables `info` counts, which hold timed events.
enum TableFlag : unsigned {
  kCounted = 1,  // the writer records its row count in meta "store.counts"; info lists it
  kRanged = 2,   // (rank, start_ns) range queries; in the time range and "store.max_dur_ns"
  kEvents = 4,   // an event table (the GUI sizes its first window by these counts)
  kSummary = 8,  // counted by TraceReader::counts() although not in "store.counts" (ranks)
  kView = 16,    // a view over other tables: selected, never written or checked page by page
};

struct TableInfo {
  std::string_view name;
  int since = 1;               // format version that added the table
  unsigned flags = 0;          // TableFlag bits
  std::string_view order_by;   // the reader's default order ("" none)
  std::string_view insert_verb = "INSERT";  // "INSERT OR REPLACE" for keyed facts
  std::string_view doc;
  int until = 0;  // last format version that stores the table (0: the current one does)
  constexpr bool current() const { return until == 0; }
  constexpr bool in_format(int version) const { return since <= version && (until == 0 || version <= until); }
};

template <class Row, class F, Codec C>
struct Column {
  static constexpr Codec codec = C;
  ColumnInfo info;
  F Row::*member;
};

template <Codec C = Codec::Plain, class Row, class F>
constexpr Column<Row, F, C> col(std::string_view name, F Row::*m, std::string_view type, std::string_view unit,
                                std::string_view doc) {
  return {{name, type, unit, doc, C}, m};
}

template <class R, class... C>
struct Table {
  using row_type = R;
  TableInfo info;
  std::tuple<C...> cols;
  static constexpr std::size_t size = sizeof...(C);
  constexpr std::array<ColumnInfo, sizeof...(C)> columns() const {
    return std::apply([](const auto&... c) { return std::array<ColumnInfo, sizeof...(C)>{c.info...}; }, cols);
  }
};

template <class R, class... C>
constexpr Table<R, C...> table(TableInfo info, std::tuple<C...> cols) {
  return {info, cols};
}

// Rows of the store's bookkeeping tables (meta, strings, nccl_lists).
struct MetaRow {
  std::string key, value;
};
// strings.value as stored: text, or (format 3) a BLOB packing a long integer-list tail
// (trace/src/string_pack.cpp).
struct StoredText {
  std::string bytes;
  bool blob = false;
};
struct StringRow {
  std::int64_t id = 0;
  StoredText value;
};
struct ListRow {
  std::int64_t id = 0;
  std::string data;  // stored list (op_list.h OpList::stored)
};
// Format 3's compact rows (trace/src/compact_store.h). One expert_counts row holds the
// logical expert_routing rows of one (step, layer, rank, report time).
struct ExpertCountsRow {
  std::int64_t step = 0, layer = 0;
  RankId rank;
  std::optional<std::int64_t> time_ns;
  std::int64_t n = 0;                  // entries
  std::int64_t expert0 = 0;            // first expert (consecutive when experts is NULL)
  std::optional<std::string> experts;  // stored list (OpList::stored) or NULL
  std::string tokens;                  // stored list
};
struct TopoDomainRow {
  std::int64_t id = 0, after_row = 0;
  std::string host, link;
  std::optional<double> bandwidth_gbps;
  std::string source;
};
struct TopoDomainGpuRow {
  std::int64_t domain = 0, idx = 0;
  std::string label;
  std::optional<std::int64_t> rank;
};

namespace tables {

constexpr std::string_view kI = "INTEGER", kT = "TEXT", kR = "REAL", kB = "BLOB", kNs = "ns";

// The columns every event table starts with: id, rank, the stream or thread, start, duration.
template <class R, Codec IdCodec = Codec::AutoId, class L>
constexpr auto event_head(std::string_view lane, L R::*lane_member, std::string_view lane_doc) {
  return std::tuple{col<IdCodec>("id", &R::id, kI, "", "row id"),
                    col("rank", &R::rank, kI, "", "global rank"),
                    col(lane, lane_member, kI, "", lane_doc),
                    col<Codec::Time>("start_ns", &R::start_ns, kI, kNs, "start on the run clock"),
                    col<Codec::Dur>("dur_ns", &R::dur_ns, kI, kNs, "duration")};
}
template <class R>
constexpr auto corr(std::int64_t R::*m) {
  return col("correlation", m, kI, "", "launch correlation id");
}

inline constexpr auto kMeta = table<MetaRow>(
    {"meta", 1, 0, "", "INSERT OR REPLACE", "free-form facts about the run"},
    std::tuple{col("key", &MetaRow::key, kT, "", "fact name"), col("value", &MetaRow::value, kT, "", "fact value")});

inline constexpr auto kRanks = table<RankRow>(
    {"ranks", 1, kSummary, "rank", "INSERT OR REPLACE", "one row per rank (process) of the job"},
    std::tuple{col("rank", &RankRow::rank, kI, "", "global rank, 0-based"),
               col("host", &RankRow::host, kT, "", "host name"),
               col("pid", &RankRow::pid, kI, "", "OS process id"),
               col("device", &RankRow::device, kI, "", "CUDA device ordinal (-1 unknown)"),
               col("gpu_name", &RankRow::gpu_name, kT, "", "GPU product name"),
               col("gpu_uuid", &RankRow::gpu_uuid, kT, "", "GPU UUID"),
               col("bus_id", &RankRow::bus_id, kT, "", "PCIe bus id"),
               col("clock_offset_ns", &RankRow::clock_offset_ns, kI, kNs, "added to raw times for the run clock"),
               col("source", &RankRow::source, kT, "", "what produced the rank"),
               col("sm_count", &RankRow::sm_count, kI, "", "streaming multiprocessors (0 unknown)"),
               col("memory_bytes", &RankRow::memory_bytes, kI, "bytes", "device memory (0 unknown)"),
               col("compute_cap", &RankRow::compute_cap, kT, "", "compute capability"),
               col("pcie_gen", &RankRow::pcie_gen, kI, "", "PCIe generation (0 unknown)"),
               col("pcie_width", &RankRow::pcie_width, kI, "lanes", "PCIe link width (0 unknown)")});

inline constexpr auto kStrings = table<StringRow>(
    {"strings", 1, 0, "id", "INSERT", "interned strings"},
    std::tuple{col("id", &StringRow::id, kI, "", "id referenced by *_id columns"),
               col("value", &StringRow::value, kT, "", "the text (format 3: a long integer-list tail may be packed)")});

inline constexpr auto kKernels = table<KernelRow>(
    {"kernels", 1, kCounted | kRanged | kEvents, "rank, start_ns", "INSERT", "GPU kernel executions"},
    std::tuple_cat(event_head<KernelRow, Codec::Plain>("stream", &KernelRow::stream, "CUDA stream id"),
                   std::tuple{col<Codec::Str>("name_id", &KernelRow::name, kI, "", "kernel name -> strings"),
                              corr(&KernelRow::correlation),
                              col<Codec::Dim3>("grid", &KernelRow::grid, kI, "", "grid size, x | y<<21 | z<<42"),
                              col<Codec::Dim3>("block", &KernelRow::block, kI, "", "block size, x | y<<21 | z<<42")}));

inline constexpr auto kMemcpys = table<MemcpyRow>(
    {"memcpys", 1, kCounted | kRanged | kEvents, "rank, start_ns", "INSERT", "memory copies"},
    std::tuple_cat(event_head<MemcpyRow>("stream", &MemcpyRow::stream, "CUDA stream id"),
                   std::tuple{col("bytes", &MemcpyRow::bytes, kI, "bytes", "bytes copied"),
                              col("kind", &MemcpyRow::kind, kI, "", "CUPTI copy kind (CopyKind)"),
                              col("src_device", &MemcpyRow::src_device, kI, "", "source device (-1 unknown)"),
                              col("dst_device", &MemcpyRow::dst_device, kI, "", "destination device (-1 unknown)"),
                              corr(&MemcpyRow::correlation)}));

inline constexpr auto kMemsets = table<MemsetRow>(
    {"memsets", 1, kCounted | kRanged | kEvents, "rank, start_ns", "INSERT", "memsets"},
    std::tuple_cat(event_head<MemsetRow>("stream", &MemsetRow::stream, "CUDA stream id"),
                   std::tuple{col("bytes", &MemsetRow::bytes, kI, "bytes", "bytes set"), corr(&MemsetRow::correlation)}));

inline constexpr auto kApiCalls = table<ApiCallRow>(
    {"api_calls", 1, kCounted | kRanged | kEvents, "rank, start_ns", "INSERT", "CUDA runtime/driver calls, sync waits"},
    std::tuple_cat(event_head<ApiCallRow>("tid", &ApiCallRow::tid, "OS thread id"),
                   std::tuple{col<Codec::Str>("name_id", &ApiCallRow::name, kI, "", "API name -> strings"),
                              col("kind", &ApiCallRow::kind, kI, "", "1 runtime, 2 driver, 3 sync (ApiKind)"),
                              corr(&ApiCallRow::correlation)}));

inline constexpr auto kNvtx = table<NvtxRow>(
    {"nvtx", 1, kCounted | kRanged | kEvents, "rank, start_ns", "INSERT", "annotations: NVTX, user annotations"},
    std::tuple_cat(event_head<NvtxRow>("tid", &NvtxRow::tid, "OS thread id (0 GPU-side)"),
                   std::tuple{col<Codec::Str>("name_id", &NvtxRow::name, kI, "", "message -> strings"),
                              col<Codec::Str>("domain_id", &NvtxRow::domain, kI, "", "domain or category -> strings"),
                              col("payload", &NvtxRow::payload, kT, "", "decoded payload as JSON, or NULL")}));

inline constexpr auto kNcclOps = table<NcclOpRow>(
    {"nccl_ops", 1, kCounted | kRanged | kEvents, "rank, start_ns", "INSERT", "NCCL operations, one row per rank per op"},
    std::tuple{col<Codec::AutoId>("id", &NcclOpRow::id, kI, "", "row id"),
               col("rank", &NcclOpRow::rank, kI, "", "global rank"),
               col("comm_hash", &NcclOpRow::comm_hash, kT, "", "communicator id; NULL unknown"),
               col("seq", &NcclOpRow::seq, kI, "", "per-communicator sequence number (-1 unknown)"),
               col("func", &NcclOpRow::func, kT, "", "collective or point-to-point function"),
               col("algo", &NcclOpRow::algo, kT, "", "algorithm; NULL unknown"),
               col("proto", &NcclOpRow::proto, kT, "", "protocol; NULL unknown"),
               col("channels", &NcclOpRow::channels, kI, "", "channels used (0 unknown)"),
               col("count", &NcclOpRow::count, kI, "elements", "element count"),
               col("dtype", &NcclOpRow::dtype, kT, "", "element type"),
               col("bytes", &NcclOpRow::bytes, kI, "bytes", "payload this rank contributes"),
               col("peer", &NcclOpRow::peer, kI, "", "peer rank for Send/Recv (-1 none)"),
               col("root", &NcclOpRow::root, kI, "", "root rank (-1 none)"),
               col("nranks", &NcclOpRow::nranks, kI, "", "communicator size (0 unknown)"),
               col("enqueue_ns", &NcclOpRow::enqueue_ns, kI, kNs, "host enqueue time (NULL unknown)"),
               col<Codec::Time>("start_ns", &NcclOpRow::start_ns, kI, kNs, "GPU start of the op's kernel"),
               col<Codec::End>("end_ns", &NcclOpRow::end_ns, kI, kNs, "GPU end"),
               col("stream", &NcclOpRow::stream, kI, "", "CUDA stream id of the op's kernel"),
               col("kernel_id", &NcclOpRow::kernel_id, kI, "", "kernels.id of the op's kernel, NULL none"),
               col("in_splits", &NcclOpRow::in_splits, kB, "", "input splits: id -> nccl_lists, or JSON text"),
               col("out_splits", &NcclOpRow::out_splits, kB, "", "output splits, same encoding"),
               col("pg_name", &NcclOpRow::pg_name, kT, "", "process group name"),
               col("pg_ranks", &NcclOpRow::pg_ranks, kB, "", "process group ranks, same encoding")});

inline constexpr auto kNcclLists = table<ListRow>(
    {"nccl_lists", 2, 0, "id", "INSERT", "integer lists of nccl_ops, each distinct list once"},
    std::tuple{col("id", &ListRow::id, kI, "", "referenced by nccl_ops list columns"),
               col<Codec::Blob>("data", &ListRow::data, kB, "", "stored list (op_list.h, bit-packed where smaller)")});

// The logical routing rows: a table in formats 1-2, stored as expert_counts since 3 (its
// count in "store.counts" stays in these rows).
inline constexpr auto kRouting = table<ExpertRoutingRow>(
    {"expert_routing", 1, kCounted, "layer, step, rank, expert", "INSERT", "tokens routed to each expert", 2},
    std::tuple{col("step", &ExpertRoutingRow::step, kI, "", "step index"),
               col<Codec::IntId>("layer", &ExpertRoutingRow::layer, kI, "", "MoE layer index"),
               col("rank", &ExpertRoutingRow::rank, kI, "", "source rank of the tokens"),
               col<Codec::IntId>("expert", &ExpertRoutingRow::expert, kI, "", "logical expert index"),
               col("tokens", &ExpertRoutingRow::tokens, kI, "tokens", "tokens sent to the expert"),
               col("time_ns", &ExpertRoutingRow::time_ns, kI, kNs, "when reported (NULL unknown)")});

inline constexpr auto kExpertCounts = table<ExpertCountsRow>(
    {"expert_counts", 3, 0, "layer, step, rank, rowid", "INSERT",
     "tokens routed to the experts, one list per (step, layer, rank, report time)"},
    std::tuple{col("step", &ExpertCountsRow::step, kI, "", "step index"),
               col("layer", &ExpertCountsRow::layer, kI, "", "MoE layer index"),
               col("rank", &ExpertCountsRow::rank, kI, "", "source rank of the tokens"),
               col("time_ns", &ExpertCountsRow::time_ns, kI, kNs, "when reported (NULL unknown)"),
               col("n", &ExpertCountsRow::n, kI, "", "entries (experts) in the row"),
               col("expert0", &ExpertCountsRow::expert0, kI, "", "first expert"),
               col<Codec::Blob>("experts", &ExpertCountsRow::experts, kB, "",
                                "expert of each entry (stored list), NULL: consecutive from expert0"),
               col<Codec::Blob>("tokens", &ExpertCountsRow::tokens, kB, "tokens",
                                "tokens sent to each entry's expert (stored list)")});

inline constexpr auto kPlacement = table<ExpertPlacementRow>(
    {"expert_placement", 1, kCounted, "layer, expert, replica", "INSERT", "where each expert copy lives"},
    std::tuple{col<Codec::IntId>("layer", &ExpertPlacementRow::layer, kI, "", "MoE layer index"),
               col<Codec::IntId>("expert", &ExpertPlacementRow::expert, kI, "", "logical expert index"),
               col("rank", &ExpertPlacementRow::rank, kI, "", "rank holding this copy"),
               col<Codec::IntId>("replica", &ExpertPlacementRow::replica, kI, "", "0 primary, 1.. replicas")});

// The columns of a GPU pair: the topology table's and the topology_pairs view's.
constexpr auto topology_columns() {
  return std::tuple{col("host", &TopologyRow::host, kT, "", "host name"),
                    col("a", &TopologyRow::a, kT, "", "endpoint label"),
                    col("b", &TopologyRow::b, kT, "", "endpoint label"),
                    col("rank_a", &TopologyRow::rank_a, kI, "", "rank on endpoint a, NULL none"),
                    col("rank_b", &TopologyRow::rank_b, kI, "", "rank on endpoint b, NULL none"),
                    col("link", &TopologyRow::link, kT, "", "link type as nvidia-smi topo names it"),
                    col("bandwidth_gbps", &TopologyRow::bandwidth_gbps, kR, "GB/s", "unidirectional ceiling"),
                    col("source", &TopologyRow::source, kT, "", "where the link came from")};
}

inline constexpr auto kTopology = table<TopologyRow>(
    {"topology", 1, kCounted, "rowid", "INSERT", "links between GPUs (and NICs)"},
    topology_columns());

inline constexpr auto kTopoDomains = table<TopoDomainRow>(
    {"topology_domains", 3, 0, "after_row, id", "INSERT", "GPUs every pair of which has the same link"},
    std::tuple{col("id", &TopoDomainRow::id, kI, "", "domain id"),
               col("after_row", &TopoDomainRow::after_row, kI, "", "topology.rowid its pairs follow (0: first)"),
               col("host", &TopoDomainRow::host, kT, "", "host of every pair"),
               col("link", &TopoDomainRow::link, kT, "", "link of every pair"),
               col("bandwidth_gbps", &TopoDomainRow::bandwidth_gbps, kR, "GB/s", "unidirectional ceiling"),
               col("source", &TopoDomainRow::source, kT, "", "where the links came from")});

inline constexpr auto kTopoDomainGpus = table<TopoDomainGpuRow>(
    {"topology_domain_gpus", 3, 0, "domain, idx", "INSERT", "the GPUs of each domain, in pair order"},
    std::tuple{col("domain", &TopoDomainGpuRow::domain, kI, "", "topology_domains.id"),
               col("idx", &TopoDomainGpuRow::idx, kI, "", "position in the domain, 0..n-1"),
               col("label", &TopoDomainGpuRow::label, kT, "", "endpoint label"),
               col("rank", &TopoDomainGpuRow::rank, kI, "", "rank on this GPU, NULL none")});

// Every GPU pair as a topology row: the pair rows, then each domain's pairs (SQL users;
// TraceReader::topology() gives the rows in the order they were added).
inline constexpr auto kTopologyPairs = table<TopologyRow>(
    {"topology_pairs", 3, kView, "", "", "view: topology rows and the pairs of every domain"},
    topology_columns());

inline constexpr auto kSteps = table<StepRow>(
    {"steps", 1, kCounted | kEvents, "rank, start_ns", "INSERT", "steps per rank"},
    std::tuple{col("rank", &StepRow::rank, kI, "", "global rank"),
               col("step", &StepRow::step, kI, "", "step number"),
               col<Codec::Time>("start_ns", &StepRow::start_ns, kI, kNs, "start on the run clock"),
               col<Codec::End>("end_ns", &StepRow::end_ns, kI, kNs, "end on the run clock"),
               col("tokens", &StepRow::tokens, kI, "tokens", "tokens processed (NULL unknown)")});

inline constexpr auto kBench = table<BenchResultRow>(
    {"bench_results", 1, kCounted, "rowid", "INSERT", "measured collective baselines (nccl-tests)"},
    std::tuple{col("source", &BenchResultRow::source, kT, "", "file the numbers came from"),
               col("func", &BenchResultRow::func, kT, "", "collective"),
               col("nranks", &BenchResultRow::nranks, kI, "", "ranks in the test"),
               col("bytes", &BenchResultRow::bytes, kI, "bytes", "message size"),
               col("count", &BenchResultRow::count, kI, "elements", "element count"),
               col("dtype", &BenchResultRow::dtype, kT, "", "element type"),
               col("time_us", &BenchResultRow::time_us, kR, "us", "time per op"),
               col("algbw_gbps", &BenchResultRow::algbw_gbps, kR, "GB/s", "algorithm bandwidth"),
               col("busbw_gbps", &BenchResultRow::busbw_gbps, kR, "GB/s", "bus bandwidth"),
               col("in_place", &BenchResultRow::in_place, kI, "", "1 in-place, 0 out-of-place")});

inline constexpr auto kStats = table<StatRow>(
    {"stats", 1, 0, "rowid", "INSERT", "trace health: dropped, clamped or unknown"},
    std::tuple{col("name", &StatRow::name, kT, "", "stat name"),
               col("severity", &StatRow::severity, kT, "", "info, error or data_loss"),
               col("value", &StatRow::value, kI, "", "count"),
               col("rank", &StatRow::rank, kI, "", "rank it applies to, NULL the whole run"),
               col("description", &StatRow::description, kT, "", "one sentence for humans")});

// Every table and view, of this format and older ones. This order is the order `info`
// lists the counted tables and "store.counts" records them (schema.sql creates steps
// after the topology tables: the files' bytes keep that order).
inline constexpr auto kAll = std::make_tuple(&kMeta, &kRanks, &kStrings, &kKernels, &kMemcpys, &kMemsets, &kApiCalls,
                                             &kNvtx, &kNcclOps, &kNcclLists, &kSteps, &kRouting, &kExpertCounts,
                                             &kPlacement, &kTopology, &kTopoDomains, &kTopoDomainGpus,
                                             &kTopologyPairs, &kBench, &kStats);
inline constexpr std::size_t kCount = std::tuple_size_v<decltype(kAll)>;

// The position of table type T in kAll (writers keep per-table numbers by it). Tables of
// the same row and column types share the first one's slot (topology and the view
// topology_pairs, which nothing writes).
template <class T, class Tuple = std::remove_const_t<decltype(kAll)>>
struct Slot;
template <class T, class... P>
struct Slot<T, std::tuple<P...>> {
  static constexpr std::size_t value = [] {
    std::size_t i = 0;
    (void)((std::is_same_v<P, const T*> ? false : (++i, true)) && ...);
    return i;
  }();
};
template <class T>
inline constexpr std::size_t slot_of = Slot<T>::value;

// True when the table's rows have a dur_ns column (else an end_ns: nccl_ops, steps).
template <class T>
struct HasDur;
template <class R, class... C>
struct HasDur<Table<R, C...>> {
  static constexpr bool value = ((C::codec == Codec::Dur) || ...);
};
template <class T>
inline constexpr bool has_dur = HasDur<std::remove_cvref_t<T>>::value;

}  // namespace tables

// Every table and view (tables::kAll order), without the row types (info, the schema checks).
struct TableDesc {
  TableInfo info;
  std::vector<ColumnInfo> columns;
};
const std::vector<TableDesc>& all_tables();
// The names of the tables with all of `flags`, in schema order.
std::vector<std::string_view> table_names(unsigned flags);

}  // namespace moetune
