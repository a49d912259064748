// SPDX-License-Identifier: Apache-2.0
// Issue 15 item 2 in the GUI: opening a real run with ONE damaged table shows a dialog
// that names the file and the table (offscreen platform). The run is the nsys 2-GPU
// export of /work/shared/data imported by the CLI; the damage: the nccl_ops root page
// overwritten (found on open by quick_check), and an nvtx table whose rows fail while
// read (found by the full load, as on a file too large for the open check).
#include <QMessageBox>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

#include "../common/damage_store.h"
#include "../common/run_command.h"
#include "moetune/ui/main_window.h"
#include "moetune/ui/run_loader.h"

using namespace moetune;
using namespace moetune::ui;

class GuiDamagedStoreTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString run_;

  QString copy_of_run(const QString& name) {
    const QString p = dir_.filePath(name);
    QFile::remove(p);
    return QFile::copy(run_, p) ? p : QString();
  }

  // Opens `file` and returns the dialog's text once the load failed ("" if it did not).
  QString dialog_text_for(const QString& file) {
    MainWindow w;
    w.show();
    w.open(file);
    if (!w.loader()->wait(120000)) return {};
    if (!w.error_box()) return {};
    if (!QTest::qWaitFor([&] { return w.error_box()->isVisible(); }, 10000)) return {};
    return w.error_box()->informativeText();
  }

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    run_ = dir_.filePath(QStringLiteral("nsys2.moetune"));
    auto r = test::run_command(std::string(MOETUNE_CLI) + " import " + MOETUNE_SHARED_DATA +
                               "/external/nsys/nsys_ai_mfu_2gpu_before.sqlite -o " + run_.toStdString());
    QVERIFY2(r.rc == 0, r.out.c_str());
  }

  void undamaged_run_opens_without_a_dialog() {
    MainWindow w;
    w.show();
    w.open(run_);
    QVERIFY(w.loader()->wait(120000));
    QVERIFY2(w.last_error().isEmpty(), qPrintable(w.last_error()));
    QVERIFY(!w.error_box() || !w.error_box()->isVisible());
  }

  void damaged_page_dialog_names_the_table() {
    const QString p = copy_of_run(QStringLiteral("root.moetune"));
    QVERIFY(!p.isEmpty());
    QCOMPARE(QString::fromStdString(test::smash_table_root(p.toStdString(), "nccl_ops")), QString());
    const QString text = dialog_text_for(p);
    QVERIFY2(text.startsWith(p + QStringLiteral(": damaged store: table nccl_ops (")), qPrintable(text));
    QVERIFY2(!text.contains(QLatin1Char('\n')), qPrintable(text));
  }

  void rows_failing_while_read_dialog_names_the_table() {
    const QString p = copy_of_run(QStringLiteral("read.moetune"));
    QVERIFY(!p.isEmpty());
    QCOMPARE(QString::fromStdString(
                 test::fail_table_on_read(p.toStdString(), "nvtx", "id,rank,tid,start_ns,dur_ns,name_id,domain_id,payload")),
             QString());
    const QString text = dialog_text_for(p);
    QCOMPARE(text, p + QStringLiteral(": table nvtx: integer overflow"));
  }
};

QTEST_MAIN(GuiDamagedStoreTest)
#include "gui_damaged_store_test.moc"
