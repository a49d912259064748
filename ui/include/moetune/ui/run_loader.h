// SPDX-License-Identifier: Apache-2.0
// RunLoader: opens a run off the GUI thread (QtConcurrent) in stages and delivers
// each stage as an immutable value through queued signals: the summary first (counts,
// ranks, time range, trace health: milliseconds); for a run of more than
// kPreviewEvents events, a preview next: the events of a window at the run's start
// (sized to hold about kPreviewEvents events) read with TraceReader's per-rank range
// queries, laid out like the full run (runReady with LoadedRun::partial), so the
// first paint costs a window, not the run; then the whole run and its timeline layout
// (runReady again), then the analysis. stageChanged() counts the stages for a progress
// bar. A job counter drops results of superseded loads; a cancel flag stops a load
// between stages (what was delivered stays shown). Errors arrive as one line naming
// the file.
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
  // A preview: `data` holds only the events overlapping [window_t0, window_t1) (steps,
  // ranks, strings and meta are complete; no expert routing or topology); the full run follows.
  bool partial = false;
  std::int64_t window_t0 = 0, window_t1 = 0;
  double read_ms = 0, layout_ms = 0;  // how long reading the events and the layout took
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

  // Runs with more events than this get a preview stage before the full load.
  static constexpr std::int64_t kPreviewEvents = 250'000;

  // The stages, callable directly (tests, bench).
  static Expected<RunSummary> read_summary(const std::filesystem::path& p);
  // Events in all event tables of the summary's counts.
  static std::int64_t event_count(const RunSummary& s);
  // The preview window: from the run's start, a share of the run's span that holds about
  // `budget` events if they are spread evenly; the whole run when it has fewer.
  static std::pair<std::int64_t, std::int64_t> preview_window(const RunSummary& s, std::int64_t budget = kPreviewEvents);
  // The events overlapping [t0, t1) of every rank (per-rank range queries), all steps,
  // laid out for drawing; partial = true.
  static Expected<LoadedRun> read_window(const RunSummary& s, std::int64_t t0, std::int64_t t1);
  // The whole run, laid out for drawing.
  static Expected<LoadedRun> read_full(const RunSummary& s);

 signals:
  void progress(const QString& what);
  // Stage `done` of `total` finished (for a progress bar); total is 3 or 4 (with a preview).
  void stageChanged(int done, int total);
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
