// SPDX-License-Identifier: Apache-2.0
// Apply -> relaunch -> before/after on the offscreen platform, without a GPU: the
// "before" run is recorded with `moetune record` around moetune_fake_job (a workload
// whose all-reduce is 40 % of a 20 ms step, 20 % with NCCL_ALGO=Ring); the apply dialog
// relaunches the recorded command with a profile setting NCCL_ALGO=Ring through
// `moetune apply --record`, and the comparison view must show both runs with the step
// times the fake job is defined to produce (20 ms before, 16 ms after).
#include <QProcess>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include "moetune/ui/apply_dialog.h"
#include "moetune/ui/comparison_view.h"
#include "moetune/ui/main_window.h"
#include "moetune/ui/run_loader.h"
#include "moetune/ui/timeline_view.h"

using namespace moetune;
using namespace moetune::ui;

class GuiRelaunchTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void relaunch_records_and_compares() {
#ifndef MOETUNE_FAKE_JOB
    QSKIP("built without moetune_live: no record/apply loop");
#else
    const QString before = dir_.filePath(QStringLiteral("before.moetune"));
    const QString job = QStringLiteral(MOETUNE_FAKE_JOB);
    QProcess rec;
    rec.setProcessChannelMode(QProcess::MergedChannels);
    rec.start(QStringLiteral(MOETUNE_CLI), {QStringLiteral("record"), QStringLiteral("-o"), before, QStringLiteral("--"), job,
                                           QStringLiteral("12"), QStringLiteral("20000")});
    QVERIFY(rec.waitForFinished(60000));
    QVERIFY2(rec.exitCode() == 0 && QFileInfo::exists(before), rec.readAll().constData());

    MainWindow w;
    w.open(before);
    QVERIFY(w.loader()->wait(60000));
    QVERIFY2(w.last_error().isEmpty(), qPrintable(w.last_error()));
    QVERIFY(w.result());
    auto r = std::make_shared<analyzers::AnalysisResult>(*w.result());
    analyzers::Finding f;
    f.id = "global_sync-1";
    f.kind = analyzers::FindingKind::GlobalSync;
    f.title = "all-reduce algorithm";
    f.recommendation.fixes = {{"env", {{"name", "NCCL_ALGO"}, {"value", "Ring"}}}};
    r->findings = {f};
    ApplyDialog d(w.run(), r, 0, &w);
    d.set_cli(QStringLiteral(MOETUNE_CLI));
    QCOMPARE(d.recorded_command(), job + QStringLiteral(" 12 20000"));
    QSignalSpy opened(&d, &ApplyDialog::comparisonOpened);
    QSignalSpy failed(&d, &ApplyDialog::relaunchFailed);
    d.relaunch();
    QTRY_VERIFY2_WITH_TIMEOUT(opened.count() == 1 || failed.count() > 0, qPrintable(d.log_text()), 120000);
    QVERIFY2(failed.isEmpty(), qPrintable(d.log_text()));
    QVERIFY(QFileInfo::exists(d.after_path()));
    auto* view = d.comparison();
    QVERIFY(view);
    QVERIFY(view->isVisible());
    // Both runs with their step times, from the diff of the two recorded runs.
    const auto& diff = view->diff();
    QVERIFY2(diff["step_time_ms"]["before"].is_number(), diff.dump().c_str());
    const double b = diff["step_time_ms"]["before"].get<double>(), a = diff["step_time_ms"]["after"].get<double>();
    QVERIFY2(std::abs(b - 20.0) < 0.01, qPrintable(QString::number(b)));
    QVERIFY2(std::abs(a - 16.0) < 0.01, qPrintable(QString::number(a)));
    QVERIFY(view->header_text(0).contains(QStringLiteral("step time 20.000 ms")));
    QVERIFY(view->header_text(1).contains(QStringLiteral("step time 16.000 ms")));
    QVERIFY(view->header_text(1).contains(QStringLiteral("before-after.moetune")));
    QCOMPARE(view->table()->item(0, 0)->text(), QStringLiteral("step time"));
    QCOMPARE(view->table()->item(0, 1)->text(), QStringLiteral("20.000 ms"));
    QCOMPARE(view->table()->item(0, 2)->text(), QStringLiteral("16.000 ms"));
    QCOMPARE(view->table()->item(0, 3)->text(), QStringLiteral("-20.0 %"));
    for (int s = 0; s < 2; ++s) {  // 12 steps x (2 kernels + 1 step row) on each side
      view->timeline(s)->repaint();
      QVERIFY(view->timeline(s)->last_item_count() > 0);
    }
    // The after run carries the profile's env and the recorded command.
    auto after = RunLoader::read_summary(d.after_path().toStdString());
    QVERIFY(after.ok());
    QVERIFY(after->meta.count("command"));
    QVERIFY(QString::fromStdString(after->meta.at("command")).contains(QStringLiteral("moetune_fake_job 12 20000")));
#endif
  }

  void relaunch_without_recorded_command_says_why() {
    QTemporaryDir d2;
    // A synth run records no command: relaunch is refused with a reason, nothing runs.
    MainWindow w;
    auto lr = std::make_shared<LoadedRun>();
    lr->summary.path = d2.filePath(QStringLiteral("x.moetune")).toStdString();
    auto res = std::make_shared<analyzers::AnalysisResult>();
    ApplyDialog d(lr, res, -1, &w);
    QVERIFY(d.recorded_command().isEmpty());
    QSignalSpy failed(&d, &ApplyDialog::relaunchFailed);
    d.relaunch();
    QCOMPARE(failed.count(), 1);
    QVERIFY(failed.first().first().toString().contains(QStringLiteral("no recorded command")));
  }
};

QTEST_MAIN(GuiRelaunchTest)
#include "gui_relaunch_test.moc"
