// SPDX-License-Identifier: Apache-2.0
// The untyped table list (all_tables): the typed descriptors of tables.h (tables::kAll).
#include "moetune/trace/tables.h"

namespace moetune {

namespace {
template <class T>
TableDesc describe(const T& t) {
  auto cols = t.columns();
  return {t.info, std::vector<ColumnInfo>(cols.begin(), cols.end())};
}
}  // namespace

const std::vector<TableDesc>& all_tables() {
  static const std::vector<TableDesc> all =
      std::apply([](const auto*... t) { return std::vector<TableDesc>{describe(*t)...}; }, tables::kAll);
  return all;
}

std::vector<std::string_view> table_names(unsigned flags) {
  std::vector<std::string_view> out;
  for (const auto& t : all_tables())
    if ((t.info.flags & flags) == flags) out.push_back(t.info.name);
  return out;
}

}  // namespace moetune
