// SPDX-License-Identifier: Apache-2.0
// Helpers for the synth tests: generate a run into a per-test temporary file and
// query it with plain SQL (independent of the analyzers).
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <unistd.h>

#include "common/scratch_dir.h"
#include "moetune/synth/synth.h"
#include "moetune/trace/reader.h"

namespace moetune::test {

inline std::filesystem::path temp_path(const std::string& name) { return process_dir("moetune-synth-test") / name; }

inline std::filesystem::path make_run(const std::string& name, synth::Options o) {
  auto p = temp_path(name + ".moetune");
  auto s = synth::generate_file(p, o, true);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return p;
}

inline std::unique_ptr<TraceReader> open_run(const std::filesystem::path& p) {
  auto r = TraceReader::open(p);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(*r) : nullptr;
}

inline double scalar(TraceReader& r, const std::string& sql) {
  auto st = r.db().prepare(sql);
  EXPECT_TRUE(st.ok()) << sql;
  if (!st.ok() || !st->step()) return -1;
  return st->f64(0);
}

}  // namespace moetune::test
