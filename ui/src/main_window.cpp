// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QCloseEvent>
#include <QDragEnterEvent>
#include <QElapsedTimer>
#include <QThread>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPainter>
#include <QPdfWriter>
#include <QProgressBar>
#include <QSettings>
#include <QScrollBar>
#include <QSlider>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStyle>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTextBrowser>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <set>

#include "moetune/ui/apply_dialog.h"
#include "moetune/ui/attach_dialog.h"
#include "moetune/ui/event_text.h"
#include "moetune/ui/findings_model.h"
#include "moetune/ui/live_follower.h"
#include "moetune/ui/overview_strip.h"
#include "moetune/ui/panels.h"
#include "moetune/ui/replay_controller.h"
#include "moetune/ui/report_qt.h"
#include "moetune/ui/run_loader.h"
#include "moetune/ui/time_buckets.h"
#include "moetune/ui/timeline_view.h"
#include "moetune/ui/trace_import.h"
#include "moetune/ui/zoom_state.h"
#ifdef MOETUNE_UI_HAS_CHROME_EXPORT
#include "moetune/export/chrome_export.h"
#include "moetune/trace/reader.h"
#endif

namespace moetune::ui {

QString default_demo_run() {
  const QString app_dir = QCoreApplication::applicationDirPath();
  const QStringList candidates = {
      app_dir + QStringLiteral("/../share/moetune/demo/demo.moetune"),
      app_dir + QStringLiteral("/../demo/demo.moetune"),
      QStringLiteral(MOETUNE_UI_SOURCE_DIR "/demo/demo.moetune"),
  };
  for (const QString& c : candidates)
    if (QFileInfo::exists(c)) return QFileInfo(c).canonicalFilePath();
  return {};
}

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      zoom_(new ZoomState(this)),
      loader_(new RunLoader(this)),
      replay_(new ReplayController(zoom_, this)),
      importer_(new TraceImporter(this)) {
  setWindowTitle(QStringLiteral("moetune"));
  setAcceptDrops(true);
  resize(1500, 950);

  timeline_ = new TimelineView(zoom_);
  overview_ = new OverviewStrip(zoom_);
  search_ = new QLineEdit;
  search_->setPlaceholderText(tr("Search events by name (Enter: next)"));
  search_->setClearButtonEnabled(true);

  auto* top = new QWidget;
  auto* tv = new QVBoxLayout(top);
  tv->setContentsMargins(0, 0, 0, 0);
  tv->setSpacing(2);
  auto* sr = new QHBoxLayout;
  sr->addWidget(search_, 1);
  tv->addLayout(sr);
  tv->addWidget(build_replay_bar());
  tv->addWidget(overview_);
  tv->addWidget(timeline_, 1);

  findings_ = new FindingsModel(this);
  findings_proxy_ = new QSortFilterProxyModel(this);
  findings_proxy_->setSourceModel(findings_);
  findings_proxy_->setSortRole(FindingsModel::SortRole);
  findings_view_ = new QTableView;
  findings_view_->setModel(findings_proxy_);
  findings_view_->setSortingEnabled(true);
  findings_view_->sortByColumn(FindingsModel::ColSeverity, Qt::DescendingOrder);
  findings_view_->setSelectionBehavior(QAbstractItemView::SelectRows);
  findings_view_->setSelectionMode(QAbstractItemView::SingleSelection);
  findings_view_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  findings_view_->horizontalHeader()->setSectionResizeMode(FindingsModel::ColTitle, QHeaderView::Stretch);
  findings_view_->setWordWrap(true);
  findings_view_->verticalHeader()->hide();
  finding_detail_ = new QTextBrowser;
  finding_detail_->setOpenLinks(false);  // "#raw-json" / "#hide-json" toggle the evidence JSON
  connect(finding_detail_, &QTextBrowser::anchorClicked, this, [this](const QUrl& u) {
    const auto* f = findings_->finding(shown_finding_);
    if (!f) return;
    const int pos = finding_detail_->verticalScrollBar()->value();
    finding_detail_->setHtml(finding_details_html(*f, u.fragment() == QLatin1String("raw-json")));
    finding_detail_->verticalScrollBar()->setValue(pos);
  });
  auto* fsplit = findings_split_ = new QSplitter(Qt::Horizontal);
  fsplit->addWidget(findings_view_);
  fsplit->addWidget(finding_detail_);
  fsplit->setStretchFactor(0, 3);
  fsplit->setStretchFactor(1, 2);

  event_detail_ = new QTextBrowser;
  event_detail_->setPlaceholderText(tr("Click an event in the timeline for its details"));
  plots_ = new PlotsPanel(zoom_);
  experts_ = new ExpertsPanel(zoom_);
  topology_ = new TopologyPanel;
  health_ = new HealthPanel;
  time_view_ = new TimeBucketsView;

  tabs_ = new QTabWidget;
  tabs_->addTab(event_detail_, tr("Details"));
  tabs_->addTab(fsplit, tr("Findings"));
  tabs_->addTab(time_view_, tr("Time"));
  tabs_->addTab(plots_, tr("Plots"));
  tabs_->addTab(experts_, tr("Experts"));
  tabs_->addTab(topology_, tr("Topology"));
  tabs_->addTab(health_, tr("Trace health"));

  auto* split = main_split_ = new QSplitter(Qt::Vertical);
  split->addWidget(top);
  split->addWidget(tabs_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  split->setSizes({620, 330});  // the timeline gets most of the height
  setCentralWidget(split);

  status_ = new QLabel(tr("No run"));
  statusBar()->addWidget(status_, 1);
  load_bar_ = new QProgressBar;
  load_bar_->setMaximumWidth(160);
  load_bar_->setTextVisible(false);
  load_bar_->hide();
  cancel_load_ = new QToolButton;
  cancel_load_->setIcon(style()->standardIcon(QStyle::SP_DialogCancelButton));
  cancel_load_->setToolTip(tr("Stop loading (what is shown stays)"));
  cancel_load_->hide();
  statusBar()->addPermanentWidget(load_bar_);
  statusBar()->addPermanentWidget(cancel_load_);
  connect(importer_, &TraceImporter::progress, this, [this](int pm, const QString& what) {
    load_bar_->setRange(0, 1000);
    load_bar_->setValue(pm);
    load_bar_->show();
    statusBar()->showMessage(what, 4000);
  });
  connect(importer_, &TraceImporter::failed, this, [this](const QString& m) {
    load_bar_->hide();
    on_failed(m);
  });
  connect(cancel_load_, &QToolButton::clicked, this, [this] {
    loader_->cancel();
    statusBar()->showMessage(tr("Loading cancelled: showing what was loaded"), 5000);
  });
  build_menus();

  connect(search_, &QLineEdit::returnPressed, this, [this] {
    if (!timeline_->find_next(search_->text())) statusBar()->showMessage(tr("No (more) matches"), 3000);
  });
  connect(timeline_, &TimelineView::eventSelected, this, [this](EventRef r) {
    if (!run_) return;
    event_detail_->setHtml(event_details_html(*run_, r));
    if (r.valid()) tabs_->setCurrentWidget(event_detail_);
  });
  connect(findings_view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& cur) {
            if (cur.isValid()) select_finding(findings_proxy_->mapToSource(cur).row());
          });

  // Stage messages cover the run summary while loading; when ready the summary shows again.
  connect(loader_, &RunLoader::progress, this, [this](const QString& s) { statusBar()->showMessage(s, 4000); });
  connect(loader_, &RunLoader::finished, this, [this] { if (last_error_.isEmpty()) statusBar()->clearMessage(); });
  connect(loader_, &RunLoader::failed, this, &MainWindow::on_failed);
  connect(loader_, &RunLoader::stageChanged, this, [this](int done, int total) {
    load_bar_->setRange(0, total);
    load_bar_->setValue(done);
    load_bar_->setVisible(done < total);
    cancel_load_->setVisible(done < total);
  });
  connect(loader_, &RunLoader::finished, this, [this] { load_bar_->hide(); cancel_load_->hide(); });
  connect(loader_, &RunLoader::summaryReady, this, [this](std::shared_ptr<const RunSummary> s) {
    health_->set_summary(*s);
    zoom_->set_run_range(s->t_begin, s->t_end);
    summary_text_ = QString::fromStdString(s->path.filename().string()) + QStringLiteral(" · ") +
                    QString::number(s->ranks.size()) + tr(" rank(s) · ") + format_duration(s->t_end - s->t_begin);
    status_->setText(summary_text_);
    setWindowTitle(QString::fromStdString(s->path.filename().string()) + QStringLiteral(" — moetune"));
  });
  connect(loader_, &RunLoader::runReady, this, [this](std::shared_ptr<const LoadedRun> r) {
    // The full run after its preview keeps the window the user is looking at.
    const bool after_preview = run_ && run_->partial && !r->partial && run_->summary.path == r->summary.path;
    show_run(std::move(r), after_preview);
  });
  connect(loader_, &RunLoader::analysisReady, this, [this](std::shared_ptr<const analyzers::AnalysisResult> r) {
    result_ = r;
    findings_->set_result(r);
    timeline_->set_analysis(r);
    plots_->set_result(r);
    experts_->set_result(r);
    health_->set_result(r);
    tabs_->setTabText(1, tr("Findings (%1)").arg(r->findings.size()));
    update_buckets();
  });
  connect(zoom_, &ZoomState::stepChanged, this, [this] { update_buckets(); });
  auto bucket_clicked = [this](int rank, int bucket) {
    timeline_->set_bucket_selection(rank, bucket);
    const auto kinds = bucket_lane_kinds(bucket);
    statusBar()->showMessage(kinds.empty() ? tr("rank %1 · %2: no spans (time without GPU or host work)")
                                                 .arg(rank).arg(QLatin1String(bucket_info(bucket).label))
                                           : tr("rank %1 · %2: its lanes are highlighted in the timeline")
                                                 .arg(rank).arg(QLatin1String(bucket_info(bucket).label)),
                             5000);
  };
  connect(time_view_, &TimeBucketsView::bucketClicked, this, bucket_clicked);
  connect(timeline_, &TimelineView::bucketClicked, this, bucket_clicked);
  restore_settings();
}

void MainWindow::update_buckets() {
  if (!result_) {
    timeline_->set_buckets(nullptr);
    time_view_->set_buckets(nullptr);
    return;
  }
  const std::int64_t step = zoom_->current_step();
  auto b = std::make_shared<const TimeBuckets>(
      buckets_from_metrics(result_->per_rank, step >= 0 ? std::optional<std::int64_t>(step) : std::nullopt));
  timeline_->set_buckets(b);
  time_view_->set_buckets(b);
}

void MainWindow::save_settings() const {
  QSettings s(QStringLiteral("moetune"), QStringLiteral("moetune-gui"));
  s.setValue(QStringLiteral("window/geometry"), saveGeometry());
  s.setValue(QStringLiteral("window/main_splitter"), main_split_->saveState());
  s.setValue(QStringLiteral("window/findings_splitter"), findings_split_->saveState());
  s.setValue(QStringLiteral("window/tab"), tabs_->currentIndex());
}

void MainWindow::restore_settings() {
  QSettings s(QStringLiteral("moetune"), QStringLiteral("moetune-gui"));
  if (s.contains(QStringLiteral("window/geometry"))) restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
  if (s.contains(QStringLiteral("window/main_splitter")))
    main_split_->restoreState(s.value(QStringLiteral("window/main_splitter")).toByteArray());
  if (s.contains(QStringLiteral("window/findings_splitter")))
    findings_split_->restoreState(s.value(QStringLiteral("window/findings_splitter")).toByteArray());
  const int tab = s.value(QStringLiteral("window/tab"), 0).toInt();
  if (tab >= 0 && tab < tabs_->count()) tabs_->setCurrentIndex(tab);
}

void MainWindow::closeEvent(QCloseEvent* e) {
  save_settings();
  QMainWindow::closeEvent(e);
}

void MainWindow::changeEvent(QEvent* e) {
  // The timeline and overview read the palette when they paint; plots re-theme themselves.
  if (e->type() == QEvent::PaletteChange) timeline_->update();
  QMainWindow::changeEvent(e);
}

QList<QPair<QString, QString>> MainWindow::shortcut_list() {
  auto k = [](QKeySequence::StandardKey key) { return QKeySequence(key).toString(QKeySequence::NativeText); };
  return {
      {k(QKeySequence::Open), tr("Open a run, a Kineto JSON(.gz), an nsys .sqlite or a folder of rank files")},
      {k(QKeySequence::Find), tr("Search events by name (Enter: next match)")},
      {QStringLiteral("Home / 0"), tr("Show the whole run")},
      {QStringLiteral("+ / = / W"), tr("Zoom in (timeline focused)")},
      {QStringLiteral("- / S"), tr("Zoom out")},
      {QStringLiteral("← → / A D"), tr("Pan left / right")},
      {QStringLiteral("↑ ↓"), tr("Scroll lanes")},
      {tr("Wheel"), tr("Zoom at the cursor (Shift+wheel: scroll lanes)")},
      {tr("Left drag"), tr("Pan")},
      {tr("Right drag / Shift+left drag"), tr("Zoom to the selected time range")},
      {tr("Click a rank header"), tr("Collapse / expand its lanes; click its time bar to highlight a bucket's lanes")},
      {tr("Click a node (over 16 ranks)"),
       tr("Expand it to its ranks' lanes (its header collapses it); click a rank's strip in the heatmap: only that rank")},
      {tr("Space"), tr("Play / pause the step replay")},
      {QStringLiteral("F1"), tr("This list")},
      {k(QKeySequence::Quit), tr("Quit")},
  };
}

void MainWindow::show_shortcuts() {
  QString h = QStringLiteral("<table cellpadding=\"3\">");
  for (const auto& [keys, what] : shortcut_list())
    h += QStringLiteral("<tr><td><b>") + keys.toHtmlEscaped() + QStringLiteral("</b></td><td>") + what.toHtmlEscaped() +
         QStringLiteral("</td></tr>");
  h += QStringLiteral("</table>");
  auto* box = new QMessageBox(QMessageBox::NoIcon, tr("Keyboard shortcuts"), h, QMessageBox::Close, this);
  box->setTextFormat(Qt::RichText);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->setObjectName(QStringLiteral("shortcuts"));
  box->open();
}

MainWindow::~MainWindow() {
  save_settings();
  loader_->cancel();
}

void MainWindow::show_run(std::shared_ptr<const LoadedRun> r, bool keep_view) {
  const std::int64_t v0 = zoom_->t0(), v1 = zoom_->t1();
  run_ = std::move(r);
  result_.reset();
  findings_->set_result(nullptr);
  finding_detail_->clear();
  zoom_->set_highlighted_ranks({});
  const auto& tl = run_->timeline;
  zoom_->set_run_range(std::min(tl.t_begin, run_->summary.t_begin), std::max(tl.t_end, run_->summary.t_end));
  if (keep_view) zoom_->set_view(v0, v1);
  else if (run_->partial) zoom_->set_view(run_->window_t0, run_->window_t1);
  timeline_->set_run(run_);
  overview_->set_run(run_);
  if (!run_->partial) {  // the panels need the whole run
    plots_->set_run(run_);
    experts_->set_run(run_);
    topology_->set_run(run_);
  }
  replay_->set_steps(step_spans(run_->data));
  scrubber_->setRange(0, std::max(0, int(replay_->steps().size()) - 1));
  update_step_label();
  update_status();
}

void MainWindow::follow_live(const QString& parts_dir, int interval_ms) {
#ifdef MOETUNE_UI_HAS_LIVE
  if (!live_) {
    live_ = new LiveFollower(this);
    connect(live_, &LiveFollower::updated, this, [this](std::shared_ptr<const LoadedRun> r) {
      // Follow the end while the whole run is in view; keep a view the user zoomed into.
      const bool whole = !run_ || (zoom_->t0() <= zoom_->begin() && zoom_->t1() >= zoom_->end());
      summary_text_ = tr("live") + QStringLiteral(" · ") + QString::number(r->summary.ranks.size()) + tr(" rank(s) · ") +
                      format_duration(r->timeline.t_end - r->timeline.t_begin);
      show_run(std::move(r), !whole);
      health_->set_summary(run_->summary);
    });
    connect(live_, &LiveFollower::waiting, this, [this](const QString& w) { statusBar()->showMessage(w, 2000); });
    connect(live_, &LiveFollower::failed, this, [this](const QString& m) { statusBar()->showMessage(tr("live: ") + m, 3000); });
  }
  loader_->cancel();
  live_dir_ = parts_dir;
  setWindowTitle(tr("live: %1 — moetune").arg(parts_dir));
  live_->start(parts_dir, interval_ms);
  update_status();
#else
  Q_UNUSED(interval_ms);
  on_failed(parts_dir + tr(": live view needs moetune built with the live collectors library"));
#endif
}

void MainWindow::stop_live() {
#ifdef MOETUNE_UI_HAS_LIVE
  if (live_) {
    live_->poll();  // the last second of the capture
    live_->stop();
  }
#endif
  live_dir_.clear();
  update_status();
}

void MainWindow::update_status() {
  if (!run_) { status_->setText(summary_text_); return; }
  QString t = summary_text_ + QStringLiteral(" · ");
  if (run_->partial)
    t += tr("%1 events in the first %2 (loading the rest…)")
             .arg(run_->timeline.event_count)
             .arg(format_duration(run_->window_t1 - run_->window_t0));
  else
    t += QString::number(run_->timeline.event_count) + tr(" events");
  if (!live_dir_.isEmpty()) t += tr(" · live: %1").arg(live_dir_);
  status_->setText(t);
}

QWidget* MainWindow::build_replay_bar() {
  auto* bar = new QWidget;
  auto* h = new QHBoxLayout(bar);
  h->setContentsMargins(0, 0, 0, 0);
  auto* back = new QToolButton;
  back->setIcon(style()->standardIcon(QStyle::SP_MediaSkipBackward));
  back->setToolTip(tr("Previous step"));
  play_ = new QToolButton;
  play_->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
  play_->setToolTip(tr("Play / pause the replay (Space)"));
  play_->setShortcut(QKeySequence(Qt::Key_Space));
  auto* fwd = new QToolButton;
  fwd->setIcon(style()->standardIcon(QStyle::SP_MediaSkipForward));
  fwd->setToolTip(tr("Next step"));
  auto* speed = new QComboBox;
  for (double s : {0.25, 0.5, 1.0, 2.0, 4.0, 8.0}) speed->addItem(QString::number(s) + QStringLiteral(" steps/s"), s);
  speed->setCurrentIndex(2);
  scrubber_ = new QSlider(Qt::Horizontal);
  step_label_ = new QLabel(tr("replay: no steps"));
  h->addWidget(new QLabel(tr("Replay")));
  h->addWidget(back);
  h->addWidget(play_);
  h->addWidget(fwd);
  h->addWidget(speed);
  h->addWidget(scrubber_, 1);
  h->addWidget(step_label_, 2);
  connect(back, &QToolButton::clicked, replay_, &ReplayController::step_back);
  connect(fwd, &QToolButton::clicked, replay_, &ReplayController::step_forward);
  connect(play_, &QToolButton::clicked, replay_, &ReplayController::toggle);
  connect(speed, &QComboBox::currentIndexChanged, this, [this, speed] { replay_->set_speed(speed->currentData().toDouble()); });
  connect(scrubber_, &QSlider::valueChanged, replay_, &ReplayController::set_index);
  connect(replay_, &ReplayController::indexChanged, this, [this](int i) {
    const QSignalBlocker b(scrubber_);
    scrubber_->setValue(std::max(0, i));
    update_step_label();
  });
  connect(replay_, &ReplayController::playingChanged, this,
          [this](bool p) { play_->setIcon(style()->standardIcon(p ? QStyle::SP_MediaPause : QStyle::SP_MediaPlay)); });
  return bar;
}

void MainWindow::update_step_label() {
  const auto& st = replay_->steps();
  if (st.empty()) { step_label_->setText(tr("replay: no steps in this run")); return; }
  const int i = replay_->index();
  if (i < 0 || !run_) { step_label_->setText(tr("%1 steps").arg(st.size())); return; }
  const StepSpan& s = st[std::size_t(i)];
  // per-rank step time at this step: the metrics every panel shows for the current step
  QStringList per_rank;
  for (const auto& r : run_->data.steps)
    if (r.step == s.step) per_rank << QStringLiteral("r") + QString::number(r.rank.value) + QLatin1Char(' ') + format_duration(r.end_ns - r.start_ns);
  if (per_rank.size() > 6) per_rank = per_rank.mid(0, 6) << QStringLiteral("…");
  step_label_->setText(tr("step %1 (%2/%3) · ").arg(s.step).arg(i + 1).arg(st.size()) + per_rank.join(QStringLiteral(", ")));
}

void MainWindow::build_menus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open…"), QKeySequence::Open, this, [this] {
    const QString p = QFileDialog::getOpenFileName(
        this, tr("Open run or trace"), QString(),
        tr("Runs and traces (*.moetune *.json *.json.gz *.sqlite);;moetune runs (*.moetune);;All files (*)"));
    if (!p.isEmpty()) open(p);
  });
  recent_menu_ = file->addMenu(tr("Open &recent"));
  rebuild_recent_menu();
  file->addSeparator();
  file->addAction(tr("Export &report (HTML/PDF)…"), this, [this] {
    const QString p = QFileDialog::getSaveFileName(this, tr("Export report"), QStringLiteral("report.html"),
                                                   tr("HTML (*.html);;PDF (*.pdf)"));
    if (!p.isEmpty() && !export_report(p)) on_failed(last_error_);
  });
  file->addAction(tr("Export &timeline view (PNG/PDF)…"), this, [this] {
    const QString p = QFileDialog::getSaveFileName(this, tr("Export timeline"), QStringLiteral("timeline.png"),
                                                   tr("PNG (*.png);;PDF (*.pdf)"));
    if (!p.isEmpty() && !export_timeline(p)) on_failed(last_error_);
  });
#ifdef MOETUNE_UI_HAS_CHROME_EXPORT
  file->addAction(tr("Export &Chrome trace JSON…"), this, [this] {
    if (!run_) return;
    const QString p = QFileDialog::getSaveFileName(this, tr("Export Chrome trace"), QStringLiteral("trace.json"),
                                                   tr("Chrome trace (*.json)"));
    if (p.isEmpty()) return;
    auto rd = TraceReader::open(run_->summary.path);
    if (!rd) { on_failed(QString::fromStdString(rd.error().message)); return; }
    auto st = exporters::export_chrome(**rd, p.toStdString());
    if (!st) on_failed(QString::fromStdString(st.error().message));
    else statusBar()->showMessage(tr("Wrote %1 events to %2").arg(st->events).arg(p), 5000);
  });
#endif
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);
  QMenu* tune = menuBar()->addMenu(tr("&Tuning"));
  auto open_apply = [this](bool all) {
    if (!run_ || !result_) return;
    int row = -1;
    if (!all) {
      const QModelIndex cur = findings_view_->currentIndex();
      if (!cur.isValid()) { statusBar()->showMessage(tr("Select a finding first"), 3000); return; }
      row = findings_proxy_->mapToSource(cur).row();
    }
    auto* d = new ApplyDialog(run_, result_, row, this);
    d->setAttribute(Qt::WA_DeleteOnClose);
    d->open();
  };
  tune->addAction(tr("&Apply selected finding…"), this, [open_apply] { open_apply(false); });
  tune->addAction(tr("Apply &all findings…"), this, [open_apply] { open_apply(true); });
#ifdef MOETUNE_UI_HAS_LIVE
  tune->addSeparator();
  tune->addAction(tr("A&ttach to armed process…"), this, [this] {
    auto* d = new AttachDialog(this);
    d->setAttribute(Qt::WA_DeleteOnClose);
    connect(d, &AttachDialog::captureStarted, this, [this](long pid) {
      const QString dir = LiveFollower::parts_dir_of(pid);
      if (dir.isEmpty())
        statusBar()->showMessage(tr("Process %1 has no MOETUNE_OUTPUT: use Tuning › Follow a parts folder").arg(pid), 5000);
      else
        follow_live(dir);
    });
    connect(d, &AttachDialog::captureStopped, this, [this] { stop_live(); });
    d->open();
  });
  tune->addAction(tr("&Follow a parts folder live…"), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Parts folder (RUN.parts) of a capture"));
    if (!d.isEmpty()) follow_live(d);
  });
  tune->addAction(tr("Stop following"), this, [this] { stop_live(); });
#endif
  QMenu* view = menuBar()->addMenu(tr("&View"));
  view->addAction(tr("Reset zoom"), QKeySequence(Qt::Key_Home), this, [this] { zoom_->reset_view(); });
  view->addAction(tr("Find"), QKeySequence::Find, this, [this] { search_->setFocus(); search_->selectAll(); });
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&Keyboard shortcuts"), QKeySequence(Qt::Key_F1), this, [this] { show_shortcuts(); });
  help->addAction(tr("&About moetune"), this, [this] {
    QMessageBox::about(this, tr("About moetune"),
                       tr("<b>moetune</b>: a profiler-driven tuning advisor for Mixture-of-Experts GPU jobs.<br>"
                          "Opens moetune runs, Kineto JSON(.gz) traces, nsys SQLite exports and folders of rank "
                          "files."));
  });
}

void MainWindow::add_recent(const QString& path) {
  QSettings s(QStringLiteral("moetune"), QStringLiteral("moetune-gui"));
  QStringList r = s.value(QStringLiteral("recent")).toStringList();
  r.removeAll(path);
  r.prepend(path);
  while (r.size() > 10) r.removeLast();
  s.setValue(QStringLiteral("recent"), r);
  rebuild_recent_menu();
}

void MainWindow::rebuild_recent_menu() {
  recent_menu_->clear();
  QSettings s(QStringLiteral("moetune"), QStringLiteral("moetune-gui"));
  const QStringList r = s.value(QStringLiteral("recent")).toStringList();
  for (const QString& p : r) recent_menu_->addAction(p, this, [this, p] { open(p); });
  recent_menu_->setEnabled(!r.isEmpty());
}

void MainWindow::open(const QString& path) {
  last_error_.clear();
  if (!live_dir_.isEmpty()) stop_live();
  const std::filesystem::path p = path.toStdString();
  switch (classify_open_path(p)) {
    case OpenKind::NsysReport:
      on_failed(path + tr(": an Nsight Systems report; export it first: nsys export --type sqlite -o %1.sqlite %2")
                           .arg(QFileInfo(path).completeBaseName(), path));
      return;
    case OpenKind::RawTrace: {
      loader_->cancel();
      disconnect(importer_, &TraceImporter::done, this, nullptr);
      connect(importer_, &TraceImporter::done, this, [this, path](const QString& cache, bool reused) {
        statusBar()->showMessage(reused ? tr("Opening the cached import %1").arg(cache)
                                        : tr("Imported into %1").arg(cache), 5000);
        load_run_file(cache, path);
      }, Qt::SingleShotConnection);
      importer_->start(path);
      return;
    }
    case OpenKind::Run: case OpenKind::Missing: break;
  }
  load_run_file(path, path);
}

void MainWindow::load_run_file(const QString& path, const QString& recent_as) {
  loader_->load(path);
  connect(loader_, &RunLoader::summaryReady, this,
          [this, recent_as] { add_recent(QFileInfo(recent_as).absoluteFilePath()); }, Qt::SingleShotConnection);
}

bool MainWindow::wait_loaded(int timeout_ms) {
  QElapsedTimer t;
  t.start();
  // An import first (its done/failed signal starts the load), then the load.
  while (importer_->busy() && t.elapsed() < timeout_ms) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    if (importer_->busy()) QThread::msleep(2);
  }
  QCoreApplication::processEvents();
  if (importer_->busy()) return false;
  return loader_->wait(int(std::max<qint64>(1, timeout_ms - t.elapsed())));
}

void MainWindow::on_failed(const QString& msg) {
  last_error_ = msg;
  statusBar()->showMessage(tr("Error: ") + msg);
  if (quiet_errors_) return;
  if (!error_box_) {
    error_box_ = new QMessageBox(QMessageBox::Warning, tr("moetune"), QString(), QMessageBox::Ok, this);
    error_box_->setWindowModality(Qt::WindowModal);
  }
  error_box_->setText(tr("Could not open the run."));
  error_box_->setInformativeText(msg);
  error_box_->open();  // non-blocking: the window stays usable behind it
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
  const auto urls = e->mimeData()->urls();
  if (!urls.isEmpty() && urls.first().isLocalFile()) {
    e->acceptProposedAction();
    open(urls.first().toLocalFile());
  }
}

bool MainWindow::show_view(const QString& v) {
  if (v == QLatin1String("timeline")) { tabs_->setCurrentIndex(0); return true; }
  if (v == QLatin1String("findings")) {
    tabs_->setCurrentIndex(1);
    if (findings_->rowCount() > 0) findings_view_->selectRow(0);
    return true;
  }
  if (v == QLatin1String("time")) { tabs_->setCurrentWidget(time_view_); return true; }
  if (v == QLatin1String("plots")) { tabs_->setCurrentWidget(plots_); return true; }
  if (v == QLatin1String("experts")) { tabs_->setCurrentWidget(experts_); return true; }
  if (v == QLatin1String("topology")) { tabs_->setCurrentWidget(topology_); return true; }
  if (v == QLatin1String("health")) { tabs_->setCurrentWidget(health_); return true; }
  if (v == QLatin1String("replay")) {
    tabs_->setCurrentWidget(plots_);
    if (!replay_->steps().empty()) {
      replay_->set_index(int(replay_->steps().size()) / 2);
      replay_->tick(0.4);  // cursor part-way through the step
    }
    return true;
  }
  return false;
}

void MainWindow::select_finding(int row) {
  const auto* f = findings_->finding(row);
  if (!f) return;
  shown_finding_ = row;
  finding_detail_->setHtml(finding_details_html(*f));
  zoom_->set_highlighted_ranks(std::set<int>(f->ranks.begin(), f->ranks.end()));
  if (!f->time_ranges.empty()) {
    std::int64_t a = INT64_MAX, b = INT64_MIN;
    for (const auto& r : f->time_ranges) { a = std::min(a, r.start_ns); b = std::max(b, r.end_ns); }
    const std::int64_t pad = std::max<std::int64_t>((b - a) / 20, 1000);
    zoom_->set_view(a - pad, b + pad);
  }
}

bool MainWindow::export_timeline(const QString& path) {
  if (path.endsWith(QLatin1String(".pdf"), Qt::CaseInsensitive)) {
    QPdfWriter w(path);
    w.setPageSize(QPageSize(QPageSize::A4));
    w.setPageOrientation(QPageLayout::Landscape);
    QPainter p;
    if (!p.begin(&w)) { last_error_ = path + tr(": cannot write"); return false; }
    const QRect page = p.viewport();
    const double s = std::min(double(page.width()) / timeline_->width(), double(page.height()) / timeline_->height());
    p.scale(s, s);
    timeline_->render(&p);
    return true;
  }
  if (!timeline_->grab().save(path)) { last_error_ = path + tr(": cannot write"); return false; }
  return true;
}

bool MainWindow::export_report(const QString& path) {
  if (!run_ || !result_) { last_error_ = tr("no analysed run to report on"); return false; }
  const std::string fmt = path.endsWith(QLatin1String(".pdf"), Qt::CaseInsensitive) ? "pdf" : "html";
  auto r = render_report_qt(run_->data, *result_, fmt, path.toStdString());
  if (!r) { last_error_ = QString::fromStdString(r.error().message); return false; }
  return true;
}

}  // namespace moetune::ui
