// SPDX-License-Identifier: Apache-2.0
#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"

#include "compact_store.h"
#include "moetune/trace/dim3_store.h"

#include <climits>
#include <cstdio>

#include <sqlite3.h>

#include <algorithm>
#include <set>

namespace moetune {

namespace {
const std::string kEmpty;

// An int id (layer, expert, replica) from a 64-bit column: out of int range reads as -1
// (invalid; analyzers skip negative ids) instead of wrapping to a plausible small id.
int int_id(std::int64_t v) { return v < INT_MIN || v > INT_MAX ? -1 : static_cast<int>(v); }

// PRAGMA user_version, telling a busy or locked file from one that is not a database.
Expected<std::int64_t> user_version(Db& db) {
  auto st = db.prepare("PRAGMA user_version");
  if (st && st->step()) return st->i64(0);
  switch (db.last_errcode()) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error{"locked by another process (SQLite busy); try again when it has finished writing"};
    case SQLITE_NOTADB: return Error{"not a moetune run (not an SQLite database)"};
    case SQLITE_CORRUPT: return Error{"damaged store (SQLite reports the database disk image is malformed)"};
    case SQLITE_IOERR: return Error{"read error (" + db.last_error() + ")"};
    case SQLITE_CANTOPEN:
    case SQLITE_PERM: return Error{"cannot open (" + db.last_error() + ")"};
    default: return Error{"not a moetune run (" + db.last_error() + ")"};
  }
}

// Every table and column of this version's schema (trace/schema.sql) must be present: a
// dropped table or column would otherwise read as "no rows" and be analysed as data.
// Tables added by a format version: a file of an older version lacks them by design.
int table_since(const std::string& t) {
  if (t == "nccl_lists") return 2;
  return t == "expert_counts" || t.rfind("topology_domain", 0) == 0 ? 3 : 1;
}

Expected<void> check_schema(Db& db, int version) {
  static const std::map<std::string, std::set<std::string>> current = [] {
    std::map<std::string, std::set<std::string>> m;
    auto mem = Db::open(":memory:", Db::Mode::Create);
    if (!mem || !(*mem)->exec(schema_sql())) return m;
    auto tables = (*mem)->prepare("SELECT name FROM sqlite_master WHERE type='table'");
    while (tables && tables->step()) m[tables->text(0)];
    for (auto& [t, cols] : m) {
      auto c = (*mem)->prepare("SELECT name FROM pragma_table_info(?)");
      if (!c) continue;
      c->bind(1, t);
      while (c->step()) cols.insert(c->text(0));
    }
    return m;
  }();
  auto want = current;
  want.merge(legacy_tables(version));  // tables older formats have instead (compact_store.h)
  for (const auto& [t, cols] : want) {
    if (table_since(t) > version) continue;
    auto c = db.prepare("SELECT name FROM pragma_table_info(?)");
    if (!c) return Error{"cannot read the schema (" + db.last_error() + ")"};
    c->bind(1, t);
    std::set<std::string> have;
    while (c->step()) have.insert(c->text(0));
    if (have.empty()) return Error{"damaged store: table " + t + " is missing"};
    for (const auto& col : cols)
      if (!have.count(col)) return Error{"damaged store: column " + t + "." + col + " is missing"};
  }
  return {};
}

Severity severity_from(std::string_view s) {
  if (s == "error") return Severity::Error;
  if (s == "data_loss") return Severity::DataLoss;
  return Severity::Info;
}
}  // namespace

Expected<std::unique_ptr<TraceReader>> TraceReader::open(const std::filesystem::path& path, bool check) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Error{path.string() + ": no such file"};
  if (std::filesystem::is_directory(path, ec)) return Error{path.string() + ": is a directory, not a run file"};
  if (!std::filesystem::is_regular_file(path, ec))  // a FIFO would block the open
    return Error{path.string() + ": not a regular file, not a run file"};
  auto db = Db::open(path, Db::Mode::ReadOnly);
  if (!db) return db.error();
  std::unique_ptr<TraceReader> r(new TraceReader());
  r->db_ = std::move(*db);
  auto ver = user_version(*r->db_);
  if (!ver) return Error{path.string() + ": " + ver.error().message};
  if (*ver < 0) return Error{path.string() + ": not a moetune run (format version " + std::to_string(*ver) + ")"};
  if (!r->db_->has_table("meta") || !r->db_->has_table("kernels") || *ver == 0)
    return Error{path.string() + ": not a moetune run (no moetune schema)"};
  if (*ver > kFormatVersion)
    return Error{path.string() + ": format version " + std::to_string(*ver) +
                 " is newer than this moetune understands (" + std::to_string(kFormatVersion) +
                 "); upgrade moetune"};
  // Version 1 needs no migration: its nccl_ops list columns hold JSON text, which
  // list_at() reads as such (version 2 stores ids into nccl_lists there).
  r->version_ = static_cast<int>(*ver);
  if (auto s = check_schema(*r->db_, r->version_); !s) return Error{path.string() + ": " + s.error().message};
  if (auto q = check ? r->check_integrity() : Expected<void>{}; !q)
    return Error{path.string() + ": " + q.error().message};
  auto st = r->db_->prepare("SELECT id, value, typeof(value) = 'blob' FROM strings ORDER BY id");
  if (!st) return st.error();
  // Writers number strings densely from 0; a table whose largest id is far above its row
  // count (a damaged or crafted file) is renumbered densely here, so memory follows the
  // rows, never the largest id. Row name ids go through sid() either way.
  std::vector<std::pair<std::int64_t, std::string>> rows;
  std::int64_t max_id = -1;
  while (st->step()) {
    auto id = st->i64(0);
    if (id < 0) return Error{path.string() + ": corrupt strings table (negative id " + std::to_string(id) + ")"};
    max_id = std::max(max_id, id);
    if (r->version_ >= 3 && st->i64(2)) {  // packed integer-list tail (string_pack.cpp)
      auto text = unpack_string(st->text_view(1));
      if (!text) return Error{path.string() + ": damaged store: string " + std::to_string(id) + " cannot be unpacked"};
      rows.emplace_back(id, std::move(*text));
    } else {
      rows.emplace_back(id, st->text(1));
    }
  }
  if (max_id < 4 * static_cast<std::int64_t>(rows.size()) + 16) {
    r->strings_.resize(static_cast<std::size_t>(max_id + 1));
    for (auto& [id, v] : rows) r->strings_[static_cast<std::size_t>(id)] = std::move(v);
  } else {
    r->remap_strings_ = true;
    for (auto& [id, v] : rows) {
      r->string_ids_.emplace(id, static_cast<std::int64_t>(r->strings_.size()));
      r->strings_.push_back(std::move(v));
    }
  }
  return r;
}

// PRAGMA quick_check (every page and record format; not the index contents, which
// integrity_check would also cross-check at several times the cost), then the cached row
// counts of store.counts against the tables. A damaged page refuses the run; counts that
// differ (rows deleted or added after the run was written) are recomputed and reported as
// an error stat. Both are one pass over the file (see kAutoCheckBytes in reader.h).
Expected<void> TraceReader::check_integrity(bool full) {
  std::error_code ec;
  auto size = std::filesystem::file_size(db_->path(), ec);
  if (ec) return {};
  if (!full && size > kAutoCheckBytes) {
    integrity_stats_.push_back({"integrity_check_skipped", Severity::Info, 1, std::nullopt,
                                "the file is over " + std::to_string(kAutoCheckBytes >> 20) +
                                    " MiB: PRAGMA quick_check and the row-count check were not run on open "
                                    "(moetune info --check runs them)"});
    return {};
  }
  // Only a corrupt verdict refuses the run: a check that cannot run (I/O error, a full
  // temp disk, busy, out of memory) says nothing about the file and is skipped.
  auto corrupt = [this] { return db_->last_errcode() == SQLITE_CORRUPT || db_->last_errcode() == SQLITE_NOTADB; };
  auto qc = db_->prepare("PRAGMA quick_check(3)");
  if (!qc) return corrupt() ? Expected<void>(Error{"damaged store (" + db_->last_error() + ")"}) : Expected<void>{};
  std::string problems;
  while (qc->step()) {
    auto line = qc->text(0);
    if (line == "ok") break;
    problems += (problems.empty() ? "" : "; ") + line;
  }
  if (problems.empty() && qc->rc() != SQLITE_ROW && qc->rc() != SQLITE_DONE && corrupt()) problems = db_->last_error();
  if (!problems.empty()) return Error{"damaged store (PRAGMA quick_check: " + problems + ")"};
  auto stored = meta_numbers("store.counts");
  for (const auto& [t, cached] : stored) {
    if (!std::all_of(t.begin(), t.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; })) continue;
    std::string count_sql = logical_count_sql(t, version_);  // compact tables count their entries
    if (count_sql.empty() && db_->has_table(t)) count_sql = "SELECT count(*) FROM " + t;
    if (count_sql.empty()) continue;
    auto n = db_->scalar(count_sql);
    if (!n) continue;
    verified_counts_[t] = *n;
    if (*n != cached)
      integrity_stats_.push_back({"store_count_mismatch", Severity::Error, *n - cached, std::nullopt,
                                  t + ": the run's recorded count is " + std::to_string(cached) + ", the table holds " +
                                      std::to_string(*n) + " rows (changed after it was written)"});
  }
  return {};
}

StringId TraceReader::sid(std::int64_t stored) const {
  if (!remap_strings_) return StringId(stored);
  auto it = string_ids_.find(stored);
  return it == string_ids_.end() ? StringId() : StringId(it->second);
}

const std::string& TraceReader::str(StringId id) const {
  if (id.value < 0 || static_cast<std::size_t>(id.value) >= strings_.size()) return kEmpty;
  return strings_[id.value];
}

std::map<std::string, std::string> TraceReader::meta() {
  std::map<std::string, std::string> m;
  auto st = db_->prepare("SELECT key, value FROM meta");
  if (st)
    while (st->step()) m[st->text(0)] = st->text(1);
  return m;
}

std::vector<RankRow> TraceReader::ranks() {
  std::vector<RankRow> out;
  auto st = db_->prepare(
      "SELECT rank,host,pid,device,gpu_name,gpu_uuid,bus_id,clock_offset_ns,source,sm_count,memory_bytes,"
      "compute_cap,pcie_gen,pcie_width FROM ranks ORDER BY rank");
  if (!st) return out;
  while (st->step()) {
    RankRow r;
    r.rank = RankId(st->i64(0));
    r.host = st->text(1);
    r.pid = st->i64(2);
    r.device = static_cast<int>(st->i64(3));
    r.gpu_name = st->text(4);
    r.gpu_uuid = st->text(5);
    r.bus_id = st->text(6);
    r.clock_offset_ns = st->i64(7);
    r.source = st->text(8);
    r.sm_count = static_cast<int>(st->i64(9));
    r.memory_bytes = st->i64(10);
    r.compute_cap = st->text(11);
    r.pcie_gen = static_cast<int>(st->i64(12));
    r.pcie_width = static_cast<int>(st->i64(13));
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<StatRow> TraceReader::stats() {
  std::vector<StatRow> out;
  auto st = db_->prepare("SELECT name,severity,value,rank,description FROM stats ORDER BY rowid");
  if (!st) return out;
  while (st->step())
    out.push_back({st->text(0), severity_from(st->text_view(1)), st->i64(2), st->opt_i64(3), st->text(4)});
  out.insert(out.end(), integrity_stats_.begin(), integrity_stats_.end());
  if (clamped_ > 0)
    out.push_back({"store_values_clamped", Severity::Error, clamped_, std::nullopt,
                   "times outside +-2^61 ns, negative durations or ends before starts in the stored rows "
                   "(clamped when read)"});
  return out;
}

// "name=N name=N ..." as TraceWriter::finish() stores it in meta; empty if absent.
std::map<std::string, std::int64_t> TraceReader::meta_numbers(const char* key) {
  std::map<std::string, std::int64_t> out;
  auto st = db_->prepare("SELECT value FROM meta WHERE key = ?");
  if (!st) return out;
  st->bind(1, key);
  if (!st->step()) return out;
  std::string v = st->text(0);
  std::size_t pos = 0;
  while (pos < v.size()) {
    auto end = v.find(' ', pos);
    if (end == std::string::npos) end = v.size();
    auto item = v.substr(pos, end - pos);
    auto eq = item.find('=');
    if (eq != std::string::npos) {
      try {
        out[item.substr(0, eq)] = std::stoll(item.substr(eq + 1));
      } catch (const std::exception&) {
        return {};  // malformed: fall back to scanning
      }
    }
    pos = end + 1;
  }
  return out;
}

std::optional<std::pair<std::int64_t, std::int64_t>> TraceReader::meta_numbers_pair(const char* key) {
  auto st = db_->prepare("SELECT value FROM meta WHERE key = ?");
  if (!st) return std::nullopt;
  st->bind(1, key);
  if (!st->step()) return std::nullopt;
  long long a = 0, b = 0;
  if (std::sscanf(st->text(0).c_str(), "%lld %lld", &a, &b) != 2) return std::nullopt;
  return std::pair<std::int64_t, std::int64_t>{a, b};
}

TableCounts TraceReader::counts() {
  TableCounts c;
  // Writers record their row counts at finish(); counting a 10 M-row table would take seconds.
  auto stored = meta_numbers("store.counts");
  for (const char* t : {"kernels", "memcpys", "memsets", "api_calls", "nvtx", "nccl_ops", "steps", "expert_routing",
                        "expert_placement", "topology", "bench_results", "ranks"}) {
    if (auto it = verified_counts_.find(t); it != verified_counts_.end()) {
      c.by_table[t] = it->second;
      continue;
    }
    if (auto it = stored.find(t); it != stored.end()) {
      c.by_table[t] = it->second;
      continue;
    }
    std::string count_sql = logical_count_sql(t, version_);
    auto n = db_->scalar(count_sql.empty() ? std::string("SELECT count(*) FROM ") + t : count_sql);
    c.by_table[t] = n.value_or(0);
  }
  return c;
}

std::pair<std::int64_t, std::int64_t> TraceReader::time_range() {
  if (auto v = meta_numbers_pair("store.time_range_ns")) return *v;
  std::int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const char* t : {"kernels", "memcpys", "memsets", "api_calls", "nvtx"}) {
    auto a = db_->scalar(std::string("SELECT min(start_ns) FROM ") + t);
    auto b = db_->scalar(std::string("SELECT max(start_ns + dur_ns) FROM ") + t);
    if (a) lo = std::min(lo, *a);
    if (b) hi = std::max(hi, *b);
  }
  if (auto a = db_->scalar("SELECT min(start_ns) FROM nccl_ops")) lo = std::min(lo, *a);
  if (auto b = db_->scalar("SELECT max(end_ns) FROM nccl_ops")) hi = std::max(hi, *b);
  if (lo == INT64_MAX) return {0, 0};
  return {lo, hi};
}

std::int64_t TraceReader::max_dur(const char* table) {
  if (max_dur_.empty())  // recorded by the writer at finish(); missing tables are scanned below
    for (const auto& [t, v] : meta_numbers("store.max_dur_ns")) max_dur_[t] = v;
  auto it = max_dur_.find(table);
  if (it != max_dur_.end()) return std::clamp<std::int64_t>(it->second, 0, kTimeMax);  // meta may be damaged
  std::string col = std::string(table) == "nccl_ops" ? "end_ns - start_ns" : "dur_ns";
  auto v = std::clamp<std::int64_t>(db_->scalar("SELECT max(" + col + ") FROM " + table).value_or(0), 0, kTimeMax);
  max_dur_[table] = v;
  return v;
}

std::string TraceReader::range_where(const char* table, RankId rank, std::int64_t t0, std::int64_t t1,
                                     bool has_dur) {
  std::string w = " WHERE 1";
  if (rank.valid()) w += " AND rank = " + std::to_string(rank.value);
  if (t0 > kTimeMin) {
    std::int64_t lo = t0 - max_dur(table);
    w += " AND start_ns >= " + std::to_string(lo);
    w += has_dur ? " AND start_ns + dur_ns > " + std::to_string(t0) : " AND end_ns > " + std::to_string(t0);
  }
  if (t1 < kTimeMax) w += " AND start_ns < " + std::to_string(t1);
  w += " ORDER BY rank, start_ns";
  return w;
}

static KernelRow kernel_from(const TraceReader& rd, const Statement& st) {
  KernelRow k;
  k.id = st.i64(0);
  k.rank = RankId(st.i64(1));
  k.stream = StreamId(st.i64(2));
  k.start_ns = rd.time(st.i64(3));
  k.dur_ns = rd.dur(st.i64(4));
  k.name = rd.sid(st.i64(5));
  k.correlation = st.i64(6);
  k.grid = dim3_load(st.i64(7), rd.format_version());  // dim3_store.h
  k.block = dim3_load(st.i64(8), rd.format_version());
  return k;
}
static constexpr const char* kKernelCols = "SELECT id,rank,stream,start_ns,dur_ns,name_id,correlation,grid,block FROM kernels";

std::vector<KernelRow> TraceReader::kernels(RankId rank, std::int64_t t0, std::int64_t t1) {
  std::vector<KernelRow> out;
  auto st = db_->prepare(kKernelCols + range_where("kernels", rank, t0, t1, true));
  if (st)
    while (st->step()) out.push_back(kernel_from(*this, *st));
  return out;
}

void TraceReader::for_each_kernel(const std::function<void(const KernelRow&)>& fn) {
  auto st = db_->prepare(std::string(kKernelCols) + " ORDER BY rank, start_ns");
  if (st)
    while (st->step()) fn(kernel_from(*this, *st));
}

std::vector<MemcpyRow> TraceReader::memcpys(RankId rank, std::int64_t t0, std::int64_t t1) {
  std::vector<MemcpyRow> out;
  auto st = db_->prepare(
      "SELECT id,rank,stream,start_ns,dur_ns,bytes,kind,src_device,dst_device,correlation FROM memcpys" +
      range_where("memcpys", rank, t0, t1, true));
  if (st)
    while (st->step()) {
      MemcpyRow m;
      m.id = st->i64(0);
      m.rank = RankId(st->i64(1));
      m.stream = StreamId(st->i64(2));
      m.start_ns = time(st->i64(3));
      m.dur_ns = dur(st->i64(4));
      m.bytes = st->i64(5);
      m.kind = static_cast<CopyKind>(st->i64(6));
      m.src_device = static_cast<int>(st->i64(7));
      m.dst_device = static_cast<int>(st->i64(8));
      m.correlation = st->i64(9);
      out.push_back(m);
    }
  return out;
}

std::vector<MemsetRow> TraceReader::memsets(RankId rank, std::int64_t t0, std::int64_t t1) {
  std::vector<MemsetRow> out;
  auto st = db_->prepare("SELECT id,rank,stream,start_ns,dur_ns,bytes,correlation FROM memsets" +
                         range_where("memsets", rank, t0, t1, true));
  if (st)
    while (st->step()) {
      MemsetRow m;
      m.id = st->i64(0);
      m.rank = RankId(st->i64(1));
      m.stream = StreamId(st->i64(2));
      m.start_ns = time(st->i64(3));
      m.dur_ns = dur(st->i64(4));
      m.bytes = st->i64(5);
      m.correlation = st->i64(6);
      out.push_back(m);
    }
  return out;
}

static constexpr const char* kApiCols = "SELECT id,rank,tid,start_ns,dur_ns,name_id,kind,correlation FROM api_calls";
static ApiCallRow api_call_from(const TraceReader& rd, const Statement& st) {
  ApiCallRow a;
  a.id = st.i64(0);
  a.rank = RankId(st.i64(1));
  a.tid = st.i64(2);
  a.start_ns = rd.time(st.i64(3));
  a.dur_ns = rd.dur(st.i64(4));
  a.name = rd.sid(st.i64(5));
  a.kind = static_cast<ApiKind>(st.i64(6));
  a.correlation = st.i64(7);
  return a;
}

std::vector<ApiCallRow> TraceReader::api_calls(RankId rank, std::int64_t t0, std::int64_t t1) {
  std::vector<ApiCallRow> out;
  auto st = db_->prepare(kApiCols + range_where("api_calls", rank, t0, t1, true));
  if (st)
    while (st->step()) out.push_back(api_call_from(*this, *st));
  return out;
}

bool TraceReader::for_each_api_call_stored(const std::function<void(const ApiCallRow&)>& fn) {
  auto st = db_->prepare(kApiCols);
  if (!st) return false;
  while (st->step()) fn(api_call_from(*this, *st));
  return true;
}

std::vector<NvtxRow> TraceReader::nvtx(RankId rank, std::int64_t t0, std::int64_t t1) {
  std::vector<NvtxRow> out;
  auto st = db_->prepare("SELECT id,rank,tid,start_ns,dur_ns,name_id,domain_id,payload FROM nvtx" +
                         range_where("nvtx", rank, t0, t1, true));
  if (st)
    while (st->step()) {
      NvtxRow n;
      n.id = st->i64(0);
      n.rank = RankId(st->i64(1));
      n.tid = st->i64(2);
      n.start_ns = time(st->i64(3));
      n.dur_ns = dur(st->i64(4));
      n.name = sid(st->i64(5));
      n.domain = sid(st->i64(6));
      n.payload = st->opt_text(7);
      out.push_back(std::move(n));
    }
  return out;
}

std::vector<NcclOpRow> TraceReader::nccl_ops(RankId rank, std::int64_t t0, std::int64_t t1) {
  std::vector<NcclOpRow> out;
  auto st = db_->prepare(
      "SELECT id,rank,comm_hash,seq,func,algo,proto,channels,count,dtype,bytes,peer,root,nranks,enqueue_ns,"
      "start_ns,end_ns,stream,kernel_id,in_splits,out_splits,pg_name,pg_ranks FROM nccl_ops" +
      range_where("nccl_ops", rank, t0, t1, false));
  if (st)
    while (st->step()) {
      NcclOpRow o;
      o.id = st->i64(0);
      o.rank = RankId(st->i64(1));
      o.comm_hash = st->opt_text(2);
      o.seq = st->i64(3);
      o.func = st->text(4);
      o.algo = st->opt_text(5);
      o.proto = st->opt_text(6);
      o.channels = static_cast<int>(st->i64(7));
      o.count = st->i64(8);
      o.dtype = st->opt_text(9);
      o.bytes = st->i64(10);
      o.peer = static_cast<int>(st->i64(11));
      o.root = static_cast<int>(st->i64(12));
      o.nranks = static_cast<int>(st->i64(13));
      o.enqueue_ns = st->opt_i64(14);
      o.start_ns = time(st->i64(15));
      o.end_ns = std::max(o.start_ns, time(st->i64(16)));
      if (o.end_ns != st->i64(16)) ++clamped_;
      o.stream = st->i64(17);
      o.kernel_id = st->opt_i64(18);
      o.in_splits = list_at(*st, 19);
      o.out_splits = list_at(*st, 20);
      o.pg_name = st->opt_text(21);
      o.pg_ranks = list_at(*st, 22);
      out.push_back(std::move(o));
    }
  return out;
}

std::vector<StepRow> TraceReader::steps(RankId rank) {
  std::vector<StepRow> out;
  std::string sql = "SELECT rank,step,start_ns,end_ns,tokens FROM steps";
  if (rank.valid()) sql += " WHERE rank = " + std::to_string(rank.value);
  sql += " ORDER BY rank, start_ns";
  auto st = db_->prepare(sql);
  if (st)
    while (st->step()) {
      const std::int64_t t0 = time(st->i64(2)), t1 = std::max(t0, time(st->i64(3)));
      if (t1 != st->i64(3)) ++clamped_;
      out.push_back({RankId(st->i64(0)), st->i64(1), t0, t1, st->opt_i64(4)});
    }
  return out;
}

std::vector<ExpertRoutingRow> TraceReader::expert_routing() {
  if (version_ >= 3) return read_routing_v3(*db_);  // expert_counts (routing_lists.cpp)
  std::vector<ExpertRoutingRow> out;
  auto st = db_->prepare(
      "SELECT step,layer,rank,expert,tokens,time_ns FROM expert_routing ORDER BY layer, step, rank, expert");
  if (st)
    while (st->step())
      out.push_back({st->i64(0), int_id(st->i64(1)), RankId(st->i64(2)), int_id(st->i64(3)), st->i64(4),
                     st->opt_i64(5)});
  return out;
}

std::vector<ExpertPlacementRow> TraceReader::expert_placement() {
  std::vector<ExpertPlacementRow> out;
  auto st = db_->prepare("SELECT layer,expert,rank,replica FROM expert_placement ORDER BY layer, expert, replica");
  if (st)
    while (st->step())
      out.push_back({int_id(st->i64(0)), int_id(st->i64(1)), RankId(st->i64(2)), int_id(st->i64(3))});
  return out;
}

std::vector<TopologyRow> TraceReader::topology() {
  if (version_ >= 3) return read_topology_v3(*db_);  // pairs + domains (topology_domains.cpp)
  std::vector<TopologyRow> out;
  auto st = db_->prepare("SELECT host,a,b,rank_a,rank_b,link,bandwidth_gbps,source FROM topology ORDER BY rowid");
  if (st)
    while (st->step()) {
      TopologyRow t;
      t.host = st->text(0);
      t.a = st->text(1);
      t.b = st->text(2);
      t.rank_a = st->opt_i64(3);
      t.rank_b = st->opt_i64(4);
      t.link = st->text(5);
      if (!st->is_null(6)) t.bandwidth_gbps = st->f64(6);
      t.source = st->text(7);
      out.push_back(std::move(t));
    }
  return out;
}

std::vector<BenchResultRow> TraceReader::bench_results() {
  std::vector<BenchResultRow> out;
  auto st = db_->prepare(
      "SELECT source,func,nranks,bytes,count,dtype,time_us,algbw_gbps,busbw_gbps,in_place FROM bench_results "
      "ORDER BY rowid");
  if (st)
    while (st->step()) {
      BenchResultRow b;
      b.source = st->text(0);
      b.func = st->text(1);
      b.nranks = static_cast<int>(st->i64(2));
      b.bytes = st->i64(3);
      b.count = st->i64(4);
      b.dtype = st->text(5);
      b.time_us = st->f64(6);
      b.algbw_gbps = st->f64(7);
      b.busbw_gbps = st->f64(8);
      b.in_place = st->i64(9) != 0;
      out.push_back(std::move(b));
    }
  return out;
}

}  // namespace moetune
