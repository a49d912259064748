// SPDX-License-Identifier: Apache-2.0
#include "moetune/trace/writer.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>
#include <tuple>
#include <vector>

#include "compact_store.h"
#include "moetune/trace/dim3_store.h"
#include "moetune/trace/safe_file.h"
#include "schema_sql.h"

namespace moetune {

const char* to_string(Severity s) {
  switch (s) {
    case Severity::Info: return "info";
    case Severity::Error: return "error";
    case Severity::DataLoss: return "data_loss";
  }
  return "info";
}

Expected<void> create_schema(Db& db) {
  if (auto r = db.exec(kSchemaSql); !r) return r;
  return db.exec("PRAGMA user_version = " + std::to_string(kFormatVersion));
}

namespace {

// Kernels are sorted by their clustering key within a window of this many rows.
constexpr std::size_t kKernelWindow = 8192;

// "INSERT INTO t(cols) VALUES(?,..),(?,..),..." with `rows` tuples of the table's
// columns (all but the AutoId ones, which SQLite assigns).
template <class T>
std::string insert_sql(const T& t, int rows) {
  std::string cols, tuple;
  for (const auto& c : t.columns()) {
    if (c.codec == Codec::AutoId) continue;
    cols += (cols.empty() ? "" : ",") + std::string(c.name);
    tuple += tuple.empty() ? "(?" : ",?";
  }
  std::string sql = std::string(t.info.insert_verb) + " INTO " + std::string(t.info.name) + "(" + cols + ") VALUES";
  for (int r = 0; r < rows; ++r) sql += (r ? "," : "") + tuple + ")";
  return sql;
}

// A field's value as a statement parameter. Text is bound SQLITE_STATIC: every row
// outlives the statement run that reads it (buffered rows until drained).
void bind_value(sqlite3_stmt* st, int c, std::int64_t v) { sqlite3_bind_int64(st, c, v); }
void bind_value(sqlite3_stmt* st, int c, int v) { sqlite3_bind_int64(st, c, v); }
void bind_value(sqlite3_stmt* st, int c, bool v) { sqlite3_bind_int64(st, c, v ? 1 : 0); }
void bind_value(sqlite3_stmt* st, int c, double v) { sqlite3_bind_double(st, c, v); }
template <class Tag>
void bind_value(sqlite3_stmt* st, int c, Id<Tag> v) { sqlite3_bind_int64(st, c, v.value); }
template <class E>
  requires std::is_enum_v<E>
void bind_value(sqlite3_stmt* st, int c, E v) { sqlite3_bind_int64(st, c, static_cast<std::int64_t>(v)); }
void bind_value(sqlite3_stmt* st, int c, Severity v) { sqlite3_bind_text(st, c, to_string(v), -1, SQLITE_STATIC); }
void bind_value(sqlite3_stmt* st, int c, const std::string& v) {
  sqlite3_bind_text(st, c, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
void bind_value(sqlite3_stmt* st, int c, const StoredText& v) {
  if (v.blob) sqlite3_bind_blob(st, c, v.bytes.data(), static_cast<int>(v.bytes.size()), SQLITE_STATIC);
  else bind_value(st, c, v.bytes);
}
template <class V>
void bind_value(sqlite3_stmt* st, int c, const std::optional<V>& v) {
  if (v) bind_value(st, c, *v);
  else sqlite3_bind_null(st, c);
}
void bind_blob(sqlite3_stmt* st, int c, const std::string& v) {
  sqlite3_bind_blob(st, c, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
void bind_blob(sqlite3_stmt* st, int c, const std::optional<std::string>& v) {
  if (v) bind_blob(st, c, *v);
  else sqlite3_bind_null(st, c);
}

int step_reset(sqlite3_stmt* st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc;
}

// Flushes the finished file to stable storage before it is renamed into place (the
// bulk path runs with synchronous=OFF).
void sync_file(const std::filesystem::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

Expected<std::unique_ptr<TraceWriter>> TraceWriter::create(const std::filesystem::path& path,
                                                           WriterOptions opts) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !opts.force)
    return Error{path.string() + ": output exists (use --force to overwrite)"};
  std::unique_ptr<TraceWriter> w(new TraceWriter());
  w->final_ = path;
  w->opts_ = opts;
  w->tmp_ = opts.atomic ? std::filesystem::path(path.string() + ".tmp-" + std::to_string(::getpid())) : path;
  if (!opts.atomic && opts.force) std::filesystem::remove(path, ec);
  std::filesystem::remove(w->tmp_, ec);
  if (opts.atomic) register_temp(w->tmp_);  // removed on SIGINT/SIGTERM (install_temp_cleanup)
  auto db = Db::open(w->tmp_, Db::Mode::Create);
  if (!db) return Error{path.string() + ": cannot create: " + db.error().message};
  w->db_ = std::move(*db);
  auto& d = *w->db_;
  // An atomic writer's temporary is seen by nobody until finish() renames it, and a
  // failed write removes it: no journal is needed (the rename is the commit). 16 KiB
  // pages: a quarter of the page writes and B-tree page work of 4 KiB ones (bench/README.md).
  w->bulk_file_ = opts.atomic;
  const char* pragmas = w->bulk_file_
                            ? "PRAGMA page_size=16384; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                              "PRAGMA temp_store=MEMORY; PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-65536;"
                            : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;";
  if (auto r = d.exec(pragmas); !r) return r.error();
  if (auto r = create_schema(d); !r) return r.error();


  // One-row INSERT per table of this format; the event tables also get one of kBulkRows rows.
  auto prepare = [&](const auto& t) -> Expected<void> {
    if (!t.info.current() || (t.info.flags & kView)) return {};
    const std::size_t at = tables::slot_of<std::remove_cvref_t<decltype(t)>>;
    const bool bulk = t.info.flags & kRanged && t.info.name != "nccl_ops";
    for (auto [rows, slot] : {std::pair{1, &w->one_[at]}, std::pair{bulk ? kBulkRows : 0, &w->bulk_[at]}}) {
      if (rows == 0) continue;
      std::string sql = insert_sql(t, rows);
      if (sqlite3_prepare_v3(d.handle(), sql.c_str(), static_cast<int>(sql.size()) + 1, SQLITE_PREPARE_PERSISTENT,
                             slot, nullptr) != SQLITE_OK)
        return Error{path.string() + ": " + d.last_error()};
    }
    return {};
  };
  Expected<void> ready;
  std::apply([&](const auto*... t) { (void)((ready = prepare(*t), ready.ok()) && ...); }, tables::kAll);
  if (!ready) return ready.error();
  TraceWriter* self = w.get();
  w->routing_ = std::make_unique<RoutingGroups>();
  w->topo_ = std::make_unique<TopoDomains>(TopoDomains::Sink{
      [self](const TopologyRow& r) {
        self->insert(tables::kTopology, r);
        return static_cast<std::int64_t>(sqlite3_last_insert_rowid(self->db_->handle()));
      },
      [self](const TopoDomainRow& r) { self->insert(tables::kTopoDomains, r); },
      [self](const TopoDomainGpuRow& r) { self->insert(tables::kTopoDomainGpus, r); }});
  w->kbuf_.reserve(kKernelWindow);
  w->mbuf_.reserve(kBulkRows);
  w->sbuf_.reserve(kBulkRows);
  w->abuf_.reserve(kBulkRows);
  w->nbuf_.reserve(kBulkRows);
  w->set_meta("format", "moetune");
  w->set_meta("format_version", std::to_string(kFormatVersion));
  return w;
}

TraceWriter::~TraceWriter() {
  if (!finished_ && db_) {
    // Without a journal (bulk file) there is nothing to roll back: the file is removed.
    if (in_tx_ && !bulk_file_) (void)db_->exec("ROLLBACK");
    finalize_statements();
    db_.reset();
    if (opts_.atomic) {
      std::error_code ec;
      std::filesystem::remove(tmp_, ec);
      std::filesystem::remove(tmp_.string() + "-wal", ec);
      std::filesystem::remove(tmp_.string() + "-shm", ec);
      unregister_temp(tmp_);
    }
  }
}

// Finalizes every prepared statement before the connection closes. Relying on
// sqlite3_close_v2's zombie mode (close first, finalize later) leaked the whole
// connection (~260 KB per writer, found by LeakSanitizer in fuzz_kineto).
void TraceWriter::finalize_statements() {
  routing_.reset();
  topo_.reset();
  for (auto* set : {bulk_, one_})
    for (std::size_t b = 0; b < tables::kCount; ++b) {
      sqlite3_finalize(set[b]);
      set[b] = nullptr;
    }
}

Expected<void> TraceWriter::begin() {
  if (in_tx_) return {};
  if (auto r = db_->exec("BEGIN"); !r) return r;
  in_tx_ = true;
  return {};
}

void TraceWriter::check(int rc) {
  if (rc != SQLITE_DONE && rc != SQLITE_ROW && rc != SQLITE_OK && error_.empty())
    error_ = final_.string() + ": write failed: " + db_->last_error();
}

void TraceWriter::row_done() {
  ++rows_;
  if (++batch_ >= opts_.batch_rows) {
    batch_ = 0;
    if (auto r = commit(); !r && error_.empty()) error_ = r.error().message;
  }
}

template <class T>
void TraceWriter::bind_row(const T& table, sqlite3_stmt* st, int& c, const typename T::row_type& row) {
  auto one = [&](const auto& col) {
    using C = std::remove_cvref_t<decltype(col)>;
    const auto& v = row.*(col.member);
    if constexpr (C::codec == Codec::AutoId) return;
    else if constexpr (C::codec == Codec::Blob) bind_blob(st, ++c, v);
    else if constexpr (C::codec == Codec::Dim3) bind_value(st, ++c, dim3_store(v));  // dim3_store.h
    else if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, OpList>) bind_list(st, ++c, v);
    else bind_value(st, ++c, v);
  };
  std::apply([&](const auto&... col) { (one(col), ...); }, table.cols);
}

template <class T>
void TraceWriter::insert(const T& table, const typename T::row_type& row) {
  if (!in_tx_) (void)begin();
  sqlite3_stmt* st = one_[tables::slot_of<T>];
  int c = 0;
  bind_row(table, st, c, row);
  check(step_reset(st));
}

// writer_lists.cpp stores lists through it.
template void TraceWriter::insert(const std::remove_const_t<decltype(tables::kNcclLists)>&, const ListRow&);

StringId TraceWriter::intern(std::string_view s) {
  auto it = strings_.find(s);
  if (it != strings_.end()) return it->second;
  StringId id(static_cast<std::int64_t>(strings_.size()));
  StringRow row{id.value, {}};
  // A long integer list at the end is stored packed (string_pack.cpp).
  if (pack_string(s, row.value.bytes)) row.value.blob = true;
  else row.value.bytes = std::string(s);
  insert(tables::kStrings, row);
  strings_.emplace(std::string(s), id);
  return id;
}

void TraceWriter::set_meta(std::string_view key, std::string_view value) {
  insert(tables::kMeta, {std::string(key), std::string(value)});
}

void TraceWriter::add(const RankRow& r) { insert(tables::kRanks, r); }

void TraceWriter::add(const KernelRow& r) {
  note(tables::kKernels, r.start_ns, r.start_ns + r.dur_ns);
  kbuf_.push_back(r);
  kbuf_.back().id = ++last_kernel_id_;
  if (kbuf_.size() >= kKernelWindow) drain_kernels();
  row_done();
}

// The buffered event tables: rows wait in their buffer until kBulkRows are there.
template <class T>
void TraceWriter::buffer(const T& table, std::vector<typename T::row_type>& buf, const typename T::row_type& r) {
  note(table, r.start_ns, r.start_ns + r.dur_ns);
  buf.push_back(r);
  if (buf.size() >= static_cast<std::size_t>(kBulkRows)) drain_rows(table, buf);
  row_done();
}

void TraceWriter::add(const MemcpyRow& r) { buffer(tables::kMemcpys, mbuf_, r); }
void TraceWriter::add(const MemsetRow& r) { buffer(tables::kMemsets, sbuf_, r); }
void TraceWriter::add(const ApiCallRow& r) { buffer(tables::kApiCalls, abuf_, r); }
void TraceWriter::add(const NvtxRow& r) { buffer(tables::kNvtx, nbuf_, r); }

void TraceWriter::add_kernels(const std::vector<KernelRow>& rows) {
  for (const auto& r : rows) add(r);
}

void TraceWriter::add_api_calls(const std::vector<ApiCallRow>& rows) {
  for (const auto& r : rows) add(r);
}

void TraceWriter::add_nvtx(const std::vector<NvtxRow>& rows) {
  for (const auto& r : rows) add(r);
}

void TraceWriter::drain_all() {
  drain_kernels();
  drain_rows(tables::kMemcpys, mbuf_);
  drain_rows(tables::kMemsets, sbuf_);
  drain_rows(tables::kApiCalls, abuf_);
  drain_rows(tables::kNvtx, nbuf_);
}

// Inserts a buffer: whole groups of kBulkRows through the multi-row statement, the rest
// through the one-row statement of the same table. Rows keep their order (rowids follow it).
template <class T>
void TraceWriter::drain_rows(const T& table, std::vector<typename T::row_type>& buf) {
  if (buf.empty()) return;
  if (!in_tx_) (void)begin();
  sqlite3_stmt* bulk = bulk_[tables::slot_of<T>];
  const std::size_t n = buf.size();
  std::size_t i = 0;
  for (; i + kBulkRows <= n; i += kBulkRows) {
    int c = 0;
    for (std::size_t j = i; j < i + kBulkRows; ++j) bind_row(table, bulk, c, buf[j]);
    check(step_reset(bulk));
  }
  for (; i < n; ++i) insert(table, buf[i]);
  buf.clear();
}

void TraceWriter::drain_kernels() {
  auto key = [](const KernelRow& k) { return std::make_tuple(k.rank.value, k.start_ns, k.id); };
  auto less = [&](const KernelRow& a, const KernelRow& b) { return key(a) < key(b); };
  if (!std::is_sorted(kbuf_.begin(), kbuf_.end(), less)) std::sort(kbuf_.begin(), kbuf_.end(), less);
  drain_rows(tables::kKernels, kbuf_);
}

// The tables written one INSERT per row (counted in "store.counts").
template <class T>
void TraceWriter::add_row(const T& table, const typename T::row_type& r) {
  note(table);
  insert(table, r);
  row_done();
}

std::int64_t TraceWriter::add(const NcclOpRow& r) {
  note(tables::kNcclOps, r.start_ns, r.end_ns);
  insert(tables::kNcclOps, r);
  row_done();
  return sqlite3_last_insert_rowid(db_->handle());
}
// Format 3: routing rows become expert_counts lists, topology pairs of a uniform GPU
// domain one domain row (compact_store.h); "store.counts" keeps the logical rows.
void TraceWriter::add(const ExpertRoutingRow& r) {
  if (!in_tx_) (void)begin();
  note(tables::kRouting);
  if (auto row = routing_->add(r)) insert(tables::kExpertCounts, *row);
  row_done();
}
void TraceWriter::add(const ExpertPlacementRow& r) { add_row(tables::kPlacement, r); }
void TraceWriter::add(const TopologyRow& r) {
  if (!in_tx_) (void)begin();
  note(tables::kTopology);
  topo_->add(r);
  row_done();
}
void TraceWriter::add(const StepRow& r) { add_row(tables::kSteps, r); }
void TraceWriter::add(const BenchResultRow& r) { add_row(tables::kBench, r); }
void TraceWriter::add(const StatRow& r) { insert(tables::kStats, r); }

Expected<void> TraceWriter::flush() {
  if (error_.empty() && routing_ && topo_) {
    if (!in_tx_) (void)begin();
    if (auto row = routing_->flush()) insert(tables::kExpertCounts, *row);
    topo_->flush();
  }
  return commit();
}

Expected<void> TraceWriter::commit() {
  if (error_.empty()) drain_all();
  if (!error_.empty()) return Error{error_};
  if (in_tx_) {
    in_tx_ = false;
    if (auto r = db_->exec("COMMIT"); !r) {
      error_ = final_.string() + ": write failed: " + r.error().message;
      return Error{error_};
    }
  }
  return {};
}

template <class T>
void TraceWriter::note(const T&, std::int64_t start, std::int64_t end) {
  constexpr std::size_t t = tables::slot_of<T>;
  ++table_rows_[t];
  t_lo_ = std::min(t_lo_, start);
  t_hi_ = std::max(t_hi_, end);
  max_dur_[t] = std::max(max_dur_[t], end - start);
}

void TraceWriter::write_summary() {
  std::string counts, durs;
  const auto& all = all_tables();
  for (std::size_t t = 0; t < all.size(); ++t) {
    const std::string name(all[t].info.name);
    if (all[t].info.flags & kCounted)
      counts += (counts.empty() ? "" : " ") + name + "=" + std::to_string(table_rows_[t]);
    if (all[t].info.flags & kRanged) durs += (durs.empty() ? "" : " ") + name + "=" + std::to_string(max_dur_[t]);
  }
  set_meta("store.counts", counts);
  set_meta("store.max_dur_ns", durs);
  if (t_lo_ <= t_hi_) set_meta("store.time_range_ns", std::to_string(t_lo_) + " " + std::to_string(t_hi_));
}

Expected<void> TraceWriter::finish() {
  if (finished_) return {};
  if (error_.empty()) write_summary();
  if (auto r = flush(); !r) return r;
  // A finished run leaves WAL mode so readers can open it read-only (even on read-only media)
  // without -wal/-shm side files.
  if (auto r = db_->exec("PRAGMA journal_mode=DELETE"); !r) return r;
  finalize_statements();
  db_.reset();
  finished_ = true;
  if (bulk_file_) sync_file(tmp_);
  // Without force: link(2), so an output created meanwhile (a second import) is not replaced.
  if (opts_.atomic) return commit_temp(tmp_, final_, opts_.force);
  return {};
}

}  // namespace moetune
