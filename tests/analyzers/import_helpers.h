// SPDX-License-Identifier: Apache-2.0
// Test helper: real trace files imported into a fresh run (tmpdir()/NAME.moetune) and loaded
// as RunData; any failure is a test failure and gives an empty RunData.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "anaa_helpers.h"
#include "common/import_store.h"
#include "moetune/import/import.h"

namespace anaa {

inline RunData import_run(const std::vector<std::filesystem::path>& files, const std::string& name) {
  auto out = tmpdir() / (name + ".moetune");
  if (!moetune::test::import_store(files, out)) return {};
  auto d = RunData::load(out);
  if (!d) {
    ADD_FAILURE() << d.error().message;
    return {};
  }
  return std::move(*d);
}

// Files given relative to ../shared/data/external.
inline RunData import_real(const std::vector<std::string>& rel, const std::string& name) {
  std::vector<std::filesystem::path> files;
  for (const auto& f : rel) files.push_back(std::filesystem::path(MOETUNE_SHARED_DATA) / "external" / f);
  return import_run(files, name);
}

}  // namespace anaa
