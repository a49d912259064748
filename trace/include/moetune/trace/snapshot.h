// SPDX-License-Identifier: Apache-2.0
// A consistent copy of a store another process may be writing (a live part file in WAL
// mode): one read transaction over its current snapshot, pages copied with SQLite's
// online backup. The copy is a plain store any TraceReader opens. Cost: one pass over
// the pages; the writer is not blocked (WAL readers do not block writers).
#pragma once
#include <filesystem>

#include "moetune/trace/result.h"

namespace moetune {

// Copies `from` to `to` (replaced if it exists). Errors name the file that failed.
Expected<void> snapshot_store(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace moetune
