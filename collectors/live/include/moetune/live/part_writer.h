// SPDX-License-Identifier: Apache-2.0
// PartWriter: the per-process store of a live collector. It owns a TraceWriter on a
// non-atomic file (so a killed job leaves a readable file holding what was flushed)
// and one writer thread that calls `drain` every `period_ms` and commits
// (TraceWriter::flush) at least once a second. Only the writer thread touches the
// TraceWriter while running; stop() drains one last time, runs `at_stop` (stats) and
// finishes the file. Safe to stop twice. `drain` must bound its work per call (a
// producer faster than the writer would otherwise starve the commits). Errors (disk full, ...) disable further
// writing and are reported once through the warning callback.
#pragma once
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "moetune/trace/writer.h"

namespace moetune::live {

class PartWriter {
 public:
  using Drain = std::function<void(TraceWriter&)>;
  static Expected<std::unique_ptr<PartWriter>> open(const std::filesystem::path& path, Drain drain,
                                                    Drain at_stop, int period_ms = 100);
  ~PartWriter();
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  // Runs `fn` on the writer's TraceWriter under the writer lock (init-time rows).
  void with_writer(const Drain& fn);
  // Wakes the writer thread now (e.g. after a capture stop).
  void kick();
  // Final drain + finish. Returns the first error seen, if any.
  Expected<void> stop();
  const std::string& error() const { return error_; }
  std::uint64_t flushes() const { return flushes_.load(); }

 private:
  PartWriter() = default;
  void loop();

  std::unique_ptr<TraceWriter> w_;
  Drain drain_, at_stop_;
  int period_ms_ = 100;
  std::mutex m_;  // guards w_ use between the thread and with_writer/stop
  std::condition_variable cv_;
  bool stopping_ = false, kicked_ = false, stopped_ = false;
  std::string error_;
  std::atomic<std::uint64_t> flushes_{0};
  std::thread t_;
};

}  // namespace moetune::live
