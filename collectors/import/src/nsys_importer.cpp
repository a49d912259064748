// SPDX-License-Identifier: Apache-2.0
// PLACEHOLDER until the nsys importer lands (being written now).
#include "moetune/import/import.h"
namespace moetune::import {
Expected<void> import_nsys(const std::filesystem::path& file, TraceWriter&, ImportContext&) {
  return Error{file.string() + ": nsys import not built yet"};
}
}  // namespace moetune::import
