// SPDX-License-Identifier: Apache-2.0
// TraceWriter: the one way anything (importers, live collectors, synth) puts events
// into a run file. Rows go through prepared statements inside one transaction per
// batch (default 64k rows). Strings are interned in memory and written once. Output is
// atomic: rows go to "FILE.tmp-PID" and finish() renames it over FILE; a writer
// destroyed without finish() removes the temporary, so a failed import leaves nothing
// behind and never touches an existing FILE.
// Each table's INSERT is made from its descriptor (tables.h).
// Cost (bulk path, measured in bench/README.md): kernels, memcpys, memsets, api_calls
// and nvtx rows are buffered and inserted kBulkRows at a time by multi-row INSERTs
// (one VM run per kBulkRows rows); kernels are sorted by their clustering key
// (rank, start_ns, id) per buffer so B-tree inserts append. An atomic writer's
// temporary is private until the rename, so it runs with journal_mode=OFF and
// synchronous=OFF; the file is fsynced before the rename. The (rank, start_ns) indexes
// are kept up to date per row: on time-ordered input that costs ~10 % fewer
// instructions than one CREATE INDEX sort in finish() (bench/README.md), and it runs
// while parser threads still parse instead of after them. A non-atomic writer (live
// part files, read while written) keeps WAL; flush() writes buffered rows first.
// Errors from SQLite (disk full, ...) are remembered and reported by finish().
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moetune/trace/db.h"
#include "moetune/trace/rows.h"
#include "moetune/trace/tables.h"

namespace moetune {

class RoutingGroups;  // compact tables of format 3 (trace/src/compact_store.h)
class TopoDomains;

struct WriterOptions {
  bool force = false;         // overwrite an existing output file
  bool atomic = true;         // write to a temporary and rename in finish()
  std::size_t batch_rows = 65536;
};

class TraceWriter {
 public:
  static Expected<std::unique_ptr<TraceWriter>> create(const std::filesystem::path& path,
                                                       WriterOptions opts = {});
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  StringId intern(std::string_view s);

  void set_meta(std::string_view key, std::string_view value);
  void add(const RankRow& r);  // insert or replace
  void add(const KernelRow& r);
  void add(const MemcpyRow& r);
  void add(const MemsetRow& r);
  void add(const ApiCallRow& r);
  void add(const NvtxRow& r);
  // Many rows of one table, in order (same rows as add() of each; importers' batches).
  void add_kernels(const std::vector<KernelRow>& rows);
  void add_api_calls(const std::vector<ApiCallRow>& rows);
  void add_nvtx(const std::vector<NvtxRow>& rows);
  // Returns the new nccl_ops.id.
  std::int64_t add(const NcclOpRow& r);
  void add(const ExpertRoutingRow& r);
  void add(const ExpertPlacementRow& r);
  void add(const TopologyRow& r);
  void add(const StepRow& r);
  void add(const BenchResultRow& r);
  void add(const StatRow& r);
  // Returns the id the last add(KernelRow) got.
  std::int64_t last_kernel_id() const { return last_kernel_id_; }

  std::size_t rows_written() const { return rows_; }
  // Commits the current batch without ending the file (live collectors flush this way);
  // routing and topology rows held back for the compact tables are written first.
  Expected<void> flush();
  // Commits, closes, and renames the temporary over the final path.
  Expected<void> finish();
  const std::filesystem::path& path() const { return final_; }
  Db& db() { return *db_; }

 private:
  TraceWriter() = default;
  void row_done();
  void check(int rc);
  Expected<void> begin();
  void finalize_statements();
  // One row into `table` through its one-row INSERT (columns from the descriptor, tables.h).
  template <class T>
  void insert(const T& table, const typename T::row_type& row);
  template <class T>
  void add_row(const T& table, const typename T::row_type& row);
  // Binds the row's columns from parameter c + 1 on; c ends at the last one bound.
  template <class T>
  void bind_row(const T& table, sqlite3_stmt* st, int& c, const typename T::row_type& row);
  void bind_list(sqlite3_stmt* st, int c, const OpList& l);  // writer_lists.cpp
  // Multi-row inserts: kBulkRows rows per statement execution (the event tables).
  static constexpr int kBulkRows = 64;
  void drain_all();
  void drain_kernels();  // sorts the window by the clustering key, then drain_rows
  template <class T>
  void drain_rows(const T& table, std::vector<typename T::row_type>& buf);
  template <class T>
  void buffer(const T& table, std::vector<typename T::row_type>& buf, const typename T::row_type& r);
  sqlite3_stmt* one_[tables::kCount] = {};   // INSERT of one row, per table (tables::kAll order)
  sqlite3_stmt* bulk_[tables::kCount] = {};  // INSERT of kBulkRows rows (event tables only)
  std::vector<KernelRow> kbuf_;
  std::vector<MemcpyRow> mbuf_;
  std::vector<MemsetRow> sbuf_;
  std::vector<ApiCallRow> abuf_;
  std::vector<NvtxRow> nbuf_;
  bool bulk_file_ = false;  // private temporary: no journal

  std::unique_ptr<Db> db_;
  std::filesystem::path final_, tmp_;
  WriterOptions opts_;
  struct StrHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, StringId, StrHash, std::equal_to<>> strings_;
  // nccl_ops lists (op_list.h): each distinct compact list is stored once in nccl_lists.
  struct ListRef {
    std::int64_t id = 0;        // nccl_lists.id, 0: not compact
    const OpList* list = nullptr;  // null: no list
  };
  ListRef list_ref(const OpList& l);
  std::unordered_map<std::string, std::int64_t> lists_;
  // expert_routing rows -> expert_counts, topology rows -> pairs or domains (format 3);
  // both hold rows back until their group ends, flush() or finish().
  std::unique_ptr<RoutingGroups> routing_;
  std::unique_ptr<TopoDomains> topo_;
  Expected<void> commit();  // flush() without ending the pending routing/topology groups
  // Per-table row counts, time range and longest duration of what add() stored, written
  // to meta ("store.counts", "store.time_range_ns", "store.max_dur_ns") by finish() so
  // readers need not scan huge tables (TraceReader::counts/time_range use them).
  template <class T>
  void note(const T&) { ++table_rows_[tables::slot_of<T>]; }
  template <class T>
  void note(const T&, std::int64_t start, std::int64_t end);
  void write_summary();
  std::int64_t table_rows_[tables::kCount] = {};
  std::int64_t max_dur_[tables::kCount] = {};
  std::int64_t t_lo_ = INT64_MAX, t_hi_ = INT64_MIN;
  std::size_t rows_ = 0, batch_ = 0;
  std::int64_t last_kernel_id_ = 0;
  bool in_tx_ = false, finished_ = false;
  std::string error_;
};

// Runs schema.sql on `db` and sets the format version (a new store; tests, the merge step).
Expected<void> create_schema(Db& db);

}  // namespace moetune
