// SPDX-License-Identifier: Apache-2.0
// MainWindow: opens runs (argument, dialog, drag and drop, recent files) through
// RunLoader, shows the summary as soon as it arrives, then the timeline (a preview
// window first for big runs, then the whole run keeping the user's view), then the
// findings; a progress bar with a cancel button in the status bar while it loads. Holds the one ZoomState every panel follows. A failed load shows an
// error box with the loader's one-line reason and keeps the current run usable.
#pragma once
#include <QMainWindow>
#include <memory>

#include "moetune/analyzers/model.h"

class QLabel;
class QLineEdit;
class QMessageBox;
class QSlider;
class QSortFilterProxyModel;
class QTabWidget;
class QTableView;
class QTextBrowser;
class QToolButton;
class QMenu;
class QProgressBar;
class QSplitter;

namespace moetune::ui {

struct LoadedRun;
class ExpertsPanel;
class FindingsModel;
class HealthPanel;
class LiveFollower;
class OverviewStrip;
class PlotsPanel;
class ReplayController;
class RunLoader;
class TimelineView;
class TopologyPanel;
class TimeBucketsView;
class TraceImporter;
class ZoomState;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // A run (.moetune), or a raw trace (Kineto JSON(.gz), nsys .sqlite, a directory of
  // rank files) imported first into a cache run beside it (see trace_import.h).
  void open(const QString& path);
  // Processes events until an import and the load after it are done (tests, headless).
  bool wait_loaded(int timeout_ms);
  // Window geometry, splitters and the current tab in QSettings (restored on construction,
  // saved on close and destruction).
  void save_settings() const;
  void restore_settings();
  // The shortcuts the Help menu lists, as (keys, what) pairs.
  static QList<QPair<QString, QString>> shortcut_list();
  // "timeline", "findings", "experts", "replay", "plots", "topology", "health"
  bool show_view(const QString& view);
  void select_finding(int row);  // row of the findings model
  Q_INVOKABLE bool export_timeline(const QString& path);  // .png or .pdf
  bool export_report(const QString& path);                // .html or .pdf
  void set_quiet_errors(bool q) { quiet_errors_ = q; }    // headless: no message box
  // Shows the run of a RUN.parts/ folder growing while it is captured (LiveFollower,
  // polled every interval_ms off the GUI thread); a view zoomed in stays, a view of the
  // whole run grows with it. Empty when built without moetune_live.
  void follow_live(const QString& parts_dir, int interval_ms = 1000);
  void stop_live();
  LiveFollower* live() const { return live_; }

  std::shared_ptr<const LoadedRun> run() const { return run_; }
  std::shared_ptr<const analyzers::AnalysisResult> result() const { return result_; }
  QString last_error() const { return last_error_; }
  QMessageBox* error_box() const { return error_box_; }
  RunLoader* loader() const { return loader_; }
  ZoomState* zoom() const { return zoom_; }
  TimelineView* timeline() const { return timeline_; }
  ReplayController* replay() const { return replay_; }
  FindingsModel* findings() const { return findings_; }
  QTableView* findings_view() const { return findings_view_; }
  QTextBrowser* finding_detail() const { return finding_detail_; }
  QTabWidget* tabs() const { return tabs_; }
  TimeBucketsView* time_view() const { return time_view_; }
  TraceImporter* importer() const { return importer_; }
  QSplitter* main_splitter() const { return main_split_; }

 protected:
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;
  void closeEvent(QCloseEvent* e) override;
  void changeEvent(QEvent* e) override;

 private:
  void build_menus();
  QWidget* build_replay_bar();
  void add_recent(const QString& path);
  void rebuild_recent_menu();
  void on_failed(const QString& msg);
  void update_step_label();
  void show_run(std::shared_ptr<const LoadedRun> r, bool keep_view);
  void update_status();
  void update_buckets();
  void load_run_file(const QString& path, const QString& recent_as);
  void show_shortcuts();

  ZoomState* zoom_;
  RunLoader* loader_;
  ReplayController* replay_;
  TimelineView* timeline_;
  OverviewStrip* overview_;
  FindingsModel* findings_;
  QSortFilterProxyModel* findings_proxy_;
  QTableView* findings_view_;
  QTextBrowser* finding_detail_;
  int shown_finding_ = -1;
  QTextBrowser* event_detail_;
  PlotsPanel* plots_;
  ExpertsPanel* experts_;
  TopologyPanel* topology_;
  HealthPanel* health_;
  TimeBucketsView* time_view_;
  TraceImporter* importer_;
  QSplitter* main_split_ = nullptr;
  QSplitter* findings_split_ = nullptr;
  QTabWidget* tabs_;
  QLineEdit* search_;
  QLabel* status_;
  QString summary_text_;
  LiveFollower* live_ = nullptr;
  QString live_dir_;
  QProgressBar* load_bar_;
  QToolButton* cancel_load_;
  QLabel* step_label_;
  QSlider* scrubber_;
  QToolButton* play_;
  QMenu* recent_menu_ = nullptr;
  QMessageBox* error_box_ = nullptr;
  QString last_error_;
  bool quiet_errors_ = false;
  std::shared_ptr<const LoadedRun> run_;
  std::shared_ptr<const analyzers::AnalysisResult> result_;
};

// The run opened when none is given: demo/demo.moetune next to the executable's
// install prefix (share/moetune/demo) or in the source tree; empty when none exists.
QString default_demo_run();

}  // namespace moetune::ui
