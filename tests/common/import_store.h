// SPDX-License-Identifier: Apache-2.0
// Test helper: trace files imported into a new store and the store opened, as
// `moetune import` does it; any failing step is a test failure and gives nullptr.
#pragma once
#include <filesystem>
#include <memory>
#include <vector>

#include "common/store.h"
#include "moetune/import/import.h"

namespace moetune::test {

inline std::unique_ptr<TraceReader> import_store(const std::vector<std::filesystem::path>& files,
                                                 const std::filesystem::path& out,
                                                 const import::ImportOptions& opts = {}) {
  return make_store(out, [&](TraceWriter& w) {
    auto r = import::import_files(files, w, opts);
    if (!r) ADD_FAILURE() << r.error().message;
    return r.ok();
  });
}

}  // namespace moetune::test
