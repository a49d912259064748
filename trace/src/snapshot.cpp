// SPDX-License-Identifier: Apache-2.0
#include "moetune/trace/snapshot.h"

#include <sqlite3.h>

#include <string>
#include <system_error>

#include "moetune/trace/db.h"

namespace moetune {

Expected<void> snapshot_store(const std::filesystem::path& from, const std::filesystem::path& to) {
  auto src = Db::open(from, Db::Mode::ReadOnly);
  if (!src) return src.error();
  std::error_code ec;
  std::filesystem::remove(to, ec);
  sqlite3* dst = nullptr;
  if (sqlite3_open_v2(to.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::string m = to.string() + ": " + (dst ? sqlite3_errmsg(dst) : "cannot open");
    sqlite3_close(dst);
    return Error{m};
  }
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", (*src)->handle(), "main");
  const int rc = b ? sqlite3_backup_step(b, -1) : sqlite3_errcode(dst);
  if (b) sqlite3_backup_finish(b);
  const std::string err = rc == SQLITE_DONE ? std::string() : from.string() + ": snapshot failed: " + sqlite3_errstr(rc);
  sqlite3_close(dst);
  if (!err.empty()) return Error{err};
  return {};
}

}  // namespace moetune
