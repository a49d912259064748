// SPDX-License-Identifier: Apache-2.0
// RunLoader: opens a run off the GUI thread (QtConcurrent) in stages and delivers
// each stage as an immutable value through queued signals: the summary first (counts,
// ranks, time range, trace health: milliseconds), then the events and the timeline
// layout, then the analysis. A job counter drops results of superseded loads; a
// cancel flag stops a load between stages. Errors arrive as one line naming the file.
#pragma once
#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <atomic>
#include <filesystem>
#include <memory>

#include "moetune/analyzers/model.h"
#include "moetune/ui/timeline_data.h"

namespace moetune::ui {

struct RunSummary {
  std::filesystem::path path;
  int format_version = 0;
  TableCounts counts;
  std::int64_t t_begin = 0, t_end = 0;
  std::vector<RankRow> ranks;
  std::vector<StatRow> stats;
  std::map<std::string, std::string> meta;
};

struct LoadedRun {
  RunSummary summary;
  analyzers::RunData data;
  TimelineData timeline;
};

class RunLoader : public QObject {
  Q_OBJECT
 public:
  explicit RunLoader(QObject* parent = nullptr);
  ~RunLoader() override;

  void load(const QString& path);
  void cancel();
  bool busy() const { return busy_; }
  // Processes events until the current load finished (tests, headless); false on timeout.
  bool wait(int timeout_ms);

  // The stages, callable directly (tests, bench).
  static Expected<RunSummary> read_summary(const std::filesystem::path& p);

 signals:
  void progress(const QString& what);
  void summaryReady(std::shared_ptr<const moetune::ui::RunSummary> s);
  void runReady(std::shared_ptr<const moetune::ui::LoadedRun> run);
  void analysisReady(std::shared_ptr<const moetune::analyzers::AnalysisResult> r);
  void failed(const QString& message);
  void finished();

 private:
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::uint64_t job_ = 0;
  bool busy_ = false;
  QFutureWatcher<void> watcher_;
};

}  // namespace moetune::ui
