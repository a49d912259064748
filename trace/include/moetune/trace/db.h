// SPDX-License-Identifier: Apache-2.0
// Thin RAII wrappers over sqlite3: Db (a connection) and Statement (a prepared
// statement). Errors are returned as Expected<> with the file name in the message.
// Cost: a Statement is prepared once and reset per row (no re-parsing on hot paths).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "moetune/trace/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace moetune {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* s) : s_(s) {}
  Statement(Statement&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept;
  ~Statement();

  Statement& bind(int idx, std::int64_t v);
  Statement& bind(int idx, int v) { return bind(idx, static_cast<std::int64_t>(v)); }
  Statement& bind(int idx, double v);
  Statement& bind(int idx, std::string_view v);
  Statement& bind(int idx, const char* v) { return bind(idx, std::string_view(v)); }
  Statement& bind(int idx, const std::string& v) { return bind(idx, std::string_view(v)); }
  Statement& bind_null(int idx);
  Statement& bind_blob(int idx, std::string_view bytes);
  template <class T>
  Statement& bind(int idx, const std::optional<T>& v) {
    return v ? bind(idx, *v) : bind_null(idx);
  }

  // Returns true while a row is available; false at the end or on error (see rc()).
  bool step();
  // Runs the statement to completion and resets it. Returns the sqlite result code.
  int exec();
  void reset();

  std::int64_t i64(int col) const;
  double f64(int col) const;
  std::string text(int col) const;
  std::string_view text_view(int col) const;
  bool is_null(int col) const;
  bool is_integer(int col) const;
  bool is_blob(int col) const;
  std::optional<std::int64_t> opt_i64(int col) const;
  std::optional<std::string> opt_text(int col) const;
  int rc() const { return rc_; }
  explicit operator bool() const { return s_ != nullptr; }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = 0;
};

class Db {
 public:
  enum class Mode { ReadOnly, ReadWrite, Create };
  static Expected<std::unique_ptr<Db>> open(const std::filesystem::path& path, Mode mode);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Expected<void> exec(std::string_view sql);
  Expected<Statement> prepare(std::string_view sql);
  // Single integer result of a query, or nullopt when it returns no row / fails.
  std::optional<std::int64_t> scalar(std::string_view sql);
  bool has_table(std::string_view name);
  std::string last_error() const;
  // Primary sqlite result code of the last failed call (SQLITE_BUSY, SQLITE_NOTADB, ...).
  int last_errcode() const;
  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  Db(sqlite3* db, std::filesystem::path p) : db_(db), path_(std::move(p)) {}
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

}  // namespace moetune
