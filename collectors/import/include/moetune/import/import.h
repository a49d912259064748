// SPDX-License-Identifier: Apache-2.0
// Importers of files users already have. Every importer writes through the same
// TraceWriter; import_files() detects each file's format from its content, runs the
// matching importer, and assigns ranks so that several files make one run.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "moetune/trace/writer.h"

namespace moetune::import {

enum class Format { Unknown, Kineto, Nsys, NcclTests, Topo };
const char* to_string(Format f);

// Looks at the first bytes (and the name) of a file. Never throws.
Format detect_format(const std::filesystem::path& file);

struct ImportOptions {
  std::optional<int> rank;  // --rank: rank for files that do not say which rank they are
  // Progress: bytes done / bytes total of the current file; may be empty.
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
  // Parser threads for Kineto files (0: one per core; 1: all on the calling thread).
  // The rows are the same either way (kineto_pipeline.h).
  unsigned threads = 0;
};

// Shared state across the files of one import: which ranks are taken.
class ImportContext {
 public:
  explicit ImportContext(ImportOptions opts) : opts_(std::move(opts)) {}
  const ImportOptions& options() const { return opts_; }
  // Claims `rank`; error if another file already holds it.
  Expected<RankId> claim_rank(int rank, const std::filesystem::path& file);
  // Lowest rank not yet taken (for sources that carry no rank, e.g. nsys processes).
  int next_free_rank() const;
  const std::set<int>& taken() const { return taken_; }
  // Expert placement is job-wide but every rank's file may report it: the first file to
  // report a layer's placement writes it, later ones return false here and skip it.
  bool claim_placement_layer(int layer) { return placement_layers_.insert(layer).second; }
  // A process (e.g. "host/pid" of an nsys export) may come from one input file only: false
  // when an earlier file already brought it (the same export given twice).
  bool claim_process(const std::string& key) { return processes_.insert(key).second; }
  void report(std::uint64_t done, std::uint64_t total) const {
    if (opts_.progress) opts_.progress(done, total);
  }

 private:
  ImportOptions opts_;
  std::set<int> taken_;
  std::set<int> placement_layers_;
  std::set<std::string> processes_;
};

// Per-format importers. Each returns an error that names the file and what is wrong.
Expected<void> import_kineto(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx);
Expected<void> import_nsys(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx);
Expected<void> import_nccl_tests(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx);
Expected<void> import_topo(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx);

// Imports all files into w (format detected per file). Stops at the first error.
Expected<void> import_files(const std::vector<std::filesystem::path>& files, TraceWriter& w,
                            const ImportOptions& opts);

}  // namespace moetune::import
