// SPDX-License-Identifier: Apache-2.0
// Test helper: a new store written, finished and opened, as every producer of runs
// (importers, collectors, synth) ends; any failing step is a test failure and gives nullptr.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"

namespace moetune::test {

// Creates `out` (replacing it), lets `fill(writer)` add the rows (false: it failed and
// said why), finishes the store and opens it.
template <class Fill>
std::unique_ptr<TraceReader> make_store(const std::filesystem::path& out, Fill fill) {
  {
    auto w = TraceWriter::create(out, {.force = true});
    if (!w) {
      ADD_FAILURE() << w.error().message;
      return nullptr;
    }
    if (!fill(**w)) return nullptr;
    if (auto f = (*w)->finish(); !f) {
      ADD_FAILURE() << f.error().message;
      return nullptr;
    }
  }
  auto rd = TraceReader::open(out);
  if (!rd) {
    ADD_FAILURE() << rd.error().message;
    return nullptr;
  }
  return std::move(*rd);
}

}  // namespace moetune::test
