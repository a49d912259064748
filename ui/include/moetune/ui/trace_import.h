// SPDX-License-Identifier: Apache-2.0
// Raw traces in the GUI: a Kineto JSON(.gz), an nsys SQLite export or a directory of
// rank files is imported (off the GUI thread, with progress) into a cache run file and
// that file is opened. The cache is "<input name>.moetune" beside the input, or, where
// that folder is not writable, under the user's cache folder (QStandardPaths
// CacheLocation/imports, named by a hash of the input path). A cache newer than every
// input is reused instead of importing again. A .nsys-rep gets one line saying to run
// `nsys export --type sqlite` first.
#pragma once
#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <filesystem>
#include <vector>

namespace moetune::ui {

enum class OpenKind { Run, RawTrace, NsysReport, Missing };

// What `path` is: a moetune run, a raw trace (file or directory of traces), an
// .nsys-rep, or nothing on disk.
OpenKind classify_open_path(const std::filesystem::path& path);

struct ImportPlan {
  std::vector<std::filesystem::path> inputs;  // the trace files, sorted
  std::filesystem::path cache;                // the run file to write / reuse
  bool reuse = false;                         // cache exists and is newer than every input
  QString error;                              // non-empty: nothing to import (one line naming the path)
};
// The inputs and cache file of a raw trace path (a file or a directory of rank files).
// cache_dir overrides where a cache goes when the input's folder is not writable.
ImportPlan plan_import(const std::filesystem::path& path, const QString& cache_dir = {});

// Runs plans off the GUI thread; signals arrive on the GUI thread.
class TraceImporter : public QObject {
  Q_OBJECT
 public:
  explicit TraceImporter(QObject* parent = nullptr);
  ~TraceImporter() override;
  // Imports `path` (or reuses its cache); emits done(cache) or failed(message).
  void start(const QString& path);
  bool busy() const { return busy_; }
  void set_cache_dir(const QString& d) { cache_dir_ = d; }
  // The last plan started (tests: which cache was written or reused).
  const ImportPlan& last_plan() const { return plan_; }

 signals:
  void progress(int permille, const QString& what);
  void done(const QString& cache, bool reused);
  void failed(const QString& message);

 private:
  bool busy_ = false;
  QString cache_dir_;
  ImportPlan plan_;
  std::uint64_t job_ = 0;
  QFutureWatcher<void> watcher_;
};

}  // namespace moetune::ui
