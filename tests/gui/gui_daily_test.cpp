// SPDX-License-Identifier: Apache-2.0
// The GUI as a daily tool (offscreen): evidence rendered for people (shared with the
// CLI text), lane names from the real traces in ../shared/data, the time-buckets bars
// (analyzer keys and the fallback, click to select), the palette switch, the Help menu,
// remembered layout, and raw traces (Kineto .json.gz, nsys .sqlite, a folder of rank
// files, .nsys-rep) opened by path and by a drop event through a cache file.
#include "moetune/ui/qcp.h"  // first: see qcp.h

#include <QDropEvent>
#include <QMenuBar>
#include <QMimeData>
#include <QRegularExpression>
#include <QSplitter>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QtTest>
#include <filesystem>

#include "fixtures.h"
#include "moetune/analyzers/evidence_format.h"
#include "moetune/analyzers/report.h"
#include "moetune/import/import.h"
#include "moetune/ui/event_text.h"
#include "moetune/ui/findings_model.h"
#include "moetune/ui/main_window.h"
#include "moetune/ui/run_loader.h"
#include "moetune/ui/time_buckets.h"
#include "moetune/ui/timeline_view.h"
#include "moetune/ui/trace_import.h"
#include "moetune/ui/zoom_state.h"

using namespace moetune;
using namespace moetune::ui;
namespace fs = std::filesystem;

namespace {
const QString kData = QStringLiteral(MOETUNE_SHARED_DATA "/external");

// Imports real trace files into one run in `dir`; "" on failure (with a warning).
QString import_real(const QTemporaryDir& dir, const QString& name, const QStringList& files) {
  const std::string out = dir.filePath(name).toStdString();
  auto w = TraceWriter::create(out, {});
  if (!w) { qWarning("%s", w.error().message.c_str()); return {}; }
  std::vector<fs::path> in;
  for (const QString& f : files) in.emplace_back(f.toStdString());
  if (auto r = import::import_files(in, **w, {}); !r) { qWarning("%s", r.error().message.c_str()); return {}; }
  if (auto f = (*w)->finish(); !f) { qWarning("%s", f.error().message.c_str()); return {}; }
  return QString::fromStdString(out);
}

// A number printed with more than 4 digits after the point: unformatted output.
const QRegularExpression kRawNumber(QStringLiteral("\\d\\.\\d{5,}"));
}  // namespace

class GuiDailyTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void initTestCase() { QVERIFY(dir_.isValid()); }

  void numbers_units_and_rank_ranges() {
    using namespace analyzers;
    QCOMPARE(format_number(562494.349496), std::string("562,494"));
    QCOMPARE(format_number(30829.156320), std::string("30,829"));
    QCOMPARE(format_number(12.34567), std::string("12.35"));
    QCOMPARE(format_number(0.0123456), std::string("0.01235"));
    QCOMPARE(format_number(-3), std::string("-3"));
    QCOMPARE(format_number(1234567), std::string("1,234,567"));
    QCOMPARE(format_rank_list({5, 0, 1, 2, 3, 7, 8}), std::string("0-3, 5, 7-8"));
    QCOMPARE(format_rank_list({4}), std::string("4"));
    QCOMPARE(format_duration_ns(1.5e6), std::string("1.5 ms"));
    QCOMPARE(format_bytes(3.0 * 1024 * 1024), std::string("3.0 MiB"));
    QCOMPARE(evidence_label("mean_transfer_ms"), std::string("Mean transfer"));
    QCOMPARE(evidence_label("nccl_tests_baseline_busbw_gbps"), std::string("NCCL tests baseline bus bandwidth"));
  }

  // Synthetic evidence (constructed here, not from a run) covering each value shape.
  void evidence_rows_and_detail_pane() {
    analyzers::Finding f;
    f.title = "synthetic finding";
    f.evidence = {{"busiest_rank", 3},
                  {"late_ranks", {0, 1, 2, 3, 5}},
                  {"mean_transfer_ms", 1.23456789},
                  {"wait_share_of_run_pct", 12.345678},
                  {"busbw_gbps", 562494.349496},
                  {"largest_size_bytes", 8 * 1024 * 1024},
                  {"link_bound", true},
                  {"current", {{"max_rank_time", 30829.15632}, {"cross_node_pct", 0.5}}},
                  {"largest_gaps", {{{"start_ns", 1}, {"gap_ms", 2.0}}, {{"start_ns", 3}, {"gap_ms", 4.0}}}}};
    const auto rows = analyzers::evidence_rows(f.evidence);
    std::map<std::string, std::string> by;
    for (const auto& r : rows) by[r.label] = r.value;
    QCOMPARE(by["Busiest rank"], std::string("3"));
    QCOMPARE(by["Late ranks"], std::string("0-3, 5"));
    QCOMPARE(by["Mean transfer"], std::string("1.235 ms"));
    QCOMPARE(by["Wait share of run"], std::string("12.3 %"));
    QCOMPARE(by["Bus bandwidth"], std::string("562,494 GB/s"));
    QCOMPARE(by["Largest size"], std::string("8.0 MiB"));
    QCOMPARE(by["Link bound"], std::string("yes"));
    QCOMPARE(by["Current › Max rank time"], std::string("30,829"));
    QCOMPARE(by["Largest gaps"], std::string("2 entries (see raw JSON)"));

    const QString html = finding_details_html(f);
    QVERIFY(html.contains(QStringLiteral("562,494 GB/s")));
    QVERIFY(html.contains(QStringLiteral("0-3, 5")));
    QVERIFY(!html.contains(QStringLiteral("562494.349")));  // no raw dump by default
    QVERIFY(html.contains(QStringLiteral("#raw-json")));
    const QString raw = finding_details_html(f, true);
    QVERIFY(raw.contains(QStringLiteral("562494.349496")));  // one click away: the JSON as is
    QVERIFY(raw.contains(QStringLiteral("#hide-json")));

    // The CLI's text report carries the same rows.
    analyzers::AnalysisResult r;
    r.findings = {f};
    analyzers::RunData run;
    const std::string text = analyzers::report_text(run, r);
    QVERIFY(text.find("evidence:") != std::string::npos);
    QVERIFY(text.find("562,494 GB/s") != std::string::npos);
    QVERIFY(text.find("Late ranks") != std::string::npos);
  }

  // Real findings of a real trace: the detail table has no unformatted numbers.
  void real_findings_are_formatted() {
    QVERIFY(!import_real(dir_, QStringLiteral("mfu.moetune"), {kData + QStringLiteral("/nsys/nsys_ai_mfu_2gpu_before.sqlite")}).isEmpty());
    std::size_t findings = 0;
    for (const QString& f : {QStringLiteral("/kineto/hta_nccl_data_rank0of2.json.gz"), QStringLiteral("/nsys/nsys_ai_mock_rtx3080.sqlite"),
                             QStringLiteral("/kineto/hta_trace_diff_control_rank3of8.json.gz")}) {
      const QString run = import_real(dir_, QStringLiteral("findings.moetune"), {kData + f});
      QVERIFY(!run.isEmpty());
      auto data = analyzers::RunData::load(run.toStdString());
      QVERIFY(data);
      const auto result = analyzers::analyze(*data);
      findings += result.findings.size();
      for (const auto& fd : result.findings) {
        const auto rows = analyzers::evidence_rows(fd.evidence);
        QVERIFY(!rows.empty());
        for (const auto& row : rows)
          QVERIFY2(!QString::fromStdString(row.value).contains(kRawNumber), (row.label + ": " + row.value).c_str());
        QVERIFY2(!QString::fromStdString(fd.gain_basis).contains(kRawNumber), fd.gain_basis.c_str());
      }
      QFile::remove(run);
    }
    QVERIFY(findings >= 3);
  }

  // Lanes of every real trace: named from the trace, never by a raw negative or huge id.
  void lane_names_from_real_traces() {
    struct Case {
      QString file;
      QString thread;  // a thread name the trace carries ("" none expected)
    };
    const QList<Case> cases = {
        {kData + QStringLiteral("/kineto/hta_nccl_data_rank0of2.json.gz"), QStringLiteral("api · pt_")},
        {kData + QStringLiteral("/kineto/hta_trace_diff_control_rank3of8.json.gz"), QStringLiteral("api · python3.8")},
        {kData + QStringLiteral("/kineto/hta_sampled_rank0of128.json.gz"), QStringLiteral("api · python3.8")},
        {kData + QStringLiteral("/nsys/nsys_ai_mfu_2gpu_before.sqlite"), QStringLiteral("api · python")},
        {kData + QStringLiteral("/nsys/nsys_ai_mock_rtx3080.sqlite"), QString()},
    };
    const QRegularExpression negative(QStringLiteral("-\\d")), huge(QStringLiteral("\\d{8,}"));
    int n = 0;
    for (const auto& c : cases) {
      const QString run = import_real(dir_, QStringLiteral("lanes%1.moetune").arg(n++), {c.file});
      QVERIFY2(!run.isEmpty(), qPrintable(c.file));
      auto data = analyzers::RunData::load(run.toStdString());
      QVERIFY(data);
      const TimelineData tl = TimelineData::build(*data);
      QVERIFY(!tl.lanes.empty());
      bool thread_named = false;
      QStringList labels;
      for (const auto& l : tl.lanes) {
        const QString lab = QString::fromStdString(l.label);
        labels << lab;
        QVERIFY2(!lab.isEmpty(), qPrintable(c.file));
        QVERIFY2(!lab.contains(negative), qPrintable(c.file + QStringLiteral(": ") + lab));
        QVERIFY2(!lab.contains(huge), qPrintable(c.file + QStringLiteral(": ") + lab));
        QVERIFY2(!lab.startsWith(QStringLiteral("nvtx ")), qPrintable(lab));  // NVTX lanes carry their domain
        if (l.kind == LaneKind::Api && !c.thread.isEmpty() && lab.startsWith(c.thread)) thread_named = true;
      }
      if (!c.thread.isEmpty())
        QVERIFY2(thread_named, qPrintable(c.file + QStringLiteral(": ") + labels.join(QStringLiteral(" | "))));
    }
    // The Kineto trace with a negative thread id gets an ordinal, not the id.
    auto data = analyzers::RunData::load(dir_.filePath(QStringLiteral("lanes0.moetune")).toStdString());
    QVERIFY(data);
    bool negative_tid = false;
    for (const auto& a : data->api_calls) negative_tid = negative_tid || a.tid < 0;
    QVERIFY2(negative_tid, "the HTA rank-0 trace has a negative tid (-549452224): the ordinal case is not tested");
    // the event details name the thread too
    LoadedRun lr;
    lr.data = std::move(*data);
    lr.timeline = TimelineData::build(lr.data);
    bool named_detail = false;
    for (std::size_t l = 0; l < lr.timeline.lanes.size() && !named_detail; ++l)
      if (lr.timeline.lanes[l].kind == LaneKind::Api && lr.timeline.lanes[l].label.find("pt_main_thread") != std::string::npos)
        named_detail = event_details_html(lr, {int(l), 0}).contains(QStringLiteral("pt_main_thread (tid "));
    QVERIFY(named_detail);
    QCOMPARE(QString::fromLatin1(fold_noun(LaneKind::Compute)), QStringLiteral("kernels"));
    QCOMPARE(QString::fromLatin1(fold_noun(LaneKind::Nvtx)), QStringLiteral("ranges"));
  }

  // Typed metrics constructed here (synthetic): the analyzer's buckets and per-step buckets.
  void buckets_from_analyzer_keys_and_fallback() {
    std::vector<analyzers::RankMetrics> m;
    for (int r = 0; r < 2; ++r) {
      analyzers::RankMetrics row;
      row.rank = r, row.step_time_ms = 10.0;
      auto& b = row.buckets;
      b.compute_ms = 5.0, b.comm_transfer_ms = 1.0, b.comm_wait_ms = r == 1 ? 3.0 : 0.5, b.memcpy_h2d_ms = 0.2;
      b.memcpy_d2h_ms = 0.1, b.host_gap_long_ms = 0.4, b.host_gap_short_ms = 0.1, b.idle_ms = r == 1 ? 0.2 : 2.7;
      analyzers::StepBuckets s7;
      s7.step = 7, s7.step_time_ms = 10.0, s7.buckets.compute_ms = 4.0, s7.buckets.comm_wait_ms = 6.0;
      row.step_buckets.push_back(s7);
      m.push_back(row);
    }
    TimeBuckets b = buckets_from_metrics(m);
    QCOMPARE(b.ranks.size(), std::size_t(2));
    QCOMPARE(b.ranks[1].ms[kCommWait], 3.0);
    QVERIFY(std::abs(b.ranks[0].step_ms - 10.0) < 1e-9);
    QVERIFY(!b.step);
    TimeBuckets s = buckets_from_metrics(m, 7);
    QCOMPARE(s.step.value_or(-1), std::int64_t(7));
    QCOMPARE(s.ranks[0].ms[kCommWait], 6.0);
    QCOMPARE(s.ranks[0].step_ms, 10.0);
    TimeBuckets none = buckets_from_metrics(m, 99);  // a step the ranks lack: the means, step left empty
    QVERIFY(!none.step);
    QCOMPARE(none.ranks[1].ms[kCommWait], 3.0);

    // The Time tab: clicking rank 1's comm-wait segment emits it.
    TimeBucketsView v;
    v.resize(800, 300);
    v.show();
    v.set_buckets(std::make_shared<const TimeBuckets>(b));
    v.plot()->replot();
    QSignalSpy spy(&v, &TimeBucketsView::bucketClicked);
    const double x = v.plot()->xAxis->coordToPixel(5.0 + 1.0 + 1.5);  // middle of rank 1's comm wait (6..9 ms)
    const double y = v.plot()->yAxis->coordToPixel(1);
    QCOMPARE(v.bucket_at(QPointF(x, y)), std::make_pair(1, int(kCommWait)));
    QTest::mouseClick(v.plot(), Qt::LeftButton, {}, QPoint(int(x), int(y)));
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), 1);
    QCOMPARE(spy.at(0).at(1).toInt(), int(kCommWait));
  }

  // A real multi-rank run: the buckets reach the Time tab and the rank headers; a click
  // on a header bar highlights that bucket's lanes.
  void buckets_bar_on_a_real_run() {
    const QString run = dir_.filePath(QStringLiteral("mfu.moetune"));
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    w.open(run);
    QVERIFY(w.wait_loaded(120000));
    QVERIFY2(w.last_error().isEmpty(), qPrintable(w.last_error()));
    QVERIFY(w.result());
    const TimeBuckets* b = w.time_view()->buckets();
    QVERIFY(b);
    QCOMPARE(b->ranks.size(), std::size_t(2));
    for (const auto& r : b->ranks) {
      double sum = 0;
      for (double v : r.ms) sum += v;
      QVERIFY(r.step_ms > 0);
      QVERIFY(std::abs(sum - r.step_ms) < 1e-6 * std::max(1.0, r.step_ms));
    }
    // find rank 0's compute segment in its header bar
    TimelineView* tl = w.timeline();
    tl->repaint();
    QPoint hit(-1, -1);
    for (int y = TimelineView::kRulerHeight; y < tl->height() && hit.x() < 0; ++y)
      for (int x = TimelineView::kLabelWidth; x < tl->width(); x += 2)
        if (tl->bucket_at(QPoint(x, y)) == std::make_pair(0, int(kCompute))) { hit = QPoint(x, y); break; }
    QVERIFY2(hit.x() >= 0, "no compute segment in rank 0's header bar");
    QSignalSpy spy(tl, &TimelineView::bucketClicked);
    QTest::mouseClick(tl, Qt::LeftButton, {}, hit);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(tl->bucket_selection(), std::make_pair(0, int(kCompute)));
  }

  void palette_switch_reaches_timeline_and_plots() {
    MainWindow w;
    w.resize(1200, 800);
    w.show();
    w.open(dir_.filePath(QStringLiteral("mfu.moetune")));
    QVERIFY(w.wait_loaded(120000));
    const QPalette light = w.palette();
    QPalette dark = light;
    dark.setColor(QPalette::Base, QColor(30, 30, 30));
    dark.setColor(QPalette::Window, QColor(45, 45, 45));
    dark.setColor(QPalette::Text, QColor(230, 230, 230));
    dark.setColor(QPalette::WindowText, QColor(230, 230, 230));
    dark.setColor(QPalette::Button, QColor(50, 50, 50));
    dark.setColor(QPalette::ButtonText, QColor(230, 230, 230));
    w.setPalette(dark);
    QCoreApplication::processEvents();
    const QImage img = w.timeline()->grab().toImage();
    // the label column of the first lane (left of its text): the timeline's background
    const QPoint bg(5, TimelineView::kRulerHeight + TimelineView::kHeaderHeight + 4);
    const QColor corner = img.pixelColor(bg);
    QVERIFY2(corner.lightness() < 80, qPrintable(corner.name()));
    QCOMPARE(w.time_view()->plot()->xAxis->tickLabelColor(), QColor(230, 230, 230));
    w.setPalette(light);
    QCoreApplication::processEvents();
    const QImage img2 = w.timeline()->grab().toImage();
    QVERIFY(img2.pixelColor(bg).lightness() > 170);
    QCOMPARE(w.time_view()->plot()->xAxis->tickLabelColor(), light.color(QPalette::Text));
  }

  void help_menu_lists_shortcuts() {
    MainWindow w;
    QAction* help = nullptr;
    for (QAction* a : w.menuBar()->actions())
      if (a->text().remove(QLatin1Char('&')) == QStringLiteral("Help")) help = a;
    QVERIFY(help && help->menu());
    QAction* keys = nullptr;
    for (QAction* a : help->menu()->actions())
      if (a->text().remove(QLatin1Char('&')).contains(QStringLiteral("shortcuts"))) keys = a;
    QVERIFY(keys);
    QCOMPARE(keys->shortcut(), QKeySequence(Qt::Key_F1));
    const auto list = MainWindow::shortcut_list();
    QVERIFY(list.size() >= 10);
    keys->trigger();
    auto* box = w.findChild<QWidget*>(QStringLiteral("shortcuts"));
    QVERIFY(box);
  }

  void layout_is_remembered() {
    QList<int> saved;
    {
      MainWindow w;
      w.resize(1000, 900);
      w.show();
      QCoreApplication::processEvents();
      w.main_splitter()->setSizes({300, 560});  // the default gives the timeline most of the height
      w.tabs()->setCurrentIndex(3);
      QCoreApplication::processEvents();
      saved = w.main_splitter()->sizes();
      QVERIFY2(saved.value(1) > saved.value(0), qPrintable(QStringLiteral("%1/%2").arg(saved.value(0)).arg(saved.value(1))));
      w.save_settings();
    }
    MainWindow w2;
    w2.show();
    QCoreApplication::processEvents();
    QCOMPARE(w2.tabs()->currentIndex(), 3);
    QCOMPARE(w2.width(), 1000);  // the height may carry the platform's frame
    QVERIFY2(std::abs(w2.height() - 900) <= 40, qPrintable(QString::number(w2.height())));
    const auto sizes = w2.main_splitter()->sizes();
    QVERIFY2(std::abs(sizes.value(0) - saved.value(0)) <= 40 && sizes.value(1) > sizes.value(0),
             qPrintable(QStringLiteral("%1/%2").arg(sizes.value(0)).arg(sizes.value(1))));
  }

  void raw_traces_open_by_path_and_drop() {
    QTemporaryDir in;
    QVERIFY(in.isValid());
    const QString kin = in.filePath(QStringLiteral("trace_rank0.json.gz"));
    const QString nsys = in.filePath(QStringLiteral("job.sqlite"));
    QVERIFY(QFile::copy(kData + QStringLiteral("/kineto/hta_nccl_data_rank0of2.json.gz"), kin));
    QVERIFY(QFile::copy(kData + QStringLiteral("/nsys/nsys_ai_mfu_2gpu_before.sqlite"), nsys));
    QCOMPARE(classify_open_path(kin.toStdString()), OpenKind::RawTrace);
    QCOMPARE(classify_open_path(nsys.toStdString()), OpenKind::RawTrace);
    QCOMPARE(classify_open_path(dir_.filePath(QStringLiteral("mfu.moetune")).toStdString()), OpenKind::Run);

    MainWindow w;
    w.set_quiet_errors(true);
    w.resize(1200, 800);
    w.show();
    // by path: imported into "<name>.moetune" beside it
    w.open(kin);
    QVERIFY(w.wait_loaded(120000));
    QVERIFY2(w.last_error().isEmpty(), qPrintable(w.last_error()));
    QVERIFY(QFileInfo::exists(kin + QStringLiteral(".moetune")));
    QVERIFY(!w.importer()->last_plan().reuse);
    QVERIFY(w.run() && w.run()->timeline.event_count > 0);
    // again: the cache is reused
    w.open(kin);
    QVERIFY(w.wait_loaded(120000));
    QVERIFY(w.importer()->last_plan().reuse);
    QVERIFY(w.run() && !w.run()->data.kernels.empty());

    // by a drop event
    auto drop = [&](const QString& path) {
      QMimeData mime;
      mime.setUrls({QUrl::fromLocalFile(path)});
      QDragEnterEvent enter(QPoint(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
      QApplication::sendEvent(&w, &enter);
      QVERIFY(enter.isAccepted());
      QDropEvent ev(QPointF(50, 50), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
      QApplication::sendEvent(&w, &ev);
    };
    drop(nsys);
    QVERIFY(w.wait_loaded(120000));
    QVERIFY2(w.last_error().isEmpty(), qPrintable(w.last_error()));
    QVERIFY(QFileInfo::exists(nsys + QStringLiteral(".moetune")));
    QCOMPARE(w.run()->summary.ranks.size(), std::size_t(2));
    QVERIFY(w.run()->summary.path.string().ends_with("job.sqlite.moetune"));
    drop(kin);
    QVERIFY(w.wait_loaded(120000));
    QVERIFY(w.run()->summary.path.string().ends_with("trace_rank0.json.gz.moetune"));

    // a folder of rank files
    QTemporaryDir ranks;
    QVERIFY(QFile::copy(kData + QStringLiteral("/kineto/hta_sampled_rank0of128.json.gz"), ranks.filePath(QStringLiteral("rank0.json.gz"))));
    QVERIFY(QFile::copy(kData + QStringLiteral("/kineto/hta_sampled_rank1of128.json.gz"), ranks.filePath(QStringLiteral("rank1.json.gz"))));
    w.open(ranks.path());
    QVERIFY(w.wait_loaded(120000));
    QVERIFY2(w.last_error().isEmpty(), qPrintable(w.last_error()));
    QCOMPARE(w.run()->summary.ranks.size(), std::size_t(2));

    // .nsys-rep: one line saying what to run
    const QString rep = in.filePath(QStringLiteral("prof.nsys-rep"));
    QVERIFY(moetune::test::write_file(rep, "not a real report"));
    w.open(rep);
    QVERIFY(w.last_error().contains(QStringLiteral("nsys export --type sqlite")));
    QVERIFY(!w.last_error().contains(QLatin1Char('\n')));
    // a broken trace: the error names the file, the cache is not left behind
    const QString bad = in.filePath(QStringLiteral("bad.json"));
    QVERIFY(moetune::test::write_file(bad, "{\"traceEvents\": [ {\"ph\": "));
    w.open(bad);
    QVERIFY(w.wait_loaded(120000));
    QVERIFY(w.last_error().contains(QStringLiteral("bad.json")));
    QVERIFY(!QFileInfo::exists(bad + QStringLiteral(".moetune")));
  }

  void cache_goes_to_cache_dir_when_folder_is_read_only() {
    const fs::path src = QString(kData + QStringLiteral("/kineto/hta_sampled_rank1of128.json.gz")).toStdString();
    const ImportPlan p = plan_import(src);  // ../shared/data is read-only
    QVERIFY(p.error.isEmpty());
    QVERIFY2(p.cache.parent_path() != src.parent_path(), p.cache.c_str());
    QVERIFY(p.cache.filename().string().ends_with("hta_sampled_rank1of128.json.gz.moetune"));
  }
};

QTEST_MAIN(GuiDailyTest)
#include "gui_daily_test.moc"
