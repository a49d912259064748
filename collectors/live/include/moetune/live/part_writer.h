// SPDX-License-Identifier: Apache-2.0
// PartWriter: the per-process store of a live collector. It owns a TraceWriter on a
// non-atomic file (so a killed job leaves a readable file holding what was flushed)
// and one writer thread that calls `drain` every `period_ms` and commits
// (TraceWriter::flush) at least once a second. Only the writer thread touches the
// TraceWriter while running; stop() has the writer thread drain one last time, run
// `at_stop` (stats) and finish the file. Safe to stop twice. `drain` must bound its work
// per call (a producer faster than the writer would otherwise starve the commits).
//
// Write errors (disk full: ENOSPC; file size limit: EFBIG) never end the job. The first
// one stops all writing for good (no more drain, commit, at_stop or finish: the
// producers' rings fill and count their drops) and reaches the user exactly once:
//  - seen while running: through `warn`, at once (default: one line on stderr,
//    "moetune: warning: FILE: write failed: database or disk is full; capture stopped,
//    the file keeps what was committed before"; EFBIG reads "disk I/O error"); stop()
//    then returns success, error() keeps the message;
//  - seen by the final drain/finish in stop(): as stop()'s error (the caller reports it).
// The file then holds every row of the last successful commit and the meta written at
// open ("format", "format_version", and whatever with_writer set before that commit),
// but no `at_stop` stats and no "store.counts" summary (readers count rows instead), as
// a part of a killed process would.
// Guest rule for RLIMIT_FSIZE (`ulimit -f`): a write past the limit raises SIGXFSZ,
// whose default action kills the whole job. The writer blocks SIGXFSZ in its own thread
// and around every write it does on a caller's thread (a pending one raised by our own
// write is consumed there), so the job's signal dispositions stay untouched and the
// write fails with EFBIG instead.
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
  using Warn = std::function<void(const std::string& line)>;  // one call per writer, at most
  static Expected<std::unique_ptr<PartWriter>> open(const std::filesystem::path& path, Drain drain,
                                                    Drain at_stop, int period_ms = 100, Warn warn = {});
  ~PartWriter();
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;

  // Runs `fn` on the writer's TraceWriter under the writer lock (init-time rows).
  // Does nothing after a write error.
  void with_writer(const Drain& fn);
  // Wakes the writer thread now (e.g. after a capture stop).
  void kick();
  // Final drain + finish. Returns the first error not already reported through `warn`.
  Expected<void> stop();
  // The first write error seen ("" while none), reported or not.
  std::string error() const;
  std::uint64_t flushes() const { return flushes_.load(); }

 private:
  PartWriter() = default;
  void loop();
  void fail(const std::string& msg, bool report);  // holds m_

  std::unique_ptr<TraceWriter> w_;
  Drain drain_, at_stop_;
  Warn warn_;
  int period_ms_ = 100;
  mutable std::mutex m_;  // guards w_ use between the thread and with_writer/stop
  std::condition_variable cv_;
  bool stopping_ = false, kicked_ = false, stopped_ = false, reported_ = false;
  std::string error_;
  std::atomic<std::uint64_t> flushes_{0};
  std::thread t_;
};

}  // namespace moetune::live
