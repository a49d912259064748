// SPDX-License-Identifier: Apache-2.0
// TraceReader: read access to a run file. Opens read-only, checks it is a moetune
// store (every table and column of the schema, PRAGMA quick_check, cached counts vs the
// tables; busy/locked told from corrupt) and refuses a negative or newer format. Queries
// select the columns of the table descriptors (tables.h); format 3's compact tables
// (expert_counts, topology domains) are read back as the rows that were written. Range queries use the (rank, start_ns) index:
// an event overlaps [t0, t1) if start < t1 and start + dur > t0; the lower bound on
// start is t0 - (longest duration in the table), computed once per table.
// Strings are loaded once into memory (they are few compared with events); a sparse
// strings table is renumbered densely (memory follows rows, not the largest id).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moetune/trace/db.h"
#include "moetune/trace/rows.h"
#include "moetune/trace/tables.h"

namespace moetune {

inline constexpr std::int64_t kTimeMin = INT64_MIN / 4;
inline constexpr std::int64_t kTimeMax = INT64_MAX / 4;

struct TableCounts {
  std::map<std::string, std::int64_t> by_table;  // table name -> row count
  std::int64_t get(const std::string& t) const {
    auto it = by_table.find(t);
    return it == by_table.end() ? 0 : it->second;
  }
};

class TraceReader {
 public:
  // `check`: run PRAGMA quick_check and the cached-count check (one pass over the file);
  // a second connection to a file already opened with checks may skip them.
  static Expected<std::unique_ptr<TraceReader>> open(const std::filesystem::path& path, bool check = true);

  int format_version() const { return version_; }
  const std::filesystem::path& path() const { return db_->path(); }
  Db& db() { return *db_; }

  const std::string& str(StringId id) const;
  // The in-memory id of a string id stored in a row (identity unless the strings table
  // was sparse and renumbered on open; unknown ids give an invalid StringId).
  StringId sid(std::int64_t stored) const;
  // Stored times are read within [kTimeMin, kTimeMax] and durations within [0, kTimeMax]
  // (so start + dur cannot overflow in an analysis); each change is counted and shown
  // as the stat "store_values_clamped".
  std::int64_t time(std::int64_t v) const {
    if (v >= kTimeMin && v <= kTimeMax) return v;
    ++clamped_;
    return v < 0 ? kTimeMin : kTimeMax;
  }
  std::int64_t dur(std::int64_t v) const {
    if (v >= 0 && v <= kTimeMax) return v;
    ++clamped_;
    return v < 0 ? 0 : kTimeMax;
  }
  const std::vector<std::string>& strings() const { return strings_; }

  // Every query returns the rows or an error "FILE: table T: what failed" (a damaged page,
  // a table that cannot be read): a failed read is never an empty result.
  Expected<std::map<std::string, std::string>> meta();
  Expected<std::vector<RankRow>> ranks();
  // The stats table plus what the open checks and the clamping of read values found.
  Expected<std::vector<StatRow>> stats();
  Expected<TableCounts> counts();
  // Earliest start and latest end over all event tables; {0,0} when empty.
  Expected<std::pair<std::int64_t, std::int64_t>> time_range();

  // Events of one rank overlapping [t0, t1), ordered by start. rank < 0: all ranks.
  Expected<std::vector<KernelRow>> kernels(RankId rank = RankId(), std::int64_t t0 = kTimeMin,
                                           std::int64_t t1 = kTimeMax);
  Expected<std::vector<MemcpyRow>> memcpys(RankId rank = RankId(), std::int64_t t0 = kTimeMin,
                                           std::int64_t t1 = kTimeMax);
  Expected<std::vector<MemsetRow>> memsets(RankId rank = RankId(), std::int64_t t0 = kTimeMin,
                                           std::int64_t t1 = kTimeMax);
  Expected<std::vector<ApiCallRow>> api_calls(RankId rank = RankId(), std::int64_t t0 = kTimeMin,
                                              std::int64_t t1 = kTimeMax);
  Expected<std::vector<NvtxRow>> nvtx(RankId rank = RankId(), std::int64_t t0 = kTimeMin, std::int64_t t1 = kTimeMax);
  Expected<std::vector<NcclOpRow>> nccl_ops(RankId rank = RankId(), std::int64_t t0 = kTimeMin,
                                            std::int64_t t1 = kTimeMax);
  Expected<std::vector<StepRow>> steps(RankId rank = RankId());
  Expected<std::vector<ExpertRoutingRow>> expert_routing();
  Expected<std::vector<ExpertPlacementRow>> expert_placement();
  Expected<std::vector<TopologyRow>> topology();
  Expected<std::vector<BenchResultRow>> bench_results();

  // Streams every kernel (all ranks) ordered by (rank, start) without materialising a vector.
  Expected<void> for_each_kernel(const std::function<void(const KernelRow&)>& fn);
  // Streams every API call in storage order (no index lookups; writers store them per
  // rank in time order, so this is usually sorted already).
  Expected<void> for_each_api_call_stored(const std::function<void(const ApiCallRow&)>& fn);

  // The integrity pass open() runs (PRAGMA quick_check + stored counts vs the tables): one
  // read of the whole file, so open() runs it only on files up to kAutoCheckBytes (a
  // 500 MB run takes ~3 s) and records "integrity_check_skipped" above; `full` runs it
  // whatever the size (`moetune info --check`).
  static constexpr std::uintmax_t kAutoCheckBytes = 256ull << 20;
  Expected<void> check_integrity(bool full = false);

 private:
  TraceReader() = default;
  // "FILE: table T: what" for a query on `table` that failed.
  Error table_error(std::string_view table, const std::string& what) const;
  // Runs "SELECT <the table's columns> FROM <table><tail>" and hands each decoded row to fn
  // (and its rowid, when fn takes (Row&&, std::int64_t)).
  template <class T, class Fn>
  Expected<void> scan(const T& table, const std::string& tail, Fn&& fn);
  template <class T>
  Expected<std::vector<typename T::row_type>> select(const T& table, const std::string& tail);
  template <class T>
  Expected<std::vector<typename T::row_type>> select_all(const T& table);  // in the table's order_by
  template <class T>
  Expected<std::vector<typename T::row_type>> select_range(const T& table, RankId rank, std::int64_t t0,
                                                           std::int64_t t1);
  template <class Row, class C>
  void decode(const Statement& st, int i, Row& row, const C& c);
  // One integer from `sql` on `table` (nullopt: no row or NULL).
  Expected<std::optional<std::int64_t>> scalar(std::string_view table, const std::string& sql);
  Expected<std::int64_t> max_dur(std::string_view table, bool has_dur);
  // Facts TraceWriter::finish() stored in meta ("store.counts", "store.max_dur_ns", "store.time_range_ns").
  Expected<std::map<std::string, std::int64_t>> meta_numbers(const char* key);
  Expected<std::optional<std::string>> meta_value(const char* key);

  // nccl_ops list column `col` of the current row (op_list.h): an id into nccl_lists
  // (format 2, shared per distinct list through lists_), TEXT (format 1 / verbatim) or NULL.
  OpList list_at(const Statement& st, int col);
  std::unordered_map<std::int64_t, OpList> lists_;
  std::optional<Statement> list_query_;
  std::string list_error_;  // a list that could not be read (reported by the query that asked)

  std::unique_ptr<Db> db_;
  int version_ = 0;
  std::vector<std::string> strings_;
  bool remap_strings_ = false;
  std::unordered_map<std::int64_t, std::int64_t> string_ids_;  // stored id -> index, when renumbered
  std::map<std::string, std::int64_t, std::less<>> max_dur_;
  std::map<std::string, std::int64_t> verified_counts_;  // count(*) per table, when checked on open
  std::vector<StatRow> integrity_stats_;  // what the open checks found (shown with stats())
  mutable std::int64_t clamped_ = 0;      // values time()/dur() changed
};

}  // namespace moetune
