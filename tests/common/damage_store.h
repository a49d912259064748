// SPDX-License-Identifier: Apache-2.0
// Damages ONE table of a run file the way a bad disk or a careless edit would, for the
// tests that check the error names that table (tests/trace, tests/gui).
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace moetune::test {

// Runs SQL on the file (read-write); "" or SQLite's message.
inline std::string exec_sql(const std::string& file, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return "cannot open " + file;
  }
  char* err = nullptr;
  std::string out;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) out = err ? err : "failed";
  sqlite3_free(err);
  sqlite3_close(db);
  return out;
}

// Overwrites the b-tree page header of `table`'s root page: the schema still reads, the
// table's rows do not. "" or what went wrong.
inline std::string smash_table_root(const std::string& file, const std::string& table) {
  sqlite3* db = nullptr;
  std::int64_t page_size = 0, root = 0;
  if (sqlite3_open(file.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    const std::string q = "SELECT (SELECT page_size FROM pragma_page_size), rootpage FROM sqlite_master WHERE name = '" +
                          table + "'";
    if (sqlite3_prepare_v2(db, q.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      page_size = sqlite3_column_int64(st, 0);
      root = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  if (root < 2 || page_size <= 0) return file + ": no table " + table;
  FILE* f = std::fopen(file.c_str(), "r+b");
  if (!f) return "cannot write " + file;
  std::fseek(f, static_cast<long>((root - 1) * page_size), SEEK_SET);
  const char junk[] = "\x42\xff\xff\xff\xff\xff\xff\xff";
  std::fwrite(junk, 1, sizeof junk - 1, f);
  std::fclose(f);
  return {};
}

// Replaces `table` by a view of the same columns whose rows fail while they are read
// (integer overflow): the schema and PRAGMA quick_check pass, the query does not, as
// when a large file (no quick_check on open) has a damaged page deep in a table.
inline std::string fail_table_on_read(const std::string& file, const std::string& table, const std::string& cols) {
  return exec_sql(file, "ALTER TABLE " + table + " RENAME TO " + table + "_data; CREATE VIEW " + table + " AS SELECT " +
                            cols + " FROM " + table + "_data WHERE abs(-9223372036854775807 - (rowid = rowid)) >= 0");
}

}  // namespace moetune::test
