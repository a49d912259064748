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

std::string_view schema_sql() { return kSchemaSql; }

Expected<void> create_schema(Db& db) {
  if (auto r = db.exec(kSchemaSql); !r) return r;
  return db.exec("PRAGMA user_version = " + std::to_string(kFormatVersion));
}

namespace {

// Kernels are sorted by their clustering key within a window of this many rows.
constexpr std::size_t kKernelWindow = 8192;

// "INSERT INTO t(cols) VALUES(?,..),(?,..),..." with `rows` tuples of `cols` parameters.
std::string multi_row_sql(const char* head, int cols, int rows) {
  std::string tuple = "(";
  for (int c = 0; c < cols; ++c) tuple += c ? ",?" : "?";
  tuple += ")";
  std::string sql = head;
  sql += " VALUES";
  for (int r = 0; r < rows; ++r) {
    if (r) sql += ',';
    sql += tuple;
  }
  return sql;
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


  struct P {
    Statement* s;
    const char* sql;
  };
  const P prep[] = {
      {&w->s_meta_, "INSERT OR REPLACE INTO meta(key,value) VALUES(?,?)"},
      {&w->s_rank_,
       "INSERT OR REPLACE INTO ranks(rank,host,pid,device,gpu_name,gpu_uuid,bus_id,clock_offset_ns,source,"
       "sm_count,memory_bytes,compute_cap,pcie_gen,pcie_width) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"},
      {&w->s_string_, "INSERT INTO strings(id,value) VALUES(?,?)"},
      {&w->s_nccl_,
       "INSERT INTO nccl_ops(rank,comm_hash,seq,func,algo,proto,channels,count,dtype,bytes,peer,root,nranks,"
       "enqueue_ns,start_ns,end_ns,stream,kernel_id,in_splits,out_splits,pg_name,pg_ranks) "
       "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"},
      {&w->s_list_, "INSERT INTO nccl_lists(id,data) VALUES(?,?)"},
      {&w->s_placement_, "INSERT INTO expert_placement(layer,expert,rank,replica) VALUES(?,?,?,?)"},
      {&w->s_step_, "INSERT INTO steps(rank,step,start_ns,end_ns,tokens) VALUES(?,?,?,?,?)"},
      {&w->s_bench_,
       "INSERT INTO bench_results(source,func,nranks,bytes,count,dtype,time_us,algbw_gbps,busbw_gbps,in_place) "
       "VALUES(?,?,?,?,?,?,?,?,?,?)"},
      {&w->s_stat_, "INSERT INTO stats(name,severity,value,rank,description) VALUES(?,?,?,?,?)"},
  };
  for (const auto& p : prep) {
    auto st = d.prepare(p.sql);
    if (!st) return st.error();
    *p.s = std::move(*st);
  }
  w->routing_ = std::make_unique<RoutingGroups>();
  w->topo_ = std::make_unique<TopoDomains>();
  if (auto r = w->routing_->prepare(d); !r) return r.error();
  if (auto r = w->topo_->prepare(d); !r) return r.error();
  struct B {
    Bulk b;
    const char* head;
    int cols;
  };
  const B bulk[] = {
      {kBulkKernel, "INSERT INTO kernels(rank,stream,start_ns,dur_ns,name_id,correlation,grid,block,id)", 9},
      {kBulkMemcpy,
       "INSERT INTO memcpys(rank,stream,start_ns,dur_ns,bytes,kind,src_device,dst_device,correlation)", 9},
      {kBulkMemset, "INSERT INTO memsets(rank,stream,start_ns,dur_ns,bytes,correlation)", 6},
      {kBulkApi, "INSERT INTO api_calls(rank,tid,start_ns,dur_ns,name_id,kind,correlation)", 7},
      {kBulkNvtx, "INSERT INTO nvtx(rank,tid,start_ns,dur_ns,name_id,domain_id,payload)", 7},
  };
  for (const auto& b : bulk)
    for (auto [rows, slot] : {std::pair{kBulkRows, &w->bulk_[b.b]}, std::pair{1, &w->one_[b.b]}}) {
      std::string sql = multi_row_sql(b.head, b.cols, rows);
      if (sqlite3_prepare_v3(d.handle(), sql.c_str(), static_cast<int>(sql.size()) + 1, SQLITE_PREPARE_PERSISTENT,
                             slot, nullptr) != SQLITE_OK)
        return Error{path.string() + ": " + d.last_error()};
    }
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
  for (Statement* st : {&s_meta_, &s_rank_, &s_string_, &s_nccl_, &s_list_, &s_placement_, &s_step_, &s_bench_, &s_stat_})
    *st = Statement();
  routing_.reset();
  topo_.reset();
  for (auto* set : {bulk_, one_})
    for (int b = 0; b < kBulks; ++b) {
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

StringId TraceWriter::intern(std::string_view s) {
  auto it = strings_.find(s);
  if (it != strings_.end()) return it->second;
  StringId id(static_cast<std::int64_t>(strings_.size()));
  if (!in_tx_) (void)begin();
  std::string packed;  // a long integer list at the end: stored packed (string_pack.cpp)
  if (pack_string(s, packed)) s_string_.bind(1, id.value).bind_blob(2, packed);
  else s_string_.bind(1, id.value).bind(2, s);
  check(s_string_.exec());
  strings_.emplace(std::string(s), id);
  return id;
}

void TraceWriter::set_meta(std::string_view key, std::string_view value) {
  if (!in_tx_) (void)begin();
  check(s_meta_.bind(1, key).bind(2, value).exec());
}

void TraceWriter::add(const RankRow& r) {
  if (!in_tx_) (void)begin();
  check(s_rank_.bind(1, r.rank.value)
            .bind(2, r.host)
            .bind(3, r.pid)
            .bind(4, r.device)
            .bind(5, r.gpu_name)
            .bind(6, r.gpu_uuid)
            .bind(7, r.bus_id)
            .bind(8, r.clock_offset_ns)
            .bind(9, r.source)
            .bind(10, r.sm_count)
            .bind(11, r.memory_bytes)
            .bind(12, r.compute_cap)
            .bind(13, r.pcie_gen)
            .bind(14, r.pcie_width)
            .exec());
}

void TraceWriter::add(const KernelRow& r) {
  note(kKernels, r.start_ns, r.start_ns + r.dur_ns);
  kbuf_.push_back(r);
  kbuf_.back().id = ++last_kernel_id_;
  if (kbuf_.size() >= kKernelWindow) drain_kernels();
  row_done();
}

void TraceWriter::add(const MemcpyRow& r) {
  note(kMemcpys, r.start_ns, r.start_ns + r.dur_ns);
  mbuf_.push_back(r);
  if (mbuf_.size() >= static_cast<std::size_t>(kBulkRows)) drain_rows(mbuf_, kBulkMemcpy);
  row_done();
}

void TraceWriter::add(const MemsetRow& r) {
  note(kMemsets, r.start_ns, r.start_ns + r.dur_ns);
  sbuf_.push_back(r);
  if (sbuf_.size() >= static_cast<std::size_t>(kBulkRows)) drain_rows(sbuf_, kBulkMemset);
  row_done();
}

void TraceWriter::add(const ApiCallRow& r) {
  note(kApi, r.start_ns, r.start_ns + r.dur_ns);
  abuf_.push_back(r);
  if (abuf_.size() >= static_cast<std::size_t>(kBulkRows)) drain_rows(abuf_, kBulkApi);
  row_done();
}

void TraceWriter::add(const NvtxRow& r) {
  note(kNvtx, r.start_ns, r.start_ns + r.dur_ns);
  nbuf_.push_back(r);
  if (nbuf_.size() >= static_cast<std::size_t>(kBulkRows)) drain_rows(nbuf_, kBulkNvtx);
  row_done();
}

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
  drain_rows(mbuf_, kBulkMemcpy);
  drain_rows(sbuf_, kBulkMemset);
  drain_rows(abuf_, kBulkApi);
  drain_rows(nbuf_, kBulkNvtx);
}

// Column binders of the buffered tables, in the column order of the INSERT heads above;
// `c` is the last parameter index bound. NVTX payloads are bound SQLITE_STATIC: the
// buffer outlives the statement run.
namespace {
void bind_row(sqlite3_stmt* st, int& c, const KernelRow& r) {
  for (std::int64_t v : {r.rank.value, r.stream.value, r.start_ns, r.dur_ns, r.name.value, r.correlation,
                         dim3_store(r.grid), dim3_store(r.block), r.id})  // dim3_store.h
    sqlite3_bind_int64(st, ++c, v);
}
void bind_row(sqlite3_stmt* st, int& c, const MemcpyRow& r) {
  for (std::int64_t v : {r.rank.value, r.stream.value, r.start_ns, r.dur_ns, r.bytes,
                         static_cast<std::int64_t>(r.kind), static_cast<std::int64_t>(r.src_device),
                         static_cast<std::int64_t>(r.dst_device), r.correlation})
    sqlite3_bind_int64(st, ++c, v);
}
void bind_row(sqlite3_stmt* st, int& c, const MemsetRow& r) {
  for (std::int64_t v : {r.rank.value, r.stream.value, r.start_ns, r.dur_ns, r.bytes, r.correlation})
    sqlite3_bind_int64(st, ++c, v);
}
void bind_row(sqlite3_stmt* st, int& c, const ApiCallRow& r) {
  for (std::int64_t v : {r.rank.value, r.tid, r.start_ns, r.dur_ns, r.name.value, static_cast<std::int64_t>(r.kind),
                         r.correlation})
    sqlite3_bind_int64(st, ++c, v);
}
void bind_row(sqlite3_stmt* st, int& c, const NvtxRow& r) {
  for (std::int64_t v : {r.rank.value, r.tid, r.start_ns, r.dur_ns, r.name.value, r.domain.value})
    sqlite3_bind_int64(st, ++c, v);
  if (r.payload)
    sqlite3_bind_text(st, ++c, r.payload->data(), static_cast<int>(r.payload->size()), SQLITE_STATIC);
  else
    sqlite3_bind_null(st, ++c);
}
}  // namespace

// Inserts a buffer: whole groups of kBulkRows through the multi-row statement, the rest
// through the one-row statement of the same table. Rows keep their order (rowids follow it).
template <class Row>
void TraceWriter::drain_rows(std::vector<Row>& buf, Bulk table) {
  if (buf.empty()) return;
  if (!in_tx_) (void)begin();
  const std::size_t n = buf.size();
  std::size_t i = 0;
  for (; i + kBulkRows <= n; i += kBulkRows) {
    int c = 0;
    for (std::size_t j = i; j < i + kBulkRows; ++j) bind_row(bulk_[table], c, buf[j]);
    check(step_reset(bulk_[table]));
  }
  for (; i < n; ++i) {
    int c = 0;
    bind_row(one_[table], c, buf[i]);
    check(step_reset(one_[table]));
  }
  buf.clear();
}

void TraceWriter::drain_kernels() {
  auto key = [](const KernelRow& k) { return std::make_tuple(k.rank.value, k.start_ns, k.id); };
  auto less = [&](const KernelRow& a, const KernelRow& b) { return key(a) < key(b); };
  if (!std::is_sorted(kbuf_.begin(), kbuf_.end(), less)) std::sort(kbuf_.begin(), kbuf_.end(), less);
  drain_rows(kbuf_, kBulkKernel);
}

std::int64_t TraceWriter::add(const NcclOpRow& r) {
  if (!in_tx_) (void)begin();
  note(kNccl, r.start_ns, r.end_ns);
  const ListRef in = list_ref(r.in_splits), out = list_ref(r.out_splits), pg = list_ref(r.pg_ranks);
  s_nccl_.bind(1, r.rank.value)
            .bind(2, r.comm_hash)
            .bind(3, r.seq)
            .bind(4, r.func)
            .bind(5, r.algo)
            .bind(6, r.proto)
            .bind(7, r.channels)
            .bind(8, r.count)
            .bind(9, r.dtype)
            .bind(10, r.bytes)
            .bind(11, r.peer)
            .bind(12, r.root)
            .bind(13, r.nranks)
            .bind(14, r.enqueue_ns)
            .bind(15, r.start_ns)
            .bind(16, r.end_ns)
            .bind(17, r.stream)
            .bind(18, r.kernel_id)
            .bind(21, r.pg_name);
  bind_list(19, in);
  bind_list(20, out);
  bind_list(22, pg);
  check(s_nccl_.exec());
  row_done();
  return sqlite3_last_insert_rowid(db_->handle());
}

void TraceWriter::add(const ExpertRoutingRow& r) {
  if (!in_tx_) (void)begin();
  note(kRouting);
  check(routing_->add(r));
  row_done();
}

void TraceWriter::add(const ExpertPlacementRow& r) {
  if (!in_tx_) (void)begin();
  note(kPlacement);
  check(s_placement_.bind(1, r.layer).bind(2, r.expert).bind(3, r.rank.value).bind(4, r.replica).exec());
  row_done();
}

void TraceWriter::add(const TopologyRow& r) {
  if (!in_tx_) (void)begin();
  note(kTopo);
  check(topo_->add(r));
  row_done();
}

void TraceWriter::add(const StepRow& r) {
  if (!in_tx_) (void)begin();
  note(kSteps);
  check(s_step_.bind(1, r.rank.value).bind(2, r.step).bind(3, r.start_ns).bind(4, r.end_ns).bind(5, r.tokens).exec());
  row_done();
}

void TraceWriter::add(const BenchResultRow& r) {
  if (!in_tx_) (void)begin();
  note(kBench);
  check(s_bench_.bind(1, r.source)
            .bind(2, r.func)
            .bind(3, r.nranks)
            .bind(4, r.bytes)
            .bind(5, r.count)
            .bind(6, r.dtype)
            .bind(7, r.time_us)
            .bind(8, r.algbw_gbps)
            .bind(9, r.busbw_gbps)
            .bind(10, r.in_place ? 1 : 0)
            .exec());
  row_done();
}

void TraceWriter::add(const StatRow& r) {
  if (!in_tx_) (void)begin();
  check(s_stat_.bind(1, r.name)
            .bind(2, to_string(r.severity))
            .bind(3, r.value)
            .bind(4, r.rank)
            .bind(5, r.description)
            .exec());
}

Expected<void> TraceWriter::flush() {
  if (error_.empty() && (routing_ || topo_)) {
    if (!in_tx_) (void)begin();
    if (routing_) check(routing_->flush());
    if (topo_) check(topo_->flush());
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

void TraceWriter::note(Table t, std::int64_t start, std::int64_t end) {
  ++table_rows_[t];
  t_lo_ = std::min(t_lo_, start);
  t_hi_ = std::max(t_hi_, end);
  max_dur_[t] = std::max(max_dur_[t], end - start);
}

void TraceWriter::write_summary() {
  static const char* const names[kTables] = {"kernels", "memcpys", "memsets", "api_calls", "nvtx", "nccl_ops",
                                             "steps", "expert_routing", "expert_placement", "topology", "bench_results"};
  std::string counts, durs;
  for (int t = 0; t < kTables; ++t) {
    counts += std::string(t ? " " : "") + names[t] + "=" + std::to_string(table_rows_[t]);
    if (t <= kNccl) durs += std::string(t ? " " : "") + names[t] + "=" + std::to_string(max_dur_[t]);
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
