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

// Every table, view and column of this version's schema (tables.h) must be present: a
// dropped table or column would otherwise read as "no rows" and be analysed as data. A
// table a later format version added (TableInfo::since) is absent from older files by
// design, as is one a later version replaced (TableInfo::until) from newer ones.
Expected<void> check_schema(Db& db, int version) {
  for (const auto& t : all_tables()) {
    if (!t.info.in_format(version)) continue;
    auto c = db.prepare("SELECT name FROM pragma_table_info(?)");
    if (!c) return Error{"cannot read the schema (" + db.last_error() + ")"};
    c->bind(1, t.info.name);
    std::set<std::string, std::less<>> have;
    while (c->step()) have.insert(c->text(0));
    if (c->rc() != SQLITE_DONE) return Error{"cannot read the schema (" + db.last_error() + ")"};
    if (have.empty()) return Error{"damaged store: table " + std::string(t.info.name) + " is missing"};
    for (const auto& col : t.columns)
      if (!have.count(col.name))
        return Error{"damaged store: column " + std::string(t.info.name) + "." + std::string(col.name) + " is missing"};
  }
  return {};
}

// The lines of a quick_check run as one line: "; " between them, without the
// "*** in database main ***" headers. Stops at the first "ok".
std::string check_lines(Statement& qc) {
  std::string out;
  while (qc.step()) {
    std::string text = qc.text(0);
    if (text == "ok") break;
    for (std::size_t pos = 0; pos <= text.size();) {
      auto end = std::min(text.find('\n', pos), text.size());
      auto line = text.substr(pos, end - pos);
      if (!line.empty() && line.rfind("***", 0) != 0) out += (out.empty() ? "" : "; ") + line;
      pos = end + 1;
    }
  }
  return out;
}

// After quick_check found damage: which tables it lies in ("table T (what)"; "" when the
// damage is in no table, e.g. only the free-page list).
std::string damaged_tables(Db& db) {
  std::string out;
  for (const auto& t : all_tables()) {
    if ((t.info.flags & kView) || !db.has_table(t.info.name)) continue;
    auto qc = db.prepare("PRAGMA quick_check(\"" + std::string(t.info.name) + "\")");
    if (!qc) continue;
    auto what = check_lines(*qc);
    if (what.empty() && qc->rc() != SQLITE_ROW && qc->rc() != SQLITE_DONE) what = db.last_error();
    if (!what.empty()) out += (out.empty() ? "table " : "; table ") + std::string(t.info.name) + " (" + what + ")";
  }
  return out;
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
  if (auto q = check ? r->check_integrity() : Expected<void>{}; !q) return q.error();
  // Writers number strings densely from 0; a table whose largest id is far above its row
  // count (a damaged or crafted file) is renumbered densely here, so memory follows the
  // rows, never the largest id. Row name ids go through sid() either way.
  std::vector<std::pair<std::int64_t, std::string>> rows;
  std::int64_t max_id = -1;
  std::string bad;
  auto read = r->scan(tables::kStrings, " ORDER BY id", [&](StringRow&& row) {
    if (!bad.empty()) return;
    if (row.id < 0) bad = "corrupt strings table (negative id " + std::to_string(row.id) + ")";
    max_id = std::max(max_id, row.id);
    if (r->version_ >= 3 && row.value.blob) {  // packed integer-list tail (string_pack.cpp)
      auto text = unpack_string(row.value.bytes);
      if (!text) bad = "damaged store: string " + std::to_string(row.id) + " cannot be unpacked";
      else row.value.bytes = std::move(*text);
    }
    rows.emplace_back(row.id, std::move(row.value.bytes));
  });
  if (!read) return read.error();
  if (!bad.empty()) return Error{path.string() + ": " + bad};
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
  const std::string file = db_->path().string() + ": ";
  if (!qc) return corrupt() ? Expected<void>(Error{file + "damaged store (" + db_->last_error() + ")"}) : Expected<void>{};
  std::string problems = check_lines(*qc);
  if (problems.empty() && qc->rc() != SQLITE_ROW && qc->rc() != SQLITE_DONE && corrupt()) problems = db_->last_error();
  if (!problems.empty()) {
    if (auto where = damaged_tables(*db_); !where.empty()) return Error{file + "damaged store: " + where};
    return Error{file + "damaged store (PRAGMA quick_check: " + problems + ")"};
  }
  auto stored = meta_numbers("store.counts");
  if (!stored) return stored.error();
  for (const auto& [t, cached] : *stored) {
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


Error TraceReader::table_error(std::string_view table, const std::string& what) const {
  return Error{db_->path().string() + ": table " + std::string(table) + ": " + what};
}

// Reads a column into a row field: by the field's type, then the column's codec.
namespace {
void read_value(const Statement& st, int i, std::int64_t& f) { f = st.i64(i); }
void read_value(const Statement& st, int i, int& f) { f = static_cast<int>(st.i64(i)); }
template <class Tag>
void read_value(const Statement& st, int i, Id<Tag>& f) { f = Id<Tag>(st.i64(i)); }
void read_value(const Statement& st, int i, double& f) { f = st.f64(i); }
void read_value(const Statement& st, int i, bool& f) { f = st.i64(i) != 0; }
void read_value(const Statement& st, int i, std::string& f) { f = st.text(i); }
void read_value(const Statement& st, int i, std::optional<std::string>& f) { f = st.opt_text(i); }
void read_value(const Statement& st, int i, StoredText& f) {
  f.blob = st.is_blob(i);
  f.bytes = st.text(i);
}
void read_blob(const Statement& st, int i, std::string& f) { f = std::string(st.text_view(i)); }
void read_blob(const Statement& st, int i, std::optional<std::string>& f) {
  if (st.is_null(i)) f.reset();
  else f = std::string(st.text_view(i));
}
void read_value(const Statement& st, int i, std::optional<std::int64_t>& f) { f = st.opt_i64(i); }
void read_value(const Statement& st, int i, std::optional<double>& f) {
  if (!st.is_null(i)) f = st.f64(i);
}
void read_value(const Statement& st, int i, Severity& f) { f = severity_from(st.text_view(i)); }
template <class E>
  requires std::is_enum_v<E>
void read_value(const Statement& st, int i, E& f) { f = static_cast<E>(st.i64(i)); }
}  // namespace

template <class Row, class C>
void TraceReader::decode(const Statement& st, int i, Row& row, const C& c) {
  auto& f = row.*(c.member);
  if constexpr (C::codec == Codec::Time) f = time(st.i64(i));
  else if constexpr (C::codec == Codec::Dur) f = dur(st.i64(i));
  else if constexpr (C::codec == Codec::End) {
    const std::int64_t raw = st.i64(i);
    f = std::max(row.start_ns, time(raw));
    if (f != raw) ++clamped_;
  } else if constexpr (C::codec == Codec::Str) f = sid(st.i64(i));
  else if constexpr (C::codec == Codec::IntId) f = int_id(st.i64(i));
  else if constexpr (C::codec == Codec::Blob) read_blob(st, i, f);
  else if constexpr (C::codec == Codec::Dim3) f = dim3_load(st.i64(i), version_);  // dim3_store.h
  else if constexpr (std::is_same_v<std::remove_cvref_t<decltype(f)>, OpList>) f = list_at(st, i);
  else read_value(st, i, f);
}

template <class T, class Fn>
Expected<void> TraceReader::scan(const T& table, const std::string& tail, Fn&& fn) {
  using Row = typename T::row_type;
  constexpr bool with_rowid = std::is_invocable_v<Fn, Row&&, std::int64_t>;
  std::string sql = "SELECT ";
  for (const auto& c : table.columns()) sql += std::string(sql.size() > 7 ? "," : "") + std::string(c.name);
  if (with_rowid) sql += ",rowid";
  auto st = db_->prepare(sql + " FROM " + std::string(table.info.name) + tail);
  if (!st) return table_error(table.info.name, db_->last_error());
  while (st->step()) {
    Row row;
    std::apply([&](const auto&... c) {
      int i = 0;
      (decode(*st, i++, row, c), ...);
    }, table.cols);
    if (!list_error_.empty()) return table_error("nccl_lists", list_error_);
    if constexpr (with_rowid) fn(std::move(row), st->i64(static_cast<int>(T::size)));
    else fn(std::move(row));
  }
  if (st->rc() != SQLITE_DONE) return table_error(table.info.name, db_->last_error());
  return {};
}

template <class T>
Expected<std::vector<typename T::row_type>> TraceReader::select(const T& table, const std::string& tail) {
  std::vector<typename T::row_type> out;
  if (auto r = scan(table, tail, [&](typename T::row_type&& row) { out.push_back(std::move(row)); }); !r)
    return r.error();
  return out;
}

Expected<std::optional<std::int64_t>> TraceReader::scalar(std::string_view table, const std::string& sql) {
  auto st = db_->prepare(sql);
  if (!st) return table_error(table, db_->last_error());
  if (st->step()) return st->opt_i64(0);
  if (st->rc() != SQLITE_DONE) return table_error(table, db_->last_error());
  return std::optional<std::int64_t>();
}

Expected<std::map<std::string, std::string>> TraceReader::meta() {
  std::map<std::string, std::string> m;
  auto r = scan(tables::kMeta, "", [&](MetaRow&& row) { m[std::move(row.key)] = std::move(row.value); });
  if (!r) return r.error();
  return m;
}

Expected<std::optional<std::string>> TraceReader::meta_value(const char* key) {
  auto st = db_->prepare("SELECT value FROM meta WHERE key = ?");
  if (!st) return table_error("meta", db_->last_error());
  st->bind(1, key);
  if (st->step()) return std::optional<std::string>(st->text(0));
  if (st->rc() != SQLITE_DONE) return table_error("meta", db_->last_error());
  return std::optional<std::string>();
}

// "name=N name=N ..." as TraceWriter::finish() stores it in meta; empty if absent or malformed.
Expected<std::map<std::string, std::int64_t>> TraceReader::meta_numbers(const char* key) {
  auto v = meta_value(key);
  if (!v) return v.error();
  std::map<std::string, std::int64_t> out;
  if (!*v) return out;
  const std::string& text = **v;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    auto item = text.substr(pos, end - pos);
    auto eq = item.find('=');
    if (eq != std::string::npos) {
      try {
        out[item.substr(0, eq)] = std::stoll(item.substr(eq + 1));
      } catch (const std::exception&) {
        return std::map<std::string, std::int64_t>();  // malformed: fall back to scanning
      }
    }
    pos = end + 1;
  }
  return out;
}

Expected<std::vector<RankRow>> TraceReader::ranks() { return select_all(tables::kRanks); }

Expected<std::vector<StatRow>> TraceReader::stats() {
  auto out = select_all(tables::kStats);
  if (!out) return out;
  out->insert(out->end(), integrity_stats_.begin(), integrity_stats_.end());
  if (clamped_ > 0)
    out->push_back({"store_values_clamped", Severity::Error, clamped_, std::nullopt,
                    "times outside +-2^61 ns, negative durations or ends before starts in the stored rows "
                    "(clamped when read)"});
  return out;
}

Expected<TableCounts> TraceReader::counts() {
  TableCounts c;
  // Writers record their row counts at finish(); counting a 10 M-row table would take seconds.
  auto stored = meta_numbers("store.counts");
  if (!stored) return stored.error();
  for (const auto& d : all_tables()) {
    if (!(d.info.flags & (kCounted | kSummary))) continue;
    const std::string t(d.info.name);
    if (auto it = verified_counts_.find(t); it != verified_counts_.end()) {
      c.by_table[t] = it->second;
    } else if (auto is = stored->find(t); is != stored->end()) {
      c.by_table[t] = is->second;
    } else {
      const std::string logical = logical_count_sql(t, version_);
      auto n = scalar(t, logical.empty() ? "SELECT count(*) FROM " + t : logical);
      if (!n) return n.error();
      c.by_table[t] = n->value_or(0);
    }
  }
  return c;
}

Expected<std::pair<std::int64_t, std::int64_t>> TraceReader::time_range() {
  auto v = meta_value("store.time_range_ns");
  if (!v) return v.error();
  long long a = 0, b = 0;
  if (*v && std::sscanf((*v)->c_str(), "%lld %lld", &a, &b) == 2) return std::pair<std::int64_t, std::int64_t>{a, b};
  std::int64_t lo = INT64_MAX, hi = INT64_MIN;
  auto widen = [&](std::string_view t, const std::string& end) -> Expected<void> {
    const std::string from = " FROM " + std::string(t);
    auto x = scalar(t, "SELECT min(start_ns)" + from);
    if (!x) return x.error();
    auto y = scalar(t, "SELECT max(" + end + ")" + from);
    if (!y) return y.error();
    if (*x) lo = std::min(lo, **x);
    if (*y) hi = std::max(hi, **y);
    return {};
  };
  for (const auto& d : all_tables()) {
    if (!(d.info.flags & kRanged)) continue;
    const bool with_dur = std::any_of(d.columns.begin(), d.columns.end(), [](const auto& c) { return c.codec == Codec::Dur; });
    if (auto r = widen(d.info.name, with_dur ? "start_ns + dur_ns" : "end_ns"); !r) return r.error();
  }
  if (lo == INT64_MAX) return std::pair<std::int64_t, std::int64_t>{0, 0};
  return std::pair<std::int64_t, std::int64_t>{lo, hi};
}

Expected<std::int64_t> TraceReader::max_dur(std::string_view table, bool has_dur) {
  if (max_dur_.empty()) {  // recorded by the writer at finish(); missing tables are scanned below
    auto m = meta_numbers("store.max_dur_ns");
    if (!m) return m.error();
    for (const auto& [t, v] : *m) max_dur_[t] = v;
  }
  auto it = max_dur_.find(table);
  if (it != max_dur_.end()) return std::clamp<std::int64_t>(it->second, 0, kTimeMax);  // meta may be damaged
  const std::string col = has_dur ? "dur_ns" : "end_ns - start_ns";
  auto v = scalar(table, "SELECT max(" + col + ") FROM " + std::string(table));
  if (!v) return v.error();
  const auto d = std::clamp<std::int64_t>(v->value_or(0), 0, kTimeMax);
  max_dur_.emplace(std::string(table), d);
  return d;
}

template <class T>
Expected<std::vector<typename T::row_type>> TraceReader::select_range(const T& table, RankId rank, std::int64_t t0,
                                                                      std::int64_t t1) {
  constexpr bool with_dur = tables::has_dur<T>;
  std::string w = " WHERE 1";
  if (rank.valid()) w += " AND rank = " + std::to_string(rank.value);
  if (t0 > kTimeMin) {
    auto longest = max_dur(table.info.name, with_dur);
    if (!longest) return longest.error();
    w += " AND start_ns >= " + std::to_string(t0 - *longest);
    w += with_dur ? " AND start_ns + dur_ns > " + std::to_string(t0) : " AND end_ns > " + std::to_string(t0);
  }
  if (t1 < kTimeMax) w += " AND start_ns < " + std::to_string(t1);
  return select(table, w + " ORDER BY " + std::string(table.info.order_by));
}

// The event tables' range queries: select_range over each table's descriptor.
using T64 = std::int64_t;
template <class R>
using Rows = Expected<std::vector<R>>;
Rows<KernelRow> TraceReader::kernels(RankId k, T64 t0, T64 t1) { return select_range(tables::kKernels, k, t0, t1); }
Rows<MemcpyRow> TraceReader::memcpys(RankId k, T64 t0, T64 t1) { return select_range(tables::kMemcpys, k, t0, t1); }
Rows<MemsetRow> TraceReader::memsets(RankId k, T64 t0, T64 t1) { return select_range(tables::kMemsets, k, t0, t1); }
Rows<ApiCallRow> TraceReader::api_calls(RankId k, T64 t0, T64 t1) { return select_range(tables::kApiCalls, k, t0, t1); }
Rows<NvtxRow> TraceReader::nvtx(RankId k, T64 t0, T64 t1) { return select_range(tables::kNvtx, k, t0, t1); }
Rows<NcclOpRow> TraceReader::nccl_ops(RankId k, T64 t0, T64 t1) { return select_range(tables::kNcclOps, k, t0, t1); }

Expected<void> TraceReader::for_each_kernel(const std::function<void(const KernelRow&)>& fn) {
  return scan(tables::kKernels, " ORDER BY rank, start_ns", [&](KernelRow&& k) { fn(k); });
}
Expected<void> TraceReader::for_each_api_call_stored(const std::function<void(const ApiCallRow&)>& fn) {
  return scan(tables::kApiCalls, "", [&](ApiCallRow&& a) { fn(a); });
}

Expected<std::vector<StepRow>> TraceReader::steps(RankId rank) {
  const std::string where = rank.valid() ? " WHERE rank = " + std::to_string(rank.value) : "";
  return select(tables::kSteps, where + " ORDER BY " + std::string(tables::kSteps.info.order_by));
}

// The small tables, whole, in their descriptors' order.
template <class T>
Rows<typename T::row_type> TraceReader::select_all(const T& table) {
  return select(table, " ORDER BY " + std::string(table.info.order_by));
}
Rows<ExpertPlacementRow> TraceReader::expert_placement() { return select_all(tables::kPlacement); }

// Format 3 keeps routing as expert_counts lists (routing_lists.cpp); the rows come back
// as the format 1/2 table gave them.
Rows<ExpertRoutingRow> TraceReader::expert_routing() {
  if (version_ < 3) return select_all(tables::kRouting);
  RoutingExpander rows;
  const auto& t = tables::kExpertCounts;
  if (auto r = scan(t, " ORDER BY " + std::string(t.info.order_by), [&](ExpertCountsRow&& c) { rows.add(c); }); !r)
    return r.error();
  return rows.finish();
}

// Format 3: the pair rows, with each domain's pairs put back where they were added
// (topology_domains.cpp).
Rows<TopologyRow> TraceReader::topology() {
  if (version_ < 3) return select_all(tables::kTopology);
  auto domains = select_all(tables::kTopoDomains);
  if (!domains) return domains.error();
  auto gpus = select_all(tables::kTopoDomainGpus);
  if (!gpus) return gpus.error();
  TopologyMerger rows(std::move(*domains), *gpus);
  if (auto r = scan(tables::kTopology, " ORDER BY rowid",
                    [&](TopologyRow&& row, std::int64_t rowid) { rows.pair(rowid, std::move(row)); });
      !r)
    return r.error();
  return rows.finish();
}
Rows<BenchResultRow> TraceReader::bench_results() { return select_all(tables::kBench); }

}  // namespace moetune
