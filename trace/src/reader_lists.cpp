// SPDX-License-Identifier: Apache-2.0
// TraceReader: the nccl_ops list columns (in_splits, out_splits, pg_ranks). Format 2
// stores an id into nccl_lists; every op holding that id gets the same shared OpList, so
// a 1024-rank run keeps one copy of each distinct list in memory. Format 3 stores a
// list bit-packed where that is smaller (OpList::stored). Format 1 files hold
// the JSON text in the column itself (read and compacted per op).
#include "moetune/trace/reader.h"

#include <sqlite3.h>

namespace moetune {

OpList TraceReader::list_at(const Statement& st, int col) {
  if (st.is_null(col)) return {};
  if (!st.is_integer(col)) return OpList(st.text_view(col));
  const std::int64_t id = st.i64(col);
  if (auto it = lists_.find(id); it != lists_.end()) return it->second;
  if (!list_query_) {
    auto q = db_->prepare("SELECT data FROM nccl_lists WHERE id = ?");
    if (!q) {
      list_error_ = db_->last_error();
      return {};
    }
    list_query_.emplace(std::move(*q));
  }
  OpList l;
  list_query_->bind(1, id);
  if (list_query_->step()) {
    std::string bytes(list_query_->text_view(0));
    // Format 3 may store a list bit-packed (list_pack.cpp); earlier formats never do.
    l = version_ >= 3 ? OpList::from_stored(std::move(bytes)) : OpList::from_encoded(std::move(bytes));
  } else if (list_query_->rc() != SQLITE_DONE) {
    list_error_ = db_->last_error();
  }
  list_query_->reset();
  lists_.emplace(id, l);
  return l;
}

}  // namespace moetune
