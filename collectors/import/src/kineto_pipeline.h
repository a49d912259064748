// SPDX-License-Identifier: Apache-2.0
// Parallel Kineto import: the Kineto files of one import are parsed and mapped on
// worker threads (one per core) while the caller's thread writes rows. Each file's
// rows wait in a short queue of their own (bounded: memory stays flat) and are written
// file after file in the order given, so ranks are claimed, strings interned and ids
// given exactly as a sequential import would: results never depend on thread timing.
// Files are started in order; a worker starts a file only while the files being
// parsed hold less than kParseBudget bytes (one file is always allowed).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "kineto_batch.h"

namespace moetune::import::kineto {

class Prefetch {
 public:
  // Bytes of JSON text and parse index (about 2x the text) the files being parsed may hold.
  static constexpr std::uint64_t kParseBudget = 1ULL << 30;
  // Batches (16 k rows each) a file may have waiting for the writer.
  static constexpr std::size_t kQueueDepth = 4;

  // Starts parsing the Kineto files among FILES (the same checks and format detection
  // as import_files) on opts.threads workers (0: one per core, or MOETUNE_IMPORT_THREADS;
  // 1: none, each file is parsed on the caller's thread when imported).
  Prefetch(const std::vector<std::filesystem::path>& files, const ImportOptions& opts);
  ~Prefetch();  // gives up files not imported yet and joins the workers
  Prefetch(const Prefetch&) = delete;
  Prefetch& operator=(const Prefetch&) = delete;

  // Writes FILE's rows. Call it for the Kineto files in their order in FILES; a file
  // out of that order is imported on the caller's thread.
  Expected<void> import(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx);

  std::size_t workers() const { return workers_.size(); }

 private:
  struct Slot {
    std::filesystem::path file;
    std::uint64_t cost = 0;  // bytes the parse holds (estimate)
    std::deque<RowBatch> queue;
    bool done = false;
    Expected<void> result;
  };
  void work();

  std::vector<std::unique_ptr<Slot>> slots_;
  std::optional<int> rank_option_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t next_ = 0;      // next slot a worker takes
  std::size_t consumed_ = 0;  // next slot import() expects
  std::uint64_t inflight_ = 0;
  bool cancel_ = false;
  std::vector<std::thread> workers_;
};

// One Kineto file on the caller's thread (the sequential path; also what import() does
// for a file it did not prefetch).
Expected<void> import_one(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx);

}  // namespace moetune::import::kineto
