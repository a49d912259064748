// SPDX-License-Identifier: Apache-2.0
// RunData::load: the big event tables (kernels, api_calls, nvtx, memcpys, memsets) are
// read by a pool of threads (one per core, each with its own read-only connection) in
// storage order: kernels in one piece (primary-key order, straight into RunData), the
// rowid tables in rowid ranges that each thread writes into their places. No row goes
// through the (rank, start_ns) indexes (a row lookup per row: 2-3x the cost of a scan).
// The caller's thread reads the small tables meanwhile, then sorts a rowid table by
// (rank, start) only when it is not in that order already (stable: ties keep rowid
// order, exactly what the index order gave).
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "moetune/analyzers/model.h"
#include "moetune/trace/dim3_store.h"

namespace moetune::analyzers {
namespace {

constexpr int kPiecesPerTable = 16;

std::int64_t col(sqlite3_stmt* s, int i) { return sqlite3_column_int64(s, i); }

// Row decoders, in the column order of the SELECT lists in load().
void decode(sqlite3_stmt* s, KernelRow& k) {
  k.id = col(s, 0), k.rank = RankId(col(s, 1)), k.stream = StreamId(col(s, 2)), k.start_ns = col(s, 3);
  k.dur_ns = col(s, 4), k.name = StringId(col(s, 5)), k.correlation = col(s, 6), k.grid = col(s, 7);
  k.block = col(s, 8);
}
void decode(sqlite3_stmt* s, ApiCallRow& a) {
  a.id = col(s, 0), a.rank = RankId(col(s, 1)), a.tid = col(s, 2), a.start_ns = col(s, 3), a.dur_ns = col(s, 4);
  a.name = StringId(col(s, 5)), a.kind = static_cast<ApiKind>(col(s, 6)), a.correlation = col(s, 7);
}
void decode(sqlite3_stmt* s, NvtxRow& n) {
  n.id = col(s, 0), n.rank = RankId(col(s, 1)), n.tid = col(s, 2), n.start_ns = col(s, 3), n.dur_ns = col(s, 4);
  n.name = StringId(col(s, 5)), n.domain = StringId(col(s, 6));
  if (sqlite3_column_type(s, 7) != SQLITE_NULL)
    n.payload = std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 7)),
                            static_cast<std::size_t>(sqlite3_column_bytes(s, 7)));
}
void decode(sqlite3_stmt* s, MemcpyRow& m) {
  m.id = col(s, 0), m.rank = RankId(col(s, 1)), m.stream = StreamId(col(s, 2)), m.start_ns = col(s, 3);
  m.dur_ns = col(s, 4), m.bytes = col(s, 5), m.kind = static_cast<CopyKind>(col(s, 6));
  m.src_device = static_cast<int>(col(s, 7)), m.dst_device = static_cast<int>(col(s, 8)), m.correlation = col(s, 9);
}
void decode(sqlite3_stmt* s, MemsetRow& m) {
  m.id = col(s, 0), m.rank = RankId(col(s, 1)), m.stream = StreamId(col(s, 2)), m.start_ns = col(s, 3);
  m.dur_ns = col(s, 4), m.bytes = col(s, 5), m.correlation = col(s, 6);
}

// One piece of one table: its SELECT, its rows once read.
struct Piece {
  std::string table;  // named in a read error
  std::string sql;
  std::function<int(sqlite3_stmt*)> read_all;  // steps the statement, keeps the rows; last step's code
  std::function<void()> append;                // moves the rows to RunData (caller's thread)
  bool done = false;
  std::string error;  // a read that failed part-way (corrupt file)
};

// Pieces whose rows are collected apart and appended in order (kernels).
template <class Row>
void add_pieces(std::vector<std::unique_ptr<Piece>>& pieces, std::vector<Row>& dest, const std::string& select,
                const std::vector<std::string>& where, std::int64_t expected_rows) {
  std::size_t reserve = static_cast<std::size_t>(
      std::clamp<std::int64_t>(expected_rows / std::max<std::int64_t>(1, std::ssize(where)) * 5 / 4, 0, 1 << 24));
  for (const auto& w : where) {
    auto p = std::make_unique<Piece>();
    auto rows = std::make_shared<std::vector<Row>>();
    rows->reserve(reserve);  // virtual until written
    p->table = select.substr(select.rfind(' ') + 1);
    p->sql = select + w;
    p->read_all = [rows](sqlite3_stmt* st) {
      int rc;
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) decode(st, rows->emplace_back());
      return rc;
    };
    p->append = [rows, &dest] {
      dest.insert(dest.end(), std::make_move_iterator(rows->begin()), std::make_move_iterator(rows->end()));
      std::vector<Row>().swap(*rows);
    };
    pieces.push_back(std::move(p));
  }
}

// A rowid table (id = rowid) in kPiecesPerTable rowid ranges (storage order). When its
// rowids are dense (count = max - min + 1, exact: count(*) walks pages without decoding
// rows) every row has its place in DEST, sized here, and each piece writes its rows
// there directly; otherwise the rows are collected and appended like the kernels.
template <class Row>
void add_rowid_pieces(std::vector<std::unique_ptr<Piece>>& pieces, std::vector<Row>& dest, const std::string& select,
                      Db& db, const char* table) {
  auto lo = db.scalar(std::string("SELECT min(rowid) FROM ") + table);
  auto hi = db.scalar(std::string("SELECT max(rowid) FROM ") + table);
  // No rowid range (an empty table, or one that cannot be read): one piece reads the
  // whole table, so a read error is reported with the table's name, never taken as no rows.
  if (!lo || !hi || *hi < *lo) return add_pieces(pieces, dest, select, {""}, 0);
  std::vector<std::string> where;
  std::int64_t span = *hi - *lo + 1, step = std::max<std::int64_t>(1, span / kPiecesPerTable + 1);
  for (std::int64_t a = *lo; a <= *hi; a += step)
    where.push_back(" WHERE rowid >= " + std::to_string(a) + " AND rowid < " + std::to_string(a + std::min(step, *hi - a + 1)));
  auto n = db.scalar(std::string("SELECT count(*) FROM ") + table);
  if (!n || *n != span || span > (std::int64_t{1} << 32)) return add_pieces(pieces, dest, select, where, n.value_or(0));
  dest.resize(static_cast<std::size_t>(span));
  const std::int64_t base = *lo;
  for (const auto& w : where) {
    auto p = std::make_unique<Piece>();
    p->table = table;
    p->sql = select + w;
    p->read_all = [&dest, base](sqlite3_stmt* st) {
      int rc;
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        std::int64_t at = col(st, 0) - base;  // column 0 is id, the rowid
        if (at < 0 || at >= std::ssize(dest)) return SQLITE_CORRUPT;
        decode(st, dest[static_cast<std::size_t>(at)]);
      }
      return rc;
    };
    p->append = [] {};
    pieces.push_back(std::move(p));
  }
}

// Stable order by (rank, start) in O(n) when rows come rank-interleaved but each rank in
// time order (writers store them so): a stable bucket pass by rank, then a rank's rows
// sorted by start only if they are not already.
template <class Row>
void sort_by_rank_start(std::vector<Row>& v) {
  auto less = [](const Row& a, const Row& b) { return a.rank != b.rank ? a.rank < b.rank : a.start_ns < b.start_ns; };
  if (std::is_sorted(v.begin(), v.end(), less)) return;
  std::int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const auto& r : v) lo = std::min(lo, r.rank.value), hi = std::max(hi, r.rank.value);
  // The span in unsigned arithmetic: ranks come from the file, and hi - lo of two extreme
  // int64 values overflows (found by fuzz_store: ranks INT64_MAX and -2^40).
  const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  if (span > (1u << 20)) return std::stable_sort(v.begin(), v.end(), less);  // sparse ranks: plain sort
  std::vector<std::size_t> first(static_cast<std::size_t>(span) + 2, 0);
  for (const auto& r : v) ++first[static_cast<std::size_t>(static_cast<std::uint64_t>(r.rank.value) - static_cast<std::uint64_t>(lo)) + 1];
  for (std::size_t i = 1; i < first.size(); ++i) first[i] += first[i - 1];
  std::vector<Row> out(v.size());
  auto pos = first;
  for (auto& r : v) out[pos[static_cast<std::size_t>(static_cast<std::uint64_t>(r.rank.value) - static_cast<std::uint64_t>(lo))]++] = std::move(r);
  auto by_start = [](const Row& a, const Row& b) { return a.start_ns < b.start_ns; };
  for (std::size_t k = 0; k + 1 < first.size(); ++k) {
    auto b = out.begin() + static_cast<std::ptrdiff_t>(first[k]), e = out.begin() + static_cast<std::ptrdiff_t>(first[k + 1]);
    if (!std::is_sorted(b, e, by_start)) std::stable_sort(b, e, by_start);
  }
  v = std::move(out);
}

}  // namespace

Expected<RunData> RunData::load(const std::filesystem::path& path) {
  auto r = TraceReader::open(path);
  if (!r) return r.error();
  auto& rd = **r;
  RunData d;
  d.path = path;
  std::string error;  // the first query that failed ("FILE: table T: what")
  auto take = [&error](auto&& got, auto& into) {
    if (got) into = std::move(*got);
    else if (error.empty()) error = got.error().message;
  };
  take(rd.ranks(), d.ranks);
  TableCounts counts;
  take(rd.counts(), counts);

  std::vector<std::unique_ptr<Piece>> pieces;
  {  // one piece, first: it reads straight into d.kernels while the other threads take the rowid pieces
    auto p = std::make_unique<Piece>();
    p->table = "kernels";
    p->sql = "SELECT id,rank,stream,start_ns,dur_ns,name_id,correlation,grid,block FROM kernels "
             "ORDER BY rank, start_ns, id";
    d.kernels.reserve(static_cast<std::size_t>(std::clamp<std::int64_t>(counts.get("kernels"), 0, 1LL << 32)));
    const int version = rd.format_version();  // grid/block as stored (moetune/trace/dim3_store.h)
    p->read_all = [&d, version](sqlite3_stmt* st) {
      int rc;
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        KernelRow& k = d.kernels.emplace_back();
        decode(st, k);
        k.grid = dim3_load(k.grid, version), k.block = dim3_load(k.block, version);
      }
      return rc;
    };
    p->append = [] {};
    pieces.push_back(std::move(p));
  }
  add_rowid_pieces(pieces, d.api_calls, "SELECT id,rank,tid,start_ns,dur_ns,name_id,kind,correlation FROM api_calls",
                   rd.db(), "api_calls");
  add_rowid_pieces(pieces, d.nvtx, "SELECT id,rank,tid,start_ns,dur_ns,name_id,domain_id,payload FROM nvtx", rd.db(),
                   "nvtx");
  add_rowid_pieces(pieces, d.memcpys,
                   "SELECT id,rank,stream,start_ns,dur_ns,bytes,kind,src_device,dst_device,correlation FROM memcpys",
                   rd.db(), "memcpys");
  add_rowid_pieces(pieces, d.memsets, "SELECT id,rank,stream,start_ns,dur_ns,bytes,correlation FROM memsets", rd.db(),
                   "memsets");

  std::mutex mu;
  std::condition_variable cv;
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    auto db = Db::open(path, Db::Mode::ReadOnly);
    for (std::size_t i; (i = next++) < pieces.size();) {
      Piece& p = *pieces[i];
      sqlite3_stmt* st = nullptr;
      std::string failed;
      if (!db) {
        failed = db.error().message;
      } else if (sqlite3_prepare_v2((*db)->handle(), p.sql.c_str(), -1, &st, nullptr) != SQLITE_OK ||
                 p.read_all(st) != SQLITE_DONE) {
        failed = path.string() + ": table " + p.table + ": " + (*db)->last_error();
      }
      sqlite3_finalize(st);
      std::lock_guard l(mu);
      p.done = true;
      p.error = std::move(failed);
      cv.notify_all();
    }
  };
  unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work);

  take(rd.meta(), d.meta);
  d.strings = rd.strings();
  take(rd.nccl_ops(), d.nccl_ops);
  take(rd.steps(), d.steps);
  take(rd.expert_routing(), d.routing);
  take(rd.expert_placement(), d.placement);
  take(rd.topology(), d.topology);
  take(rd.bench_results(), d.bench);

  for (auto& p : pieces) {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return p->done; });
    l.unlock();
    if (error.empty()) error = p->error;
    p->append();
  }
  for (auto& t : pool) t.join();
  if (!error.empty()) return Error{error};
  // The pieces are decoded raw on the worker threads; the reader's checks apply here, on
  // this thread: string ids renumbered when the strings table was sparse, times and
  // durations clamped to the store range (counted in the stat store_values_clamped).
  auto fix_row = [&rd](auto& row) {
    row.start_ns = rd.time(row.start_ns);
    row.dur_ns = rd.dur(row.dur_ns);
  };
  for (auto& k : d.kernels) fix_row(k), k.name = rd.sid(k.name.value);
  for (auto& a : d.api_calls) fix_row(a), a.name = rd.sid(a.name.value);
  for (auto& n : d.nvtx) fix_row(n), n.name = rd.sid(n.name.value), n.domain = rd.sid(n.domain.value);
  for (auto& m : d.memcpys) fix_row(m);
  for (auto& m : d.memsets) fix_row(m);
  take(rd.stats(), d.stats);
  if (!error.empty()) return Error{error};
  sort_by_rank_start(d.kernels);
  sort_by_rank_start(d.api_calls);
  sort_by_rank_start(d.nvtx);
  sort_by_rank_start(d.memcpys);
  sort_by_rank_start(d.memsets);
  return d;
}

}  // namespace moetune::analyzers
