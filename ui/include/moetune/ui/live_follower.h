// SPDX-License-Identifier: Apache-2.0
// LiveFollower: shows a run growing while it is captured. Every interval (QTimer) it
// takes a consistent copy of each part file of a RUN.parts/ folder (trace/snapshot.h:
// what the collectors have committed, without writing to the live files), merges the
// copies as `moetune merge` does (live::merge_parts) into a scratch run, loads it and
// lays it out — all on a worker thread — and delivers it as a LoadedRun. A poll is
// skipped while the previous one runs and when no part file changed (size and mtime of
// each file and its -wal). Cost per poll: a copy, a merge and a load of the whole run
// so far, so it suits the minutes a capture runs, not hours. Built with moetune_live.
#pragma once
#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QTemporaryDir>
#include <QTimer>
#include <filesystem>
#include <memory>

#include "moetune/trace/result.h"

namespace moetune::ui {

struct LoadedRun;

class LiveFollower : public QObject {
  Q_OBJECT
 public:
  explicit LiveFollower(QObject* parent = nullptr);
  ~LiveFollower() override;

  void start(const QString& parts_dir, int interval_ms = 1000);
  void stop();  // waits for a running poll; what was delivered stays
  bool active() const { return timer_.isActive(); }
  QString dir() const { return dir_; }
  // Starts a poll now unless one runs or nothing changed; false when skipped.
  bool poll();
  int polls_delivered() const { return delivered_; }

  // The parts folder of an armed process: the folder of MOETUNE_OUTPUT in
  // /proc/PID/environ (set by `moetune record`); empty when it has none.
  static QString parts_dir_of(long pid);
  // One poll's work: snapshot the parts of `parts_dir` into `scratch`, merge, load, lay out.
  static Expected<LoadedRun> snapshot(const std::filesystem::path& parts_dir, const std::filesystem::path& scratch);

 signals:
  void updated(std::shared_ptr<const moetune::ui::LoadedRun> run);
  void waiting(const QString& why);  // no part file yet
  void failed(const QString& message);

 private:
  QString signature() const;
  QTimer timer_;
  QString dir_, last_sig_;
  QTemporaryDir scratch_;
  QFutureWatcher<void> watcher_;
  std::uint64_t job_ = 0;
  int delivered_ = 0;
};

}  // namespace moetune::ui
