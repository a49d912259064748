// SPDX-License-Identifier: Apache-2.0
#include "moetune/trace/db.h"

#include <sqlite3.h>

namespace moetune {

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(s_);
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}
Statement::~Statement() { sqlite3_finalize(s_); }

Statement& Statement::bind(int idx, std::int64_t v) {
  sqlite3_bind_int64(s_, idx, v);
  return *this;
}
Statement& Statement::bind(int idx, double v) {
  sqlite3_bind_double(s_, idx, v);
  return *this;
}
Statement& Statement::bind(int idx, std::string_view v) {
  sqlite3_bind_text(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_blob(int idx, std::string_view v) {
  sqlite3_bind_blob(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int idx) {
  sqlite3_bind_null(s_, idx);
  return *this;
}
bool Statement::step() {
  rc_ = sqlite3_step(s_);
  return rc_ == SQLITE_ROW;
}
int Statement::exec() {
  while (step()) {
  }
  int rc = rc_;
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
  return rc;
}
void Statement::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}
std::int64_t Statement::i64(int col) const { return sqlite3_column_int64(s_, col); }
double Statement::f64(int col) const { return sqlite3_column_double(s_, col); }
std::string_view Statement::text_view(int col) const {
  const unsigned char* t = sqlite3_column_text(s_, col);
  if (!t) return {};
  return {reinterpret_cast<const char*>(t), static_cast<std::size_t>(sqlite3_column_bytes(s_, col))};
}
std::string Statement::text(int col) const { return std::string(text_view(col)); }
bool Statement::is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
bool Statement::is_integer(int col) const { return sqlite3_column_type(s_, col) == SQLITE_INTEGER; }
bool Statement::is_blob(int col) const { return sqlite3_column_type(s_, col) == SQLITE_BLOB; }
std::optional<std::int64_t> Statement::opt_i64(int col) const {
  if (is_null(col)) return std::nullopt;
  return i64(col);
}
std::optional<std::string> Statement::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

Expected<std::unique_ptr<Db>> Db::open(const std::filesystem::path& path, Mode mode) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::ReadOnly: flags |= SQLITE_OPEN_READONLY; break;
    case Mode::ReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case Mode::Create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = path.string() + ": cannot open: " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return Error{msg};
  }
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<Db>(new Db(db, path));
}

// close_v2: a Statement that outlives its Db (e.g. TraceWriter members destroyed after
// db_.reset()) must not keep the connection open forever (sqlite3_close would fail BUSY
// and leak it); the connection is freed when the last statement is finalized.
Db::~Db() { sqlite3_close_v2(db_); }

Expected<void> Db::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = path_.string() + ": " + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return Error{msg};
  }
  return {};
}

Expected<Statement> Db::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s,
                              nullptr);
  if (rc != SQLITE_OK) return Error{path_.string() + ": " + sqlite3_errmsg(db_)};
  return Statement(s);
}

std::optional<std::int64_t> Db::scalar(std::string_view sql) {
  auto st = prepare(sql);
  if (!st) return std::nullopt;
  if (!st->step() || st->is_null(0)) return std::nullopt;
  return st->i64(0);
}

bool Db::has_table(std::string_view name) {
  auto st = prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?");
  if (!st) return false;
  st->bind(1, name);
  return st->step();
}

std::string Db::last_error() const { return sqlite3_errmsg(db_); }
int Db::last_errcode() const { return sqlite3_extended_errcode(db_) & 0xff; }

}  // namespace moetune
