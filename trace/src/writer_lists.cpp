// SPDX-License-Identifier: Apache-2.0
// TraceWriter: the nccl_ops list columns (in_splits, out_splits, pg_ranks). A compact
// list (op_list.h) is stored once in nccl_lists and referenced by id from every op that
// carries it (in its stored form: bit-packed where smaller, format 3); a list kept as
// verbatim text goes into the column as TEXT.
#include "moetune/trace/writer.h"

#include <sqlite3.h>

namespace moetune {

TraceWriter::ListRef TraceWriter::list_ref(const OpList& l) {
  ListRef ref;
  if (!l) return ref;
  ref.list = &l;
  if (!l.compact()) return ref;
  auto [it, fresh] = lists_.try_emplace(l.encoded(), static_cast<std::int64_t>(lists_.size()) + 1);
  if (fresh) insert(tables::kNcclLists, {it->second, l.stored()});
  ref.id = it->second;
  return ref;
}

void TraceWriter::bind_list(sqlite3_stmt* st, int idx, const OpList& l) {
  const ListRef ref = list_ref(l);
  if (!ref.list) sqlite3_bind_null(st, idx);
  else if (ref.id > 0) sqlite3_bind_int64(st, idx, ref.id);
  else {
    const std::string text = ref.list->text();
    sqlite3_bind_text(st, idx, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
}

}  // namespace moetune
