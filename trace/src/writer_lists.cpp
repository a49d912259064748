// SPDX-License-Identifier: Apache-2.0
// TraceWriter: the nccl_ops list columns (in_splits, out_splits, pg_ranks). A compact
// list (op_list.h) is stored once in nccl_lists and referenced by id from every op that
// carries it (in its stored form: bit-packed where smaller, format 3); a list kept as
// verbatim text goes into the column as TEXT.
#include "moetune/trace/writer.h"

namespace moetune {

TraceWriter::ListRef TraceWriter::list_ref(const OpList& l) {
  ListRef ref;
  if (!l) return ref;
  ref.list = &l;
  if (!l.compact()) return ref;
  auto [it, fresh] = lists_.try_emplace(l.encoded(), static_cast<std::int64_t>(lists_.size()) + 1);
  if (fresh) check(s_list_.bind(1, it->second).bind_blob(2, l.stored()).exec());
  ref.id = it->second;
  return ref;
}

void TraceWriter::bind_list(int idx, const ListRef& ref) {
  if (!ref.list) s_nccl_.bind_null(idx);
  else if (ref.id > 0) s_nccl_.bind(idx, ref.id);
  else s_nccl_.bind(idx, ref.list->text());
}

}  // namespace moetune
