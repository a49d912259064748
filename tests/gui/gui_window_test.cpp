// SPDX-License-Identifier: Apache-2.0
// Window tests on the offscreen platform: loading a synth run off the GUI thread,
// findings selection zooming the timeline, replay stepping, search, bad input
// (non-trace, corrupt, newer-format files) giving an error text while the window
// stays usable, and the exports.
#include <QFile>
#include <QMessageBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>
#include <sqlite3.h>

#include "fixtures.h"
#include "moetune/ui/apply_dialog.h"
#include "moetune/ui/attach_dialog.h"
#ifdef MOETUNE_UI_HAS_LIVE
#include <unistd.h>

#include <atomic>

#include "moetune/live/control.h"
#endif
#include "moetune/ui/findings_model.h"
#include "moetune/ui/main_window.h"
#include "moetune/ui/replay_controller.h"
#include "moetune/ui/run_loader.h"
#include "moetune/ui/timeline_view.h"
#include "moetune/ui/zoom_state.h"

using namespace moetune;
using namespace moetune::ui;

class GuiWindowTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString run_;

  bool load(MainWindow& w, const QString& p) {
    w.open(p);
    return w.loader()->wait(120000);
  }

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    run_ = test::make_synth_run(dir_, "run.moetune", 4, 6, "straggler:2");
    QVERIFY(!run_.isEmpty());
  }

  void loads_run_and_paints() {
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    QVERIFY(load(w, run_));
    QVERIFY2(w.last_error().isEmpty(), qPrintable(w.last_error()));
    QVERIFY(w.run());
    QVERIFY(w.result());
    QCOMPARE(w.run()->timeline.groups.size(), std::size_t(4));
    w.timeline()->repaint();
    QVERIFY(w.timeline()->last_item_count() > 0);
    QCOMPARE(w.zoom()->t0(), w.run()->timeline.t_begin);
  }

  void findings_selection_zooms_to_range() {
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    QVERIFY(load(w, run_));
    // A result with a known finding, so the check does not depend on what the analyzers find.
    auto r = std::make_shared<analyzers::AnalysisResult>();
    analyzers::Finding f;
    f.title = "test";
    f.kind = analyzers::FindingKind::Straggler;
    f.ranks = {2};
    const std::int64_t b = w.run()->timeline.t_begin;
    const std::int64_t span = w.run()->timeline.t_end - b;
    f.time_ranges = {{b + span / 4, b + span / 4 + span / 20}, {b + span / 3, b + span / 3 + span / 50}};
    r->findings = {f};
    w.findings()->set_result(r);
    w.select_finding(0);
    const std::int64_t lo = b + span / 4, hi = b + span / 3 + span / 50;
    QVERIFY(w.zoom()->t0() <= lo && w.zoom()->t1() >= hi);
    QVERIFY(w.zoom()->t1() - w.zoom()->t0() < (hi - lo) * 2);
    QCOMPARE(w.zoom()->highlighted_ranks(), std::set<int>({2}));
    // The real analyzers' findings select without crashing and zoom into their ranges.
    w.findings()->set_result(w.result());
    for (int i = 0; i < w.findings()->rowCount(); ++i) {
      w.select_finding(i);
      const auto* g = w.findings()->finding(i);
      if (!g->time_ranges.empty()) QVERIFY(w.zoom()->t0() <= g->time_ranges.front().end_ns);
    }
  }

  void replay_advances_steps() {
    MainWindow w;
    w.show();
    QVERIFY(load(w, run_));
    auto* rp = w.replay();
    QCOMPARE(rp->steps().size(), std::size_t(6));
    QSignalSpy spy(w.zoom(), &ZoomState::stepChanged);
    rp->step_forward();
    QCOMPARE(rp->index(), 0);
    rp->step_forward();
    QCOMPARE(rp->index(), 1);
    QCOMPARE(w.zoom()->current_step(), rp->steps()[1].step);
    QCOMPARE(w.zoom()->cursor(), rp->steps()[1].t0);
    QVERIFY(w.zoom()->t0() <= rp->steps()[1].t0 && w.zoom()->t1() >= rp->steps()[1].t1);
    rp->tick(0.5);  // half a step at 1 step/s
    QVERIFY(w.zoom()->cursor() > rp->steps()[1].t0 && w.zoom()->cursor() < rp->steps()[1].t1);
    rp->tick(0.6);  // past the end: next step
    QCOMPARE(rp->index(), 2);
    rp->step_back();
    QCOMPARE(rp->index(), 1);
    QVERIFY(spy.count() >= 4);
    rp->play();
    QVERIFY(rp->playing());
    QTRY_VERIFY_WITH_TIMEOUT(rp->index() >= 2, 3000);  // the timer drives it
    rp->pause();
    QVERIFY(!rp->playing());
  }

  void search_finds_events() {
    MainWindow w;
    w.show();
    QVERIFY(load(w, run_));
    QVERIFY(w.timeline()->find_next(QStringLiteral("nccl")));
    const EventRef a = w.timeline()->selected();
    QVERIFY(a.valid());
    const auto& e = w.run()->timeline.lanes[std::size_t(a.lane)].events[std::size_t(a.index)];
    QVERIFY(QString::fromStdString(w.run()->timeline.names[e.name]).contains(QStringLiteral("nccl"), Qt::CaseInsensitive));
    QVERIFY(w.zoom()->t0() <= e.start && w.zoom()->t1() >= e.end());
    QVERIFY(w.timeline()->find_next(QStringLiteral("nccl")));
    const EventRef b = w.timeline()->selected();
    const auto& e2 = w.run()->timeline.lanes[std::size_t(b.lane)].events[std::size_t(b.index)];
    QVERIFY(e2.start > e.start);
    QVERIFY(!w.timeline()->find_next(QStringLiteral("no-such-kernel-name-xyz")));
  }

  void bad_input_shows_error_and_window_stays_usable_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("expect");
    const QString text = dir_.filePath(QStringLiteral("notes.txt"));
    QVERIFY(moetune::test::write_file(text, "this is not a trace\n"));
    const QString corrupt = dir_.filePath(QStringLiteral("corrupt.moetune"));
    QFile::copy(run_, corrupt);
    {
      QFile c(corrupt);
      QVERIFY(c.open(QIODevice::ReadWrite));
      c.seek(100);
      c.write(QByteArray(4096, '\xAB'));  // smash the schema page
    }
    const QString newer = dir_.filePath(QStringLiteral("newer.moetune"));
    QFile::copy(run_, newer);
    QFile::setPermissions(newer, QFile::ReadOwner | QFile::WriteOwner);
    sqlite3* db = nullptr;
    QCOMPARE(sqlite3_open(newer.toUtf8().constData(), &db), SQLITE_OK);
    QCOMPARE(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    QTest::newRow("not a trace") << text << text;
    QTest::newRow("corrupt") << corrupt << corrupt;
    QTest::newRow("newer format") << newer << newer;
    QTest::newRow("missing") << dir_.filePath(QStringLiteral("nope.moetune")) << QStringLiteral("no such file");
  }
  void bad_input_shows_error_and_window_stays_usable() {
    QFETCH(QString, file);
    QFETCH(QString, expect);
    MainWindow w;
    w.show();
    QVERIFY(load(w, run_));
    const auto before = w.run();
    QVERIFY(load(w, file));
    QVERIFY(!w.last_error().isEmpty());
    QVERIFY2(w.last_error().contains(expect), qPrintable(w.last_error()));
    QVERIFY(w.error_box());
    QTRY_VERIFY(w.error_box()->isVisible());
    QCOMPARE(w.error_box()->informativeText(), w.last_error());
    QCOMPARE(w.run(), before);  // the previous run is still shown
    w.error_box()->accept();
    QVERIFY(load(w, run_));     // and the window still opens runs
    QVERIFY(w.last_error().isEmpty());
    QVERIFY(w.run() != before);
  }

  void apply_writes_the_expected_profile() {
    MainWindow w;
    QVERIFY(load(w, run_));
    auto r = std::make_shared<analyzers::AnalysisResult>();
    analyzers::Finding f;
    f.id = "global_sync-1";
    f.kind = analyzers::FindingKind::GlobalSync;
    f.severity = analyzers::FindingSeverity::High;
    f.recommendation.text = "use Ring for the gradient all-reduce";
    f.recommendation.fixes = {{"env", {{"name", "NCCL_ALGO"}, {"value", "Ring"}, {"scope", "AllReduce"}}}};
    analyzers::Finding g = f;
    g.id = "comm_precision-1";
    g.kind = analyzers::FindingKind::CommPrecision;
    g.recommendation.fixes = {{"flag", {{"name", "--comm-dtype"}, {"value", "bf16"}}}};
    r->findings = {f, g};
    ApplyDialog one(w.run(), r, 0);
    QCOMPARE(one.profile().env.size(), std::size_t(1));
    QCOMPARE(one.profile().env.at("NCCL_ALGO"), std::string("Ring"));
    QVERIFY(one.profile().flags.empty());
    QCOMPARE(one.diff_rows(), 1);
    ApplyDialog all(w.run(), r, -1);
    QVERIFY(all.diff_rows() >= 2);
    const QString path = dir_.filePath(QStringLiteral("profile.json"));
    QString err;
    QVERIFY2(all.save(path, &err), qPrintable(err));
    auto back = analyzers::read_profile(path.toStdString());
    QVERIFY2(back.ok(), back.ok() ? "" : back.error().message.c_str());
    QCOMPARE(back->env.at("NCCL_ALGO"), std::string("Ring"));
    QVERIFY(std::find(back->flags.begin(), back->flags.end(), std::string("bf16")) != back->flags.end());
    QVERIFY(!all.save(QStringLiteral("/nonexistent-dir/p.json"), &err));
    QVERIFY(!err.isEmpty());
  }

  void attach_lists_and_controls_armed_process() {
#ifdef MOETUNE_UI_HAS_LIVE
    std::atomic<int> starts{0}, stops{0};
    auto server = live::ControlServer::start("guitest", [&](live::Verb v) {
      if (v == live::Verb::Start) ++starts;
      if (v == live::Verb::Stop) ++stops;
      live::CaptureStatus s;
      s.capturing = starts > stops;
      return s;
    });
    QVERIFY2(server.ok(), server.ok() ? "" : server.error().message.c_str());
    AttachDialog d;
    QVERIFY(d.process_count() >= 1);
    int row = -1;  // ours is listed: find it by pid and component
    auto* t = d.findChild<QTableWidget*>();
    QVERIFY(t);
    for (int i = 0; i < t->rowCount(); ++i)
      if (t->item(i, 0)->text() == QString::number(::getpid()) && t->item(i, 1)->text() == QStringLiteral("guitest")) row = i;
    QVERIFY(row >= 0);
    QVERIFY(t->item(row, 2)->text().startsWith(QStringLiteral("ok capturing=0")));
    QVERIFY(d.send(row, true).startsWith(QStringLiteral("ok capturing=1")));
    QCOMPARE(starts.load(), 1);
    QVERIFY(d.send(row, false).startsWith(QStringLiteral("ok capturing=0")));
    QCOMPARE(stops.load(), 1);
    (*server)->stop();
#else
    QSKIP("built without moetune_live");
#endif
  }

  void exports_write_files() {
    MainWindow w;
    w.resize(1200, 800);
    w.show();
    QVERIFY(load(w, run_));
    const QString png = dir_.filePath(QStringLiteral("tl.png"));
    QVERIFY(w.export_timeline(png));
    QImage img(png);
    QVERIFY(!img.isNull() && img.width() > 100);
    const QString pdf = dir_.filePath(QStringLiteral("tl.pdf"));
    QVERIFY(w.export_timeline(pdf));
    QFile p(pdf);
    QVERIFY(p.open(QIODevice::ReadOnly));
    QVERIFY(p.read(5) == "%PDF-");
    const QString html = dir_.filePath(QStringLiteral("report.html"));
    QVERIFY2(w.export_report(html), qPrintable(w.last_error()));
    QFile h(html);
    QVERIFY(h.open(QIODevice::ReadOnly));
    const QByteArray body = h.readAll();
    QVERIFY(body.contains("data:image/png;base64,"));
    QVERIFY(body.contains("moetune report"));
    const QString rpdf = dir_.filePath(QStringLiteral("report.pdf"));
    QVERIFY2(w.export_report(rpdf), qPrintable(w.last_error()));
    QVERIFY(QFileInfo(rpdf).size() > 1000);
    QVERIFY(!w.export_report(QStringLiteral("/nonexistent-dir/x.html")));
    QVERIFY(w.last_error().contains(QStringLiteral("/nonexistent-dir/x.html")));
  }
};

QTEST_MAIN(GuiWindowTest)
#include "gui_window_test.moc"
