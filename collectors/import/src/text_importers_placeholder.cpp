// SPDX-License-Identifier: Apache-2.0
// PLACEHOLDER until the nccl-tests and topo importers land (being written now).
#include "moetune/import/import.h"
namespace moetune::import {
Expected<void> import_nccl_tests(const std::filesystem::path& file, TraceWriter&, ImportContext&) {
  return Error{file.string() + ": nccl-tests import not built yet"};
}
Expected<void> import_topo(const std::filesystem::path& file, TraceWriter&, ImportContext&) {
  return Error{file.string() + ": topo import not built yet"};
}
}  // namespace moetune::import
